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
    __slots__ = ("camera_id", "agency_id", "lines", "calibration", "speed_limit_kmh", "speed_tolerance_kmh", "location", "site_id", "name", "calibration_id", "calibration_rms_error_m")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_FIELD_NUMBER: _ClassVar[int]
    SPEED_LIMIT_KMH_FIELD_NUMBER: _ClassVar[int]
    SPEED_TOLERANCE_KMH_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_ID_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_RMS_ERROR_M_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    agency_id: str
    lines: _containers.RepeatedCompositeFieldContainer[CountingLine]
    calibration: GroundCalibration
    speed_limit_kmh: float
    speed_tolerance_kmh: float
    location: _common_pb2.GeoPoint
    site_id: str
    name: str
    calibration_id: str
    calibration_rms_error_m: float
    def __init__(self, camera_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[CountingLine, _Mapping]]] = ..., calibration: _Optional[_Union[GroundCalibration, _Mapping]] = ..., speed_limit_kmh: _Optional[float] = ..., speed_tolerance_kmh: _Optional[float] = ..., location: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., site_id: _Optional[str] = ..., name: _Optional[str] = ..., calibration_id: _Optional[str] = ..., calibration_rms_error_m: _Optional[float] = ...) -> None: ...

class SpeedEvidence(_message.Message):
    __slots__ = ("method", "calibration_id", "calibration_rms_error_m", "start_at", "end_at", "start_frame_at", "end_frame_at", "start_frame", "end_frame", "start_position_m", "end_position_m", "distance_m", "duration_s", "speed_kmh", "uncertainty_kmh")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_ID_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_RMS_ERROR_M_FIELD_NUMBER: _ClassVar[int]
    START_AT_FIELD_NUMBER: _ClassVar[int]
    END_AT_FIELD_NUMBER: _ClassVar[int]
    START_FRAME_AT_FIELD_NUMBER: _ClassVar[int]
    END_FRAME_AT_FIELD_NUMBER: _ClassVar[int]
    START_FRAME_FIELD_NUMBER: _ClassVar[int]
    END_FRAME_FIELD_NUMBER: _ClassVar[int]
    START_POSITION_M_FIELD_NUMBER: _ClassVar[int]
    END_POSITION_M_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_M_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    SPEED_KMH_FIELD_NUMBER: _ClassVar[int]
    UNCERTAINTY_KMH_FIELD_NUMBER: _ClassVar[int]
    method: str
    calibration_id: str
    calibration_rms_error_m: float
    start_at: _timestamp_pb2.Timestamp
    end_at: _timestamp_pb2.Timestamp
    start_frame_at: _timestamp_pb2.Timestamp
    end_frame_at: _timestamp_pb2.Timestamp
    start_frame: _common_pb2.ObjectRef
    end_frame: _common_pb2.ObjectRef
    start_position_m: _common_pb2.Point
    end_position_m: _common_pb2.Point
    distance_m: float
    duration_s: float
    speed_kmh: float
    uncertainty_kmh: float
    def __init__(self, method: _Optional[str] = ..., calibration_id: _Optional[str] = ..., calibration_rms_error_m: _Optional[float] = ..., start_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_frame_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_frame_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_frame: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ..., end_frame: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ..., start_position_m: _Optional[_Union[_common_pb2.Point, _Mapping]] = ..., end_position_m: _Optional[_Union[_common_pb2.Point, _Mapping]] = ..., distance_m: _Optional[float] = ..., duration_s: _Optional[float] = ..., speed_kmh: _Optional[float] = ..., uncertainty_kmh: _Optional[float] = ...) -> None: ...

class VehicleObservation(_message.Message):
    __slots__ = ("camera_id", "line_id", "track_id", "vehicle_class", "observed_at", "speed_kmh", "plate", "plate_confidence", "snapshot", "observation_id", "lane", "direction", "plate_raw", "plate_format", "plate_crop", "speed_evidence", "speeding", "agency_id", "box")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_CLASS_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    SPEED_KMH_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    PLATE_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    OBSERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    LANE_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    PLATE_RAW_FIELD_NUMBER: _ClassVar[int]
    PLATE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    PLATE_CROP_FIELD_NUMBER: _ClassVar[int]
    SPEED_EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    SPEEDING_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    line_id: str
    track_id: int
    vehicle_class: str
    observed_at: _timestamp_pb2.Timestamp
    speed_kmh: float
    plate: str
    plate_confidence: float
    snapshot: _common_pb2.ObjectRef
    observation_id: str
    lane: str
    direction: str
    plate_raw: str
    plate_format: str
    plate_crop: _common_pb2.ObjectRef
    speed_evidence: SpeedEvidence
    speeding: bool
    agency_id: str
    box: _common_pb2.Box
    def __init__(self, camera_id: _Optional[str] = ..., line_id: _Optional[str] = ..., track_id: _Optional[int] = ..., vehicle_class: _Optional[str] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., speed_kmh: _Optional[float] = ..., plate: _Optional[str] = ..., plate_confidence: _Optional[float] = ..., snapshot: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ..., observation_id: _Optional[str] = ..., lane: _Optional[str] = ..., direction: _Optional[str] = ..., plate_raw: _Optional[str] = ..., plate_format: _Optional[str] = ..., plate_crop: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ..., speed_evidence: _Optional[_Union[SpeedEvidence, _Mapping]] = ..., speeding: _Optional[bool] = ..., agency_id: _Optional[str] = ..., box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ...) -> None: ...

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
    __slots__ = ("plate", "reason", "expires_at", "source", "legal_basis", "created_at", "created_by")
    PLATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    plate: str
    reason: str
    expires_at: _timestamp_pb2.Timestamp
    source: str
    legal_basis: str
    created_at: _timestamp_pb2.Timestamp
    created_by: str
    def __init__(self, plate: _Optional[str] = ..., reason: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ..., legal_basis: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ...) -> None: ...

