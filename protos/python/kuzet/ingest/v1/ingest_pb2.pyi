import datetime

from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kuzet.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LineDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LINE_DIRECTION_UNSPECIFIED: _ClassVar[LineDirection]
    LINE_DIRECTION_BOTH: _ClassVar[LineDirection]
    LINE_DIRECTION_LEFT_TO_RIGHT: _ClassVar[LineDirection]
    LINE_DIRECTION_RIGHT_TO_LEFT: _ClassVar[LineDirection]

class RuleType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RULE_TYPE_UNSPECIFIED: _ClassVar[RuleType]
    RULE_TYPE_INTRUSION: _ClassVar[RuleType]
    RULE_TYPE_LINE_CROSSING: _ClassVar[RuleType]
    RULE_TYPE_LOITERING: _ClassVar[RuleType]
    RULE_TYPE_CROWDING: _ClassVar[RuleType]
    RULE_TYPE_PERSON_DOWN: _ClassVar[RuleType]
    RULE_TYPE_POST_UNATTENDED: _ClassVar[RuleType]
    RULE_TYPE_FACE_OF_INTEREST: _ClassVar[RuleType]
    RULE_TYPE_MOTIONLESS: _ClassVar[RuleType]
    RULE_TYPE_SELF_HARM: _ClassVar[RuleType]
    RULE_TYPE_CLIMBING: _ClassVar[RuleType]
    RULE_TYPE_VIOLENCE: _ClassVar[RuleType]
    RULE_TYPE_STAFF_ALONE: _ClassVar[RuleType]

class Fault(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FAULT_UNSPECIFIED: _ClassVar[Fault]
    FAULT_OFFLINE: _ClassVar[Fault]
    FAULT_BLACK: _ClassVar[Fault]
    FAULT_FROZEN: _ClassVar[Fault]
    FAULT_BLURRED: _ClassVar[Fault]
    FAULT_COVERED: _ClassVar[Fault]
    FAULT_MOVED: _ClassVar[Fault]
    FAULT_UNSUPPORTED: _ClassVar[Fault]
    FAULT_DEGRADED: _ClassVar[Fault]
LINE_DIRECTION_UNSPECIFIED: LineDirection
LINE_DIRECTION_BOTH: LineDirection
LINE_DIRECTION_LEFT_TO_RIGHT: LineDirection
LINE_DIRECTION_RIGHT_TO_LEFT: LineDirection
RULE_TYPE_UNSPECIFIED: RuleType
RULE_TYPE_INTRUSION: RuleType
RULE_TYPE_LINE_CROSSING: RuleType
RULE_TYPE_LOITERING: RuleType
RULE_TYPE_CROWDING: RuleType
RULE_TYPE_PERSON_DOWN: RuleType
RULE_TYPE_POST_UNATTENDED: RuleType
RULE_TYPE_FACE_OF_INTEREST: RuleType
RULE_TYPE_MOTIONLESS: RuleType
RULE_TYPE_SELF_HARM: RuleType
RULE_TYPE_CLIMBING: RuleType
RULE_TYPE_VIOLENCE: RuleType
RULE_TYPE_STAFF_ALONE: RuleType
FAULT_UNSPECIFIED: Fault
FAULT_OFFLINE: Fault
FAULT_BLACK: Fault
FAULT_FROZEN: Fault
FAULT_BLURRED: Fault
FAULT_COVERED: Fault
FAULT_MOVED: Fault
FAULT_UNSUPPORTED: Fault
FAULT_DEGRADED: Fault

class Zone(_message.Message):
    __slots__ = ("id", "name", "points", "motion_gate_ignore")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    MOTION_GATE_IGNORE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    points: _containers.RepeatedCompositeFieldContainer[_common_pb2.Point]
    motion_gate_ignore: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., points: _Optional[_Iterable[_Union[_common_pb2.Point, _Mapping]]] = ..., motion_gate_ignore: _Optional[bool] = ...) -> None: ...

class Line(_message.Message):
    __slots__ = ("id", "name", "a", "b")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    a: _common_pb2.Point
    b: _common_pb2.Point
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., a: _Optional[_Union[_common_pb2.Point, _Mapping]] = ..., b: _Optional[_Union[_common_pb2.Point, _Mapping]] = ...) -> None: ...

