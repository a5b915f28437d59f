import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kuzet.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HoldState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLD_STATE_UNSPECIFIED: _ClassVar[HoldState]
    HOLD_STATE_ACTIVE: _ClassVar[HoldState]
    HOLD_STATE_RELEASE_PENDING: _ClassVar[HoldState]
    HOLD_STATE_RELEASED: _ClassVar[HoldState]
HOLD_STATE_UNSPECIFIED: HoldState
HOLD_STATE_ACTIVE: HoldState
HOLD_STATE_RELEASE_PENDING: HoldState
HOLD_STATE_RELEASED: HoldState

class LegalHold(_message.Message):
    __slots__ = ("hold_id", "agency_id", "kind", "item_id", "case_id", "source_id", "from_time", "to_time", "reason", "state", "placed_by", "placed_at", "release_requested_by", "release_requested_at", "release_expires_at", "release_reason", "released_by", "released_at")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_TIME_FIELD_NUMBER: _ClassVar[int]
    TO_TIME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PLACED_BY_FIELD_NUMBER: _ClassVar[int]
    PLACED_AT_FIELD_NUMBER: _ClassVar[int]
    RELEASE_REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    RELEASE_REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    RELEASE_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    RELEASE_REASON_FIELD_NUMBER: _ClassVar[int]
    RELEASED_BY_FIELD_NUMBER: _ClassVar[int]
    RELEASED_AT_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    agency_id: str
    kind: str
    item_id: str
    case_id: str
    source_id: str
    from_time: _timestamp_pb2.Timestamp
    to_time: _timestamp_pb2.Timestamp
    reason: str
    state: HoldState
    placed_by: str
    placed_at: _timestamp_pb2.Timestamp
    release_requested_by: str
    release_requested_at: _timestamp_pb2.Timestamp
    release_expires_at: _timestamp_pb2.Timestamp
    release_reason: str
    released_by: str
    released_at: _timestamp_pb2.Timestamp
    def __init__(self, hold_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., kind: _Optional[str] = ..., item_id: _Optional[str] = ..., case_id: _Optional[str] = ..., source_id: _Optional[str] = ..., from_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., to_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., state: _Optional[_Union[HoldState, str, int]] = ..., placed_by: _Optional[str] = ..., placed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., release_requested_by: _Optional[str] = ..., release_requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., release_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., release_reason: _Optional[str] = ..., released_by: _Optional[str] = ..., released_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PlaceHoldRequest(_message.Message):
    __slots__ = ("agency_id", "kind", "item_id", "case_id", "source_id", "from_time", "to_time", "reason")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_TIME_FIELD_NUMBER: _ClassVar[int]
    TO_TIME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    kind: str
    item_id: str
    case_id: str
    source_id: str
    from_time: _timestamp_pb2.Timestamp
    to_time: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, agency_id: _Optional[str] = ..., kind: _Optional[str] = ..., item_id: _Optional[str] = ..., case_id: _Optional[str] = ..., source_id: _Optional[str] = ..., from_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., to_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class ReleaseHoldRequest(_message.Message):
    __slots__ = ("hold_id", "reason")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    reason: str
    def __init__(self, hold_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GetHoldRequest(_message.Message):
    __slots__ = ("hold_id",)
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    def __init__(self, hold_id: _Optional[str] = ...) -> None: ...

class PlaceHoldResponse(_message.Message):
    __slots__ = ("hold",)
    HOLD_FIELD_NUMBER: _ClassVar[int]
    hold: LegalHold
    def __init__(self, hold: _Optional[_Union[LegalHold, _Mapping]] = ...) -> None: ...

class ReleaseHoldResponse(_message.Message):
    __slots__ = ("hold", "released")
    HOLD_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    hold: LegalHold
    released: bool
    def __init__(self, hold: _Optional[_Union[LegalHold, _Mapping]] = ..., released: _Optional[bool] = ...) -> None: ...

class GetHoldResponse(_message.Message):
    __slots__ = ("hold",)
    HOLD_FIELD_NUMBER: _ClassVar[int]
    hold: LegalHold
    def __init__(self, hold: _Optional[_Union[LegalHold, _Mapping]] = ...) -> None: ...

class ListHoldsRequest(_message.Message):
    __slots__ = ("agency_id", "kind", "include_released", "page")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_RELEASED_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    kind: str
    include_released: bool
    page: _common_pb2.PageRequest
    def __init__(self, agency_id: _Optional[str] = ..., kind: _Optional[str] = ..., include_released: _Optional[bool] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListHoldsResponse(_message.Message):
    __slots__ = ("holds", "page")
    HOLDS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    holds: _containers.RepeatedCompositeFieldContainer[LegalHold]
    page: _common_pb2.PageResponse
    def __init__(self, holds: _Optional[_Iterable[_Union[LegalHold, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class RetentionRun(_message.Message):
    __slots__ = ("kind", "running_here", "last_started_at", "last_finished_at", "deleted", "kept_by_hold", "error")
    KIND_FIELD_NUMBER: _ClassVar[int]
    RUNNING_HERE_FIELD_NUMBER: _ClassVar[int]
    LAST_STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    KEPT_BY_HOLD_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    kind: str
    running_here: bool
    last_started_at: _timestamp_pb2.Timestamp
    last_finished_at: _timestamp_pb2.Timestamp
    deleted: int
    kept_by_hold: int
    error: str
    def __init__(self, kind: _Optional[str] = ..., running_here: _Optional[bool] = ..., last_started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deleted: _Optional[int] = ..., kept_by_hold: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class GetRetentionStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetRetentionStatusResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[RetentionRun]
    def __init__(self, jobs: _Optional[_Iterable[_Union[RetentionRun, _Mapping]]] = ...) -> None: ...