class HotlistHit(_message.Message):
    __slots__ = ("observation", "entry", "match", "event_id")
    OBSERVATION_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    observation: VehicleObservation
    entry: HotlistEntry
    match: str
    event_id: str
    def __init__(self, observation: _Optional[_Union[VehicleObservation, _Mapping]] = ..., entry: _Optional[_Union[HotlistEntry, _Mapping]] = ..., match: _Optional[str] = ..., event_id: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("recorded", "hotlist_hits", "duplicates", "speeding")
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    HOTLIST_HITS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    SPEEDING_FIELD_NUMBER: _ClassVar[int]
    recorded: int
    hotlist_hits: int
    duplicates: int
    speeding: int
    def __init__(self, recorded: _Optional[int] = ..., hotlist_hits: _Optional[int] = ..., duplicates: _Optional[int] = ..., speeding: _Optional[int] = ...) -> None: ...

class GetCameraRequest(_message.Message):
    __slots__ = ("camera_id",)
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    def __init__(self, camera_id: _Optional[str] = ...) -> None: ...

class GetCameraResponse(_message.Message):
    __slots__ = ("camera",)
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    camera: TrafficCamera
    def __init__(self, camera: _Optional[_Union[TrafficCamera, _Mapping]] = ...) -> None: ...

class ListCamerasRequest(_message.Message):
    __slots__ = ("page",)
    PAGE_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListCamerasResponse(_message.Message):
    __slots__ = ("cameras", "page")
    CAMERAS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    cameras: _containers.RepeatedCompositeFieldContainer[TrafficCamera]
    page: _common_pb2.PageResponse
    def __init__(self, cameras: _Optional[_Iterable[_Union[TrafficCamera, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class GetSpeedDistributionRequest(_message.Message):
    __slots__ = ("camera_id", "since", "until", "bin_kmh")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    BIN_KMH_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    bin_kmh: float
    def __init__(self, camera_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bin_kmh: _Optional[float] = ...) -> None: ...

class SpeedBin(_message.Message):
    __slots__ = ("low_kmh", "vehicles")
    LOW_KMH_FIELD_NUMBER: _ClassVar[int]
    VEHICLES_FIELD_NUMBER: _ClassVar[int]
    low_kmh: float
    vehicles: int
    def __init__(self, low_kmh: _Optional[float] = ..., vehicles: _Optional[int] = ...) -> None: ...

class GetSpeedDistributionResponse(_message.Message):
    __slots__ = ("bins", "bin_kmh", "measured", "speeding", "median_kmh", "p85_kmh")
    BINS_FIELD_NUMBER: _ClassVar[int]
    BIN_KMH_FIELD_NUMBER: _ClassVar[int]
    MEASURED_FIELD_NUMBER: _ClassVar[int]
    SPEEDING_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_KMH_FIELD_NUMBER: _ClassVar[int]
    P85_KMH_FIELD_NUMBER: _ClassVar[int]
    bins: _containers.RepeatedCompositeFieldContainer[SpeedBin]
    bin_kmh: float
    measured: int
    speeding: int
    median_kmh: float
    p85_kmh: float
    def __init__(self, bins: _Optional[_Iterable[_Union[SpeedBin, _Mapping]]] = ..., bin_kmh: _Optional[float] = ..., measured: _Optional[int] = ..., speeding: _Optional[int] = ..., median_kmh: _Optional[float] = ..., p85_kmh: _Optional[float] = ...) -> None: ...

class SearchPlatesRequest(_message.Message):
    __slots__ = ("plate", "purpose", "since", "until", "fuzzy", "page")
    PLATE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    FUZZY_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    plate: str
    purpose: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    fuzzy: bool
    page: _common_pb2.PageRequest
    def __init__(self, plate: _Optional[str] = ..., purpose: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., fuzzy: _Optional[bool] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class SearchPlatesResponse(_message.Message):
    __slots__ = ("observations", "page", "audit_id")
    OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    AUDIT_ID_FIELD_NUMBER: _ClassVar[int]
    observations: _containers.RepeatedCompositeFieldContainer[VehicleObservation]
    page: _common_pb2.PageResponse
    audit_id: str
    def __init__(self, observations: _Optional[_Iterable[_Union[VehicleObservation, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ..., audit_id: _Optional[str] = ...) -> None: ...

class ListHotlistEntriesRequest(_message.Message):
    __slots__ = ("page", "include_expired")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    include_expired: bool
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., include_expired: _Optional[bool] = ...) -> None: ...

class ListHotlistEntriesResponse(_message.Message):
    __slots__ = ("entries", "page")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[HotlistEntry]
    page: _common_pb2.PageResponse
    def __init__(self, entries: _Optional[_Iterable[_Union[HotlistEntry, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class RemoveHotlistEntryRequest(_message.Message):
    __slots__ = ("plate", "reason")
    PLATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    plate: str
    reason: str
    def __init__(self, plate: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RemoveHotlistEntryResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListHotlistHitsRequest(_message.Message):
    __slots__ = ("since", "page")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    since: _timestamp_pb2.Timestamp
    page: _common_pb2.PageRequest
    def __init__(self, since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListHotlistHitsResponse(_message.Message):
    __slots__ = ("hits", "page")
    HITS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[HotlistHit]
    page: _common_pb2.PageResponse
    def __init__(self, hits: _Optional[_Iterable[_Union[HotlistHit, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

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
