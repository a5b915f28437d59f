import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kuzet.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CountingLine(_message.Message):
    __slots__ = ("id", "lane", "start", "end")
    ID_FIELD_NUMBER: _ClassVar[int]
    LANE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    id: str
    lane: str
    start: _common_pb2.Point
    end: _common_pb2.Point
    def __init__(self, id: _Optional[str] = ..., lane: _Optional[str] = ..., start: _Optional[_Union[_common_pb2.Point, _Mapping]] = ..., end: _Optional[_Union[_common_pb2.Point, _Mapping]] = ...) -> None: ...

class GroundCalibration(_message.Message):
    __slots__ = ("image_points", "ground_points_m")
    IMAGE_POINTS_FIELD_NUMBER: _ClassVar[int]
    GROUND_POINTS_M_FIELD_NUMBER: _ClassVar[int]
    image_points: _containers.RepeatedCompositeFieldContainer[_common_pb2.Point]
    ground_points_m: _containers.RepeatedCompositeFieldContainer[_common_pb2.Point]
    def __init__(self, image_points: _Optional[_Iterable[_Union[_common_pb2.Point, _Mapping]]] = ..., ground_points_m: _Optional[_Iterable[_Union[_common_pb2.Point, _Mapping]]] = ...) -> None: ...

class TrafficCamera(_message.Message):
    __slots__ = ("camera_id", "agency_id", "lines", "calibration", "speed_limit_kmh")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_FIELD_NUMBER: _ClassVar[int]
    SPEED_LIMIT_KMH_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    agency_id: str
    lines: _containers.RepeatedCompositeFieldContainer[CountingLine]
    calibration: GroundCalibration
    speed_limit_kmh: float
    def __init__(self, camera_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[CountingLine, _Mapping]]] = ..., calibration: _Optional[_Union[GroundCalibration, _Mapping]] = ..., speed_limit_kmh: _Optional[float] = ...) -> None: ...

class VehicleObservation(_message.Message):
    __slots__ = ("camera_id", "line_id", "track_id", "vehicle_class", "observed_at", "speed_kmh", "plate", "plate_confidence", "snapshot")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_CLASS_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    SPEED_KMH_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    PLATE_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    line_id: str
    track_id: int
    vehicle_class: str
    observed_at: _timestamp_pb2.Timestamp
    speed_kmh: float
    plate: str
    plate_confidence: float
    snapshot: _common_pb2.ObjectRef
    def __init__(self, camera_id: _Optional[str] = ..., line_id: _Optional[str] = ..., track_id: _Optional[int] = ..., vehicle_class: _Optional[str] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., speed_kmh: _Optional[float] = ..., plate: _Optional[str] = ..., plate_confidence: _Optional[float] = ..., snapshot: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ...) -> None: ...

class LaneCount(_message.Message):
    __slots__ = ("line_id", "lane", "interval_start", "vehicles", "mean_speed_kmh", "by_class")
    class ByClassEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    LANE_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_START_FIELD_NUMBER: _ClassVar[int]
    VEHICLES_FIELD_NUMBER: _ClassVar[int]
    MEAN_SPEED_KMH_FIELD_NUMBER: _ClassVar[int]
    BY_CLASS_FIELD_NUMBER: _ClassVar[int]
    line_id: str
    lane: str
    interval_start: _timestamp_pb2.Timestamp
    vehicles: int
    mean_speed_kmh: float
    by_class: _containers.ScalarMap[str, int]
    def __init__(self, line_id: _Optional[str] = ..., lane: _Optional[str] = ..., interval_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., vehicles: _Optional[int] = ..., mean_speed_kmh: _Optional[float] = ..., by_class: _Optional[_Mapping[str, int]] = ...) -> None: ...

class HotlistEntry(_message.Message):
    __slots__ = ("plate", "reason", "expires_at")
    PLATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    plate: str
    reason: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, plate: _Optional[str] = ..., reason: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConfigureCameraRequest(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: TrafficCamera
    def __init__(self, camera: _Optional[_Union[TrafficCamera, _Mapping]] = ...) -> None: ...

class ConfigureCameraResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: TrafficCamera
    def __init__(self, camera: _Optional[_Union[TrafficCamera, _Mapping]] = ...) -> None: ...

class RecordObservationsRequest(_message.Message):
    __slots__ = ("observations",)
    OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    observations: _containers.RepeatedCompositeFieldContainer[VehicleObservation]
    def __init__(self, observations: _Optional[_Iterable[_Union[VehicleObservation, _Mapping]]] = ...) -> None: ...

class RecordObservationsResponse(_message.Message):
    __slots__ = ("recorded", "hotlist_hits")
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    HOTLIST_HITS_FIELD_NUMBER: _ClassVar[int]
    recorded: int
    hotlist_hits: int
    def __init__(self, recorded: _Optional[int] = ..., hotlist_hits: _Optional[int] = ...) -> None: ...

class GetCountsRequest(_message.Message):
    __slots__ = ("camera_id", "since", "until", "interval_s")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    interval_s: int
    def __init__(self, camera_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., interval_s: _Optional[int] = ...) -> None: ...

class GetCountsResponse(_message.Message):
    __slots__ = ("counts",)
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    counts: _containers.RepeatedCompositeFieldContainer[LaneCount]
    def __init__(self, counts: _Optional[_Iterable[_Union[LaneCount, _Mapping]]] = ...) -> None: ...

class UpsertHotlistEntriesRequest(_message.Message):
    __slots__ = ("agency_id", "entries")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    entries: _containers.RepeatedCompositeFieldContainer[HotlistEntry]
    def __init__(self, agency_id: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[HotlistEntry, _Mapping]]] = ...) -> None: ...

class UpsertHotlistEntriesResponse(_message.Message):
    __slots__ = ("upserted",)
    UPSERTED_FIELD_NUMBER: _ClassVar[int]
    upserted: int
    def __init__(self, upserted: _Optional[int] = ...) -> None: ...