class TimeWindow(_message.Message):
    __slots__ = ("start_minute", "end_minute", "weekdays")
    START_MINUTE_FIELD_NUMBER: _ClassVar[int]
    END_MINUTE_FIELD_NUMBER: _ClassVar[int]
    WEEKDAYS_FIELD_NUMBER: _ClassVar[int]
    start_minute: int
    end_minute: int
    weekdays: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, start_minute: _Optional[int] = ..., end_minute: _Optional[int] = ..., weekdays: _Optional[_Iterable[int]] = ...) -> None: ...

class Rule(_message.Message):
    __slots__ = ("id", "type", "zone_id", "line_id", "direction", "dwell_seconds", "max_count", "active_windows", "cooldown_seconds", "severity", "disabled", "thresholds")
    class ThresholdsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ZONE_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    DWELL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_COUNT_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_WINDOWS_FIELD_NUMBER: _ClassVar[int]
    COOLDOWN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    THRESHOLDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: RuleType
    zone_id: str
    line_id: str
    direction: LineDirection
    dwell_seconds: float
    max_count: int
    active_windows: _containers.RepeatedCompositeFieldContainer[TimeWindow]
    cooldown_seconds: float
    severity: _common_pb2.Severity
    disabled: bool
    thresholds: _containers.ScalarMap[str, float]
    def __init__(self, id: _Optional[str] = ..., type: _Optional[_Union[RuleType, str, int]] = ..., zone_id: _Optional[str] = ..., line_id: _Optional[str] = ..., direction: _Optional[_Union[LineDirection, str, int]] = ..., dwell_seconds: _Optional[float] = ..., max_count: _Optional[int] = ..., active_windows: _Optional[_Iterable[_Union[TimeWindow, _Mapping]]] = ..., cooldown_seconds: _Optional[float] = ..., severity: _Optional[_Union[_common_pb2.Severity, str, int]] = ..., disabled: _Optional[bool] = ..., thresholds: _Optional[_Mapping[str, float]] = ...) -> None: ...

class CalibrationLine(_message.Message):
    __slots__ = ("a", "b")
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    a: _common_pb2.Point
    b: _common_pb2.Point
    def __init__(self, a: _Optional[_Union[_common_pb2.Point, _Mapping]] = ..., b: _Optional[_Union[_common_pb2.Point, _Mapping]] = ...) -> None: ...

class Calibration(_message.Message):
    __slots__ = ("floor_line", "ligature_line", "fence_line")
    FLOOR_LINE_FIELD_NUMBER: _ClassVar[int]
    LIGATURE_LINE_FIELD_NUMBER: _ClassVar[int]
    FENCE_LINE_FIELD_NUMBER: _ClassVar[int]
    floor_line: CalibrationLine
    ligature_line: CalibrationLine
    fence_line: CalibrationLine
    def __init__(self, floor_line: _Optional[_Union[CalibrationLine, _Mapping]] = ..., ligature_line: _Optional[_Union[CalibrationLine, _Mapping]] = ..., fence_line: _Optional[_Union[CalibrationLine, _Mapping]] = ...) -> None: ...

class Schedule(_message.Message):
    __slots__ = ("time_zone", "windows")
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_FIELD_NUMBER: _ClassVar[int]
    time_zone: str
    windows: _containers.RepeatedCompositeFieldContainer[TimeWindow]
    def __init__(self, time_zone: _Optional[str] = ..., windows: _Optional[_Iterable[_Union[TimeWindow, _Mapping]]] = ...) -> None: ...

class PlanPosition(_message.Message):
    __slots__ = ("plan_id", "x", "y", "heading_deg")
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    HEADING_DEG_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    x: float
    y: float
    heading_deg: float
    def __init__(self, plan_id: _Optional[str] = ..., x: _Optional[float] = ..., y: _Optional[float] = ..., heading_deg: _Optional[float] = ...) -> None: ...

class Credentials(_message.Message):
    __slots__ = ("username", "password")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    username: str
    password: str
    def __init__(self, username: _Optional[str] = ..., password: _Optional[str] = ...) -> None: ...

