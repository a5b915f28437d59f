from kuzet.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PixelFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PIXEL_FORMAT_UNSPECIFIED: _ClassVar[PixelFormat]
    PIXEL_FORMAT_BGR24: _ClassVar[PixelFormat]
    PIXEL_FORMAT_RGB24: _ClassVar[PixelFormat]

class ObjectClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OBJECT_CLASS_UNSPECIFIED: _ClassVar[ObjectClass]
    OBJECT_CLASS_PERSON: _ClassVar[ObjectClass]
    OBJECT_CLASS_BICYCLE: _ClassVar[ObjectClass]
    OBJECT_CLASS_CAR: _ClassVar[ObjectClass]
    OBJECT_CLASS_MOTORCYCLE: _ClassVar[ObjectClass]
    OBJECT_CLASS_BUS: _ClassVar[ObjectClass]
    OBJECT_CLASS_TRUCK: _ClassVar[ObjectClass]
    OBJECT_CLASS_BOAT: _ClassVar[ObjectClass]

class QualityIssue(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUALITY_ISSUE_UNSPECIFIED: _ClassVar[QualityIssue]
    QUALITY_ISSUE_TOO_SMALL: _ClassVar[QualityIssue]
    QUALITY_ISSUE_BLURRY: _ClassVar[QualityIssue]
    QUALITY_ISSUE_POSE: _ClassVar[QualityIssue]

class BodyPart(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BODY_PART_UNSPECIFIED: _ClassVar[BodyPart]
    BODY_PART_NOSE: _ClassVar[BodyPart]
    BODY_PART_LEFT_EYE: _ClassVar[BodyPart]
    BODY_PART_RIGHT_EYE: _ClassVar[BodyPart]
    BODY_PART_LEFT_EAR: _ClassVar[BodyPart]
    BODY_PART_RIGHT_EAR: _ClassVar[BodyPart]
    BODY_PART_LEFT_SHOULDER: _ClassVar[BodyPart]
    BODY_PART_RIGHT_SHOULDER: _ClassVar[BodyPart]
    BODY_PART_LEFT_ELBOW: _ClassVar[BodyPart]
    BODY_PART_RIGHT_ELBOW: _ClassVar[BodyPart]
    BODY_PART_LEFT_WRIST: _ClassVar[BodyPart]
    BODY_PART_RIGHT_WRIST: _ClassVar[BodyPart]
    BODY_PART_LEFT_HIP: _ClassVar[BodyPart]
    BODY_PART_RIGHT_HIP: _ClassVar[BodyPart]
    BODY_PART_LEFT_KNEE: _ClassVar[BodyPart]
    BODY_PART_RIGHT_KNEE: _ClassVar[BodyPart]
    BODY_PART_LEFT_ANKLE: _ClassVar[BodyPart]
    BODY_PART_RIGHT_ANKLE: _ClassVar[BodyPart]

class ModelTask(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_TASK_UNSPECIFIED: _ClassVar[ModelTask]
    MODEL_TASK_OBJECT_DETECTION: _ClassVar[ModelTask]
    MODEL_TASK_FACE_DETECTION: _ClassVar[ModelTask]
    MODEL_TASK_FACE_EMBEDDING: _ClassVar[ModelTask]
    MODEL_TASK_POSE_ESTIMATION: _ClassVar[ModelTask]
    MODEL_TASK_TEXT_DETECTION: _ClassVar[ModelTask]
    MODEL_TASK_TEXT_RECOGNITION: _ClassVar[ModelTask]

class ModelState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_STATE_UNSPECIFIED: _ClassVar[ModelState]
    MODEL_STATE_READY: _ClassVar[ModelState]
    MODEL_STATE_UNAVAILABLE: _ClassVar[ModelState]
PIXEL_FORMAT_UNSPECIFIED: PixelFormat
PIXEL_FORMAT_BGR24: PixelFormat
PIXEL_FORMAT_RGB24: PixelFormat
OBJECT_CLASS_UNSPECIFIED: ObjectClass
OBJECT_CLASS_PERSON: ObjectClass
OBJECT_CLASS_BICYCLE: ObjectClass
OBJECT_CLASS_CAR: ObjectClass
OBJECT_CLASS_MOTORCYCLE: ObjectClass
OBJECT_CLASS_BUS: ObjectClass
OBJECT_CLASS_TRUCK: ObjectClass
OBJECT_CLASS_BOAT: ObjectClass
QUALITY_ISSUE_UNSPECIFIED: QualityIssue
QUALITY_ISSUE_TOO_SMALL: QualityIssue
QUALITY_ISSUE_BLURRY: QualityIssue
QUALITY_ISSUE_POSE: QualityIssue
BODY_PART_UNSPECIFIED: BodyPart
BODY_PART_NOSE: BodyPart
BODY_PART_LEFT_EYE: BodyPart
BODY_PART_RIGHT_EYE: BodyPart
BODY_PART_LEFT_EAR: BodyPart
BODY_PART_RIGHT_EAR: BodyPart
BODY_PART_LEFT_SHOULDER: BodyPart
BODY_PART_RIGHT_SHOULDER: BodyPart
BODY_PART_LEFT_ELBOW: BodyPart
BODY_PART_RIGHT_ELBOW: BodyPart
BODY_PART_LEFT_WRIST: BodyPart
BODY_PART_RIGHT_WRIST: BodyPart
BODY_PART_LEFT_HIP: BodyPart
BODY_PART_RIGHT_HIP: BodyPart
BODY_PART_LEFT_KNEE: BodyPart
BODY_PART_RIGHT_KNEE: BodyPart
BODY_PART_LEFT_ANKLE: BodyPart
BODY_PART_RIGHT_ANKLE: BodyPart
MODEL_TASK_UNSPECIFIED: ModelTask
MODEL_TASK_OBJECT_DETECTION: ModelTask
MODEL_TASK_FACE_DETECTION: ModelTask
MODEL_TASK_FACE_EMBEDDING: ModelTask
MODEL_TASK_POSE_ESTIMATION: ModelTask
MODEL_TASK_TEXT_DETECTION: ModelTask
MODEL_TASK_TEXT_RECOGNITION: ModelTask
MODEL_STATE_UNSPECIFIED: ModelState
MODEL_STATE_READY: ModelState
MODEL_STATE_UNAVAILABLE: ModelState

class RawImage(_message.Message):
    __slots__ = ("width", "height", "format", "data")
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    width: int
    height: int
    format: PixelFormat
    data: bytes
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ..., format: _Optional[_Union[PixelFormat, str, int]] = ..., data: _Optional[bytes] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ("encoded", "raw")
    ENCODED_FIELD_NUMBER: _ClassVar[int]
    RAW_FIELD_NUMBER: _ClassVar[int]
    encoded: bytes
    raw: RawImage
    def __init__(self, encoded: _Optional[bytes] = ..., raw: _Optional[_Union[RawImage, _Mapping]] = ...) -> None: ...

class ModelRef(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class DetectObjectsRequest(_message.Message):
    __slots__ = ("images", "min_score", "classes", "model")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedCompositeFieldContainer[Image]
    min_score: float
    classes: _containers.RepeatedScalarFieldContainer[ObjectClass]
    model: str
    def __init__(self, images: _Optional[_Iterable[_Union[Image, _Mapping]]] = ..., min_score: _Optional[float] = ..., classes: _Optional[_Iterable[_Union[ObjectClass, str, int]]] = ..., model: _Optional[str] = ...) -> None: ...

class DetectedObject(_message.Message):
    __slots__ = ("box", "score", "object_class", "class_name")
    BOX_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    OBJECT_CLASS_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    box: _common_pb2.Box
    score: float
    object_class: ObjectClass
    class_name: str
    def __init__(self, box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., score: _Optional[float] = ..., object_class: _Optional[_Union[ObjectClass, str, int]] = ..., class_name: _Optional[str] = ...) -> None: ...

class ImageObjects(_message.Message):
    __slots__ = ("objects", "image_width", "image_height")
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[DetectedObject]
    image_width: int
    image_height: int
    def __init__(self, objects: _Optional[_Iterable[_Union[DetectedObject, _Mapping]]] = ..., image_width: _Optional[int] = ..., image_height: _Optional[int] = ...) -> None: ...

class DetectObjectsResponse(_message.Message):
    __slots__ = ("results", "model")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ImageObjects]
    model: ModelRef
    def __init__(self, results: _Optional[_Iterable[_Union[ImageObjects, _Mapping]]] = ..., model: _Optional[_Union[ModelRef, _Mapping]] = ...) -> None: ...

class DetectFacesRequest(_message.Message):
    __slots__ = ("images", "min_score", "max_faces", "model")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    MAX_FACES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedCompositeFieldContainer[Image]
    min_score: float
    max_faces: int
    model: str
    def __init__(self, images: _Optional[_Iterable[_Union[Image, _Mapping]]] = ..., min_score: _Optional[float] = ..., max_faces: _Optional[int] = ..., model: _Optional[str] = ...) -> None: ...

class DetectedFace(_message.Message):
    __slots__ = ("box", "score", "landmarks")
    BOX_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    LANDMARKS_FIELD_NUMBER: _ClassVar[int]
    box: _common_pb2.Box
    score: float
    landmarks: _containers.RepeatedCompositeFieldContainer[_common_pb2.Point]
    def __init__(self, box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., score: _Optional[float] = ..., landmarks: _Optional[_Iterable[_Union[_common_pb2.Point, _Mapping]]] = ...) -> None: ...

class ImageFaces(_message.Message):
    __slots__ = ("faces", "image_width", "image_height")
    FACES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    faces: _containers.RepeatedCompositeFieldContainer[DetectedFace]
    image_width: int
    image_height: int
    def __init__(self, faces: _Optional[_Iterable[_Union[DetectedFace, _Mapping]]] = ..., image_width: _Optional[int] = ..., image_height: _Optional[int] = ...) -> None: ...

class DetectFacesResponse(_message.Message):
    __slots__ = ("results", "model")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ImageFaces]
    model: ModelRef
    def __init__(self, results: _Optional[_Iterable[_Union[ImageFaces, _Mapping]]] = ..., model: _Optional[_Union[ModelRef, _Mapping]] = ...) -> None: ...

class FaceToEmbed(_message.Message):
    __slots__ = ("image_index", "landmarks", "box")
    IMAGE_INDEX_FIELD_NUMBER: _ClassVar[int]
    LANDMARKS_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    image_index: int
    landmarks: _containers.RepeatedCompositeFieldContainer[_common_pb2.Point]
    box: _common_pb2.Box
    def __init__(self, image_index: _Optional[int] = ..., landmarks: _Optional[_Iterable[_Union[_common_pb2.Point, _Mapping]]] = ..., box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ...) -> None: ...

class EmbedFacesRequest(_message.Message):
    __slots__ = ("images", "faces", "model", "return_aligned_crops")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    RETURN_ALIGNED_CROPS_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedCompositeFieldContainer[Image]
    faces: _containers.RepeatedCompositeFieldContainer[FaceToEmbed]
    model: str
    return_aligned_crops: bool
    def __init__(self, images: _Optional[_Iterable[_Union[Image, _Mapping]]] = ..., faces: _Optional[_Iterable[_Union[FaceToEmbed, _Mapping]]] = ..., model: _Optional[str] = ..., return_aligned_crops: _Optional[bool] = ...) -> None: ...

class FaceQuality(_message.Message):
    __slots__ = ("score", "size_score", "blur_score", "pose_score", "issues", "inter_eye_px", "sharpness", "yaw_asymmetry", "roll_deg")
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SIZE_SCORE_FIELD_NUMBER: _ClassVar[int]
    BLUR_SCORE_FIELD_NUMBER: _ClassVar[int]
    POSE_SCORE_FIELD_NUMBER: _ClassVar[int]
    ISSUES_FIELD_NUMBER: _ClassVar[int]
    INTER_EYE_PX_FIELD_NUMBER: _ClassVar[int]
    SHARPNESS_FIELD_NUMBER: _ClassVar[int]
    YAW_ASYMMETRY_FIELD_NUMBER: _ClassVar[int]
    ROLL_DEG_FIELD_NUMBER: _ClassVar[int]
    score: float
    size_score: float
    blur_score: float
    pose_score: float
    issues: _containers.RepeatedScalarFieldContainer[QualityIssue]
    inter_eye_px: float
    sharpness: float
    yaw_asymmetry: float
    roll_deg: float
    def __init__(self, score: _Optional[float] = ..., size_score: _Optional[float] = ..., blur_score: _Optional[float] = ..., pose_score: _Optional[float] = ..., issues: _Optional[_Iterable[_Union[QualityIssue, str, int]]] = ..., inter_eye_px: _Optional[float] = ..., sharpness: _Optional[float] = ..., yaw_asymmetry: _Optional[float] = ..., roll_deg: _Optional[float] = ...) -> None: ...

class FaceEmbedding(_message.Message):
    __slots__ = ("vector", "quality", "model", "aligned_crop_jpeg")
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ALIGNED_CROP_JPEG_FIELD_NUMBER: _ClassVar[int]
    vector: _containers.RepeatedScalarFieldContainer[float]
    quality: FaceQuality
    model: ModelRef
    aligned_crop_jpeg: bytes
    def __init__(self, vector: _Optional[_Iterable[float]] = ..., quality: _Optional[_Union[FaceQuality, _Mapping]] = ..., model: _Optional[_Union[ModelRef, _Mapping]] = ..., aligned_crop_jpeg: _Optional[bytes] = ...) -> None: ...

class EmbedFacesResponse(_message.Message):
    __slots__ = ("embeddings", "model", "dimension")
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    embeddings: _containers.RepeatedCompositeFieldContainer[FaceEmbedding]
    model: ModelRef
    dimension: int
    def __init__(self, embeddings: _Optional[_Iterable[_Union[FaceEmbedding, _Mapping]]] = ..., model: _Optional[_Union[ModelRef, _Mapping]] = ..., dimension: _Optional[int] = ...) -> None: ...

class Keypoint(_message.Message):
    __slots__ = ("part", "point", "score")
    PART_FIELD_NUMBER: _ClassVar[int]
    POINT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    part: BodyPart
    point: _common_pb2.Point
    score: float
    def __init__(self, part: _Optional[_Union[BodyPart, str, int]] = ..., point: _Optional[_Union[_common_pb2.Point, _Mapping]] = ..., score: _Optional[float] = ...) -> None: ...

class Pose(_message.Message):
    __slots__ = ("box", "score", "keypoints")
    BOX_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    KEYPOINTS_FIELD_NUMBER: _ClassVar[int]
    box: _common_pb2.Box
    score: float
    keypoints: _containers.RepeatedCompositeFieldContainer[Keypoint]
    def __init__(self, box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., score: _Optional[float] = ..., keypoints: _Optional[_Iterable[_Union[Keypoint, _Mapping]]] = ...) -> None: ...

class EstimatePosesRequest(_message.Message):
    __slots__ = ("images", "min_score", "model")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedCompositeFieldContainer[Image]
    min_score: float
    model: str
    def __init__(self, images: _Optional[_Iterable[_Union[Image, _Mapping]]] = ..., min_score: _Optional[float] = ..., model: _Optional[str] = ...) -> None: ...

class ImagePoses(_message.Message):
    __slots__ = ("poses", "image_width", "image_height")
    POSES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    poses: _containers.RepeatedCompositeFieldContainer[Pose]
    image_width: int
    image_height: int
    def __init__(self, poses: _Optional[_Iterable[_Union[Pose, _Mapping]]] = ..., image_width: _Optional[int] = ..., image_height: _Optional[int] = ...) -> None: ...

class EstimatePosesResponse(_message.Message):
    __slots__ = ("results", "model")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ImagePoses]
    model: ModelRef
    def __init__(self, results: _Optional[_Iterable[_Union[ImagePoses, _Mapping]]] = ..., model: _Optional[_Union[ModelRef, _Mapping]] = ...) -> None: ...

class ModelStatistics(_message.Message):
    __slots__ = ("inference_count", "execution_count", "failure_count", "mean_compute_ms")
    INFERENCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEAN_COMPUTE_MS_FIELD_NUMBER: _ClassVar[int]
    inference_count: int
    execution_count: int
    failure_count: int
    mean_compute_ms: float
    def __init__(self, inference_count: _Optional[int] = ..., execution_count: _Optional[int] = ..., failure_count: _Optional[int] = ..., mean_compute_ms: _Optional[float] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "version", "task", "state", "backend", "source", "license", "sha256", "max_batch_size", "detail", "is_default")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    task: ModelTask
    state: ModelState
    backend: str
    source: str
    license: str
    sha256: str
    max_batch_size: int
    detail: str
    is_default: bool
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., task: _Optional[_Union[ModelTask, str, int]] = ..., state: _Optional[_Union[ModelState, str, int]] = ..., backend: _Optional[str] = ..., source: _Optional[str] = ..., license: _Optional[str] = ..., sha256: _Optional[str] = ..., max_batch_size: _Optional[int] = ..., detail: _Optional[str] = ..., is_default: _Optional[bool] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ...) -> None: ...

class GetModelStatusRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetModelStatusResponse(_message.Message):
    __slots__ = ("model", "statistics")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STATISTICS_FIELD_NUMBER: _ClassVar[int]
    model: ModelInfo
    statistics: ModelStatistics
    def __init__(self, model: _Optional[_Union[ModelInfo, _Mapping]] = ..., statistics: _Optional[_Union[ModelStatistics, _Mapping]] = ...) -> None: ...

class ReadPlatesRequest(_message.Message):
    __slots__ = ("images", "min_score", "max_plates")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    MAX_PLATES_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedCompositeFieldContainer[Image]
    min_score: float
    max_plates: int
    def __init__(self, images: _Optional[_Iterable[_Union[Image, _Mapping]]] = ..., min_score: _Optional[float] = ..., max_plates: _Optional[int] = ...) -> None: ...

class ReadPlate(_message.Message):
    __slots__ = ("box", "corners", "text", "confidence", "detection_score")
    BOX_FIELD_NUMBER: _ClassVar[int]
    CORNERS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    DETECTION_SCORE_FIELD_NUMBER: _ClassVar[int]
    box: _common_pb2.Box
    corners: _containers.RepeatedCompositeFieldContainer[_common_pb2.Point]
    text: str
    confidence: float
    detection_score: float
    def __init__(self, box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., corners: _Optional[_Iterable[_Union[_common_pb2.Point, _Mapping]]] = ..., text: _Optional[str] = ..., confidence: _Optional[float] = ..., detection_score: _Optional[float] = ...) -> None: ...

class ImagePlates(_message.Message):
    __slots__ = ("plates", "image_width", "image_height")
    PLATES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    plates: _containers.RepeatedCompositeFieldContainer[ReadPlate]
    image_width: int
    image_height: int
    def __init__(self, plates: _Optional[_Iterable[_Union[ReadPlate, _Mapping]]] = ..., image_width: _Optional[int] = ..., image_height: _Optional[int] = ...) -> None: ...

class ReadPlatesResponse(_message.Message):
    __slots__ = ("results", "detector", "recogniser")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    RECOGNISER_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ImagePlates]
    detector: ModelRef
    recogniser: ModelRef
    def __init__(self, results: _Optional[_Iterable[_Union[ImagePlates, _Mapping]]] = ..., detector: _Optional[_Union[ModelRef, _Mapping]] = ..., recogniser: _Optional[_Union[ModelRef, _Mapping]] = ...) -> None: ...
