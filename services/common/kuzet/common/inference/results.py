"""Plain results of the inference service, shared by the service and its client."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# COCO keypoints in the order of the BodyPart enum (from 1) and of MoveNet's outputs.
BODY_PARTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in source pixels."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str


@dataclass(frozen=True)
class DetectedObject:
    box: Box
    score: float
    # "person", "bicycle", "car", "motorcycle", "bus", "truck", "boat"
    class_name: str


@dataclass(frozen=True)
class ImageObjects:
    objects: list[DetectedObject]
    width: int
    height: int


@dataclass(frozen=True)
class DetectedFace:
    box: Box
    score: float
    # Five (x, y) points in source pixels, ArcFace template order.
    landmarks: list[tuple[float, float]]


@dataclass(frozen=True)
class ImageFaces:
    faces: list[DetectedFace]
    width: int
    height: int


@dataclass(frozen=True)
class FaceQuality:
    score: float
    size_score: float
    blur_score: float
    pose_score: float
    # Subset of "too_small", "blurry", "pose"; empty when acceptable.
    issues: tuple[str, ...]
    inter_eye_px: float
    sharpness: float
    yaw_asymmetry: float
    roll_deg: float

    @property
    def acceptable(self) -> bool:
        return not self.issues


@dataclass(frozen=True)
class FaceEmbedding:
    # L2-normalised float32 vector.
    vector: np.ndarray
    quality: FaceQuality
    model: ModelRef
    aligned_crop_jpeg: bytes = b""


@dataclass(frozen=True)
class Keypoint:
    # COCO part name, e.g. "left_shoulder".
    part: str
    x: float
    y: float
    score: float


@dataclass(frozen=True)
class Pose:
    box: Box
    score: float
    keypoints: list[Keypoint] = field(default_factory=list)


@dataclass(frozen=True)
class ImagePoses:
    poses: list[Pose]
    width: int
    height: int


@dataclass(frozen=True)
class ReadPlate:
    """A text line found and read, e.g. a licence plate."""

    box: Box
    # Top left, top right, bottom right, bottom left (x, y) of the possibly rotated region.
    corners: list[tuple[float, float]]
    # As recognised, upper case, spaces kept; not yet normalised to a plate format.
    text: str
    # Mean per-character confidence of the recogniser.
    confidence: float
    detection_score: float


@dataclass(frozen=True)
class ImagePlates:
    plates: list[ReadPlate]
    width: int
    height: int
