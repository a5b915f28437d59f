import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_INFO: _ClassVar[Severity]
    SEVERITY_LOW: _ClassVar[Severity]
    SEVERITY_MEDIUM: _ClassVar[Severity]
    SEVERITY_HIGH: _ClassVar[Severity]
    SEVERITY_CRITICAL: _ClassVar[Severity]

class SourceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SOURCE_KIND_UNSPECIFIED: _ClassVar[SourceKind]
    SOURCE_KIND_CAMERA: _ClassVar[SourceKind]
    SOURCE_KIND_BADGE: _ClassVar[SourceKind]
    SOURCE_KIND_DRONE: _ClassVar[SourceKind]
    SOURCE_KIND_TRAFFIC: _ClassVar[SourceKind]
    SOURCE_KIND_IDENTITY: _ClassVar[SourceKind]
    SOURCE_KIND_SYSTEM: _ClassVar[SourceKind]
SEVERITY_UNSPECIFIED: Severity
SEVERITY_INFO: Severity
SEVERITY_LOW: Severity
SEVERITY_MEDIUM: Severity
SEVERITY_HIGH: Severity
SEVERITY_CRITICAL: Severity
SOURCE_KIND_UNSPECIFIED: SourceKind
SOURCE_KIND_CAMERA: SourceKind
SOURCE_KIND_BADGE: SourceKind
SOURCE_KIND_DRONE: SourceKind
SOURCE_KIND_TRAFFIC: SourceKind
SOURCE_KIND_IDENTITY: SourceKind
SOURCE_KIND_SYSTEM: SourceKind

class GeoPoint(_message.Message):
    __slots__ = ("latitude", "longitude", "altitude_m", "accuracy_m")
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    ALTITUDE_M_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_M_FIELD_NUMBER: _ClassVar[int]
    latitude: float
    longitude: float
    altitude_m: float
    accuracy_m: float
    def __init__(self, latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., altitude_m: _Optional[float] = ..., accuracy_m: _Optional[float] = ...) -> None: ...

class Box(_message.Message):
    __slots__ = ("x1", "y1", "x2", "y2")
    X1_FIELD_NUMBER: _ClassVar[int]
    Y1_FIELD_NUMBER: _ClassVar[int]
    X2_FIELD_NUMBER: _ClassVar[int]
    Y2_FIELD_NUMBER: _ClassVar[int]
    x1: float
    y1: float
    x2: float
    y2: float
    def __init__(self, x1: _Optional[float] = ..., y1: _Optional[float] = ..., x2: _Optional[float] = ..., y2: _Optional[float] = ...) -> None: ...

class Point(_message.Message):
    __slots__ = ("x", "y")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ...) -> None: ...

class ObjectRef(_message.Message):
    __slots__ = ("key", "sha256", "size_bytes", "content_type")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    key: str
    sha256: str
    size_bytes: int
    content_type: str
    def __init__(self, key: _Optional[str] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ..., content_type: _Optional[str] = ...) -> None: ...

class Source(_message.Message):
    __slots__ = ("kind", "id", "site_id", "name")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    kind: SourceKind
    id: str
    site_id: str
    name: str
    def __init__(self, kind: _Optional[_Union[SourceKind, str, int]] = ..., id: _Optional[str] = ..., site_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("event_id", "agency_id", "type", "source", "rule_id", "subject", "occurred_at", "severity", "zone_id", "track_ids", "boxes", "location", "snapshot", "clip", "attributes", "summary", "resolves", "amends")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    ZONE_ID_FIELD_NUMBER: _ClassVar[int]
    TRACK_IDS_FIELD_NUMBER: _ClassVar[int]
    BOXES_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    CLIP_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    RESOLVES_FIELD_NUMBER: _ClassVar[int]
    AMENDS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    agency_id: str
    type: str
    source: Source
    rule_id: str
    subject: str
    occurred_at: _timestamp_pb2.Timestamp
    severity: Severity
    zone_id: str
    track_ids: _containers.RepeatedScalarFieldContainer[int]
    boxes: _containers.RepeatedCompositeFieldContainer[Box]
    location: GeoPoint
    snapshot: ObjectRef
    clip: ObjectRef
    attributes: _struct_pb2.Struct
    summary: str
    resolves: bool
    amends: str
    def __init__(self, event_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., type: _Optional[str] = ..., source: _Optional[_Union[Source, _Mapping]] = ..., rule_id: _Optional[str] = ..., subject: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., severity: _Optional[_Union[Severity, str, int]] = ..., zone_id: _Optional[str] = ..., track_ids: _Optional[_Iterable[int]] = ..., boxes: _Optional[_Iterable[_Union[Box, _Mapping]]] = ..., location: _Optional[_Union[GeoPoint, _Mapping]] = ..., snapshot: _Optional[_Union[ObjectRef, _Mapping]] = ..., clip: _Optional[_Union[ObjectRef, _Mapping]] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., summary: _Optional[str] = ..., resolves: _Optional[bool] = ..., amends: _Optional[str] = ...) -> None: ...

class PageRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class PageResponse(_message.Message):
    __slots__ = ("next_page_token",)
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    def __init__(self, next_page_token: _Optional[str] = ...) -> None: ...