class Camera(_message.Message):
    __slots__ = ("id", "agency_id", "site_id", "name", "url", "credentials", "has_credentials", "analytic_fps", "keyframe_only", "schedule", "zones", "lines", "rules", "enabled_models", "clip_recording", "location", "plan_position", "enabled", "width", "height", "created_at", "updated_at", "calibration", "drone_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    HAS_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    ANALYTIC_FPS_FIELD_NUMBER: _ClassVar[int]
    KEYFRAME_ONLY_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    ZONES_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    ENABLED_MODELS_FIELD_NUMBER: _ClassVar[int]
    CLIP_RECORDING_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    PLAN_POSITION_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_FIELD_NUMBER: _ClassVar[int]
    DRONE_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    agency_id: str
    site_id: str
    name: str
    url: str
    credentials: Credentials
    has_credentials: bool
    analytic_fps: float
    keyframe_only: bool
    schedule: Schedule
    zones: _containers.RepeatedCompositeFieldContainer[Zone]
    lines: _containers.RepeatedCompositeFieldContainer[Line]
    rules: _containers.RepeatedCompositeFieldContainer[Rule]
    enabled_models: _containers.RepeatedScalarFieldContainer[str]
    clip_recording: bool
    location: _common_pb2.GeoPoint
    plan_position: PlanPosition
    enabled: bool
    width: int
    height: int
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    calibration: Calibration
    drone_id: str
    def __init__(self, id: _Optional[str] = ..., agency_id: _Optional[str] = ..., site_id: _Optional[str] = ..., name: _Optional[str] = ..., url: _Optional[str] = ..., credentials: _Optional[_Union[Credentials, _Mapping]] = ..., has_credentials: _Optional[bool] = ..., analytic_fps: _Optional[float] = ..., keyframe_only: _Optional[bool] = ..., schedule: _Optional[_Union[Schedule, _Mapping]] = ..., zones: _Optional[_Iterable[_Union[Zone, _Mapping]]] = ..., lines: _Optional[_Iterable[_Union[Line, _Mapping]]] = ..., rules: _Optional[_Iterable[_Union[Rule, _Mapping]]] = ..., enabled_models: _Optional[_Iterable[str]] = ..., clip_recording: _Optional[bool] = ..., location: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., plan_position: _Optional[_Union[PlanPosition, _Mapping]] = ..., enabled: _Optional[bool] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., calibration: _Optional[_Union[Calibration, _Mapping]] = ..., drone_id: _Optional[str] = ...) -> None: ...

class CreateCameraRequest(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class CreateCameraResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class UpdateCameraRequest(_message.Message):
    __slots__ = ("camera", "update_mask")
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateCameraResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class DeleteCameraRequest(_message.Message):
    __slots__ = ("camera_id",)
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    def __init__(self, camera_id: _Optional[str] = ...) -> None: ...

class DeleteCameraResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCameraRequest(_message.Message):
    __slots__ = ("camera_id",)
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    def __init__(self, camera_id: _Optional[str] = ...) -> None: ...

class GetCameraResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: Camera
    def __init__(self, camera: _Optional[_Union[Camera, _Mapping]] = ...) -> None: ...

class ListCamerasRequest(_message.Message):
    __slots__ = ("page", "site_id")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    site_id: str
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., site_id: _Optional[str] = ...) -> None: ...

class ListCamerasResponse(_message.Message):
    __slots__ = ("cameras", "page")
    CAMERAS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    cameras: _containers.RepeatedCompositeFieldContainer[Camera]
    page: _common_pb2.PageResponse
    def __init__(self, cameras: _Optional[_Iterable[_Union[Camera, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class CameraHealth(_message.Message):
    __slots__ = ("camera_id", "connected", "fps_in", "fps_out", "frames_decoded", "frames_sampled", "frames_motion_skipped", "frames_inferred", "frames_dropped", "decode_errors", "reconnects", "last_frame_at", "faults", "last_error", "width", "height", "events_published", "analysed_every_s", "analysed_goal_s")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    FPS_IN_FIELD_NUMBER: _ClassVar[int]
    FPS_OUT_FIELD_NUMBER: _ClassVar[int]
    FRAMES_DECODED_FIELD_NUMBER: _ClassVar[int]
    FRAMES_SAMPLED_FIELD_NUMBER: _ClassVar[int]
    FRAMES_MOTION_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    FRAMES_INFERRED_FIELD_NUMBER: _ClassVar[int]
    FRAMES_DROPPED_FIELD_NUMBER: _ClassVar[int]
    DECODE_ERRORS_FIELD_NUMBER: _ClassVar[int]
    RECONNECTS_FIELD_NUMBER: _ClassVar[int]
    LAST_FRAME_AT_FIELD_NUMBER: _ClassVar[int]
    FAULTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    ANALYSED_EVERY_S_FIELD_NUMBER: _ClassVar[int]
    ANALYSED_GOAL_S_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    connected: bool
    fps_in: float
    fps_out: float
    frames_decoded: int
    frames_sampled: int
    frames_motion_skipped: int
    frames_inferred: int
    frames_dropped: int
    decode_errors: int
    reconnects: int
    last_frame_at: _timestamp_pb2.Timestamp
    faults: _containers.RepeatedScalarFieldContainer[Fault]
    last_error: str
    width: int
    height: int
    events_published: int
    analysed_every_s: float
    analysed_goal_s: float
    def __init__(self, camera_id: _Optional[str] = ..., connected: _Optional[bool] = ..., fps_in: _Optional[float] = ..., fps_out: _Optional[float] = ..., frames_decoded: _Optional[int] = ..., frames_sampled: _Optional[int] = ..., frames_motion_skipped: _Optional[int] = ..., frames_inferred: _Optional[int] = ..., frames_dropped: _Optional[int] = ..., decode_errors: _Optional[int] = ..., reconnects: _Optional[int] = ..., last_frame_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., faults: _Optional[_Iterable[_Union[Fault, str, int]]] = ..., last_error: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., events_published: _Optional[int] = ..., analysed_every_s: _Optional[float] = ..., analysed_goal_s: _Optional[float] = ...) -> None: ...

class GetCameraHealthRequest(_message.Message):
    __slots__ = ("camera_id",)
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    def __init__(self, camera_id: _Optional[str] = ...) -> None: ...

class GetCameraHealthResponse(_message.Message):
    __slots__ = ("health",)
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    health: CameraHealth
    def __init__(self, health: _Optional[_Union[CameraHealth, _Mapping]] = ...) -> None: ...

class ListCameraHealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCameraHealthResponse(_message.Message):
    __slots__ = ("health",)
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    health: _containers.RepeatedCompositeFieldContainer[CameraHealth]
    def __init__(self, health: _Optional[_Iterable[_Union[CameraHealth, _Mapping]]] = ...) -> None: ...

class GetSnapshotRequest(_message.Message):
    __slots__ = ("camera_id", "max_side", "overlay")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_SIDE_FIELD_NUMBER: _ClassVar[int]
    OVERLAY_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    max_side: int
    overlay: bool
    def __init__(self, camera_id: _Optional[str] = ..., max_side: _Optional[int] = ..., overlay: _Optional[bool] = ...) -> None: ...

class GetSnapshotResponse(_message.Message):
    __slots__ = ("jpeg", "captured_at", "width", "height")
    JPEG_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_AT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    jpeg: bytes
    captured_at: _timestamp_pb2.Timestamp
    width: int
    height: int
    def __init__(self, jpeg: _Optional[bytes] = ..., captured_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class ShardStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ShardStatusResponse(_message.Message):
    __slots__ = ("replica_id", "replicas", "camera_ids", "running", "lease_held", "membership")
    REPLICA_ID_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    CAMERA_IDS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    LEASE_HELD_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_FIELD_NUMBER: _ClassVar[int]
    replica_id: str
    replicas: _containers.RepeatedScalarFieldContainer[str]
    camera_ids: _containers.RepeatedScalarFieldContainer[str]
    running: int
    lease_held: bool
    membership: str
    def __init__(self, replica_id: _Optional[str] = ..., replicas: _Optional[_Iterable[str]] = ..., camera_ids: _Optional[_Iterable[str]] = ..., running: _Optional[int] = ..., lease_held: _Optional[bool] = ..., membership: _Optional[str] = ...) -> None: ...
