import datetime

from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kuzet.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BadgeStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BADGE_STATUS_UNSPECIFIED: _ClassVar[BadgeStatus]
    BADGE_STATUS_ACTIVE: _ClassVar[BadgeStatus]
    BADGE_STATUS_MAINTENANCE: _ClassVar[BadgeStatus]
    BADGE_STATUS_RETIRED: _ClassVar[BadgeStatus]

class RecordingState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECORDING_STATE_UNSPECIFIED: _ClassVar[RecordingState]
    RECORDING_STATE_OFF: _ClassVar[RecordingState]
    RECORDING_STATE_BUFFERING: _ClassVar[RecordingState]
    RECORDING_STATE_ON: _ClassVar[RecordingState]
    RECORDING_STATE_ERROR: _ClassVar[RecordingState]

class SensorEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SENSOR_EVENT_KIND_UNSPECIFIED: _ClassVar[SensorEventKind]
    SENSOR_EVENT_KIND_PANIC: _ClassVar[SensorEventKind]
    SENSOR_EVENT_KIND_PANIC_CANCELLED: _ClassVar[SensorEventKind]
    SENSOR_EVENT_KIND_TAMPER: _ClassVar[SensorEventKind]
    SENSOR_EVENT_KIND_FORCED_SHUTDOWN: _ClassVar[SensorEventKind]
    SENSOR_EVENT_KIND_RECORD_BUTTON: _ClassVar[SensorEventKind]
    SENSOR_EVENT_KIND_DOCKED: _ClassVar[SensorEventKind]
    SENSOR_EVENT_KIND_UNDOCKED: _ClassVar[SensorEventKind]

class EvidenceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVIDENCE_STATUS_UNSPECIFIED: _ClassVar[EvidenceStatus]
    EVIDENCE_STATUS_UPLOADING: _ClassVar[EvidenceStatus]
    EVIDENCE_STATUS_STORED: _ClassVar[EvidenceStatus]
    EVIDENCE_STATUS_CORRUPTED: _ClassVar[EvidenceStatus]
    EVIDENCE_STATUS_DELETED: _ClassVar[EvidenceStatus]

class CustodyAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CUSTODY_ACTION_UNSPECIFIED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_CAPTURED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_RECEIVED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_STORED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_VIEWED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_SHARED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_EXPORTED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_VERIFIED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_VERIFICATION_FAILED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_LEGAL_HOLD_SET: _ClassVar[CustodyAction]
    CUSTODY_ACTION_LEGAL_HOLD_RELEASED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_CASE_LINKED: _ClassVar[CustodyAction]
    CUSTODY_ACTION_DELETED_BY_RETENTION: _ClassVar[CustodyAction]

class CitationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CITATION_STATUS_UNSPECIFIED: _ClassVar[CitationStatus]
    CITATION_STATUS_ISSUED: _ClassVar[CitationStatus]
    CITATION_STATUS_PAID: _ClassVar[CitationStatus]
    CITATION_STATUS_CONTESTED: _ClassVar[CitationStatus]
    CITATION_STATUS_UPHELD: _ClassVar[CitationStatus]
    CITATION_STATUS_VOIDED: _ClassVar[CitationStatus]

class IntegrityReportSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTEGRITY_REPORT_SOURCE_UNSPECIFIED: _ClassVar[IntegrityReportSource]
    INTEGRITY_REPORT_SOURCE_OFFICER: _ClassVar[IntegrityReportSource]
    INTEGRITY_REPORT_SOURCE_SYSTEM: _ClassVar[IntegrityReportSource]
BADGE_STATUS_UNSPECIFIED: BadgeStatus
BADGE_STATUS_ACTIVE: BadgeStatus
BADGE_STATUS_MAINTENANCE: BadgeStatus
BADGE_STATUS_RETIRED: BadgeStatus
RECORDING_STATE_UNSPECIFIED: RecordingState
RECORDING_STATE_OFF: RecordingState
RECORDING_STATE_BUFFERING: RecordingState
RECORDING_STATE_ON: RecordingState
RECORDING_STATE_ERROR: RecordingState
SENSOR_EVENT_KIND_UNSPECIFIED: SensorEventKind
SENSOR_EVENT_KIND_PANIC: SensorEventKind
SENSOR_EVENT_KIND_PANIC_CANCELLED: SensorEventKind
SENSOR_EVENT_KIND_TAMPER: SensorEventKind
SENSOR_EVENT_KIND_FORCED_SHUTDOWN: SensorEventKind
SENSOR_EVENT_KIND_RECORD_BUTTON: SensorEventKind
SENSOR_EVENT_KIND_DOCKED: SensorEventKind
SENSOR_EVENT_KIND_UNDOCKED: SensorEventKind
EVIDENCE_STATUS_UNSPECIFIED: EvidenceStatus
EVIDENCE_STATUS_UPLOADING: EvidenceStatus
EVIDENCE_STATUS_STORED: EvidenceStatus
EVIDENCE_STATUS_CORRUPTED: EvidenceStatus
EVIDENCE_STATUS_DELETED: EvidenceStatus
CUSTODY_ACTION_UNSPECIFIED: CustodyAction
CUSTODY_ACTION_CAPTURED: CustodyAction
CUSTODY_ACTION_RECEIVED: CustodyAction
CUSTODY_ACTION_STORED: CustodyAction
CUSTODY_ACTION_VIEWED: CustodyAction
CUSTODY_ACTION_SHARED: CustodyAction
CUSTODY_ACTION_EXPORTED: CustodyAction
CUSTODY_ACTION_VERIFIED: CustodyAction
CUSTODY_ACTION_VERIFICATION_FAILED: CustodyAction
CUSTODY_ACTION_LEGAL_HOLD_SET: CustodyAction
CUSTODY_ACTION_LEGAL_HOLD_RELEASED: CustodyAction
CUSTODY_ACTION_CASE_LINKED: CustodyAction
CUSTODY_ACTION_DELETED_BY_RETENTION: CustodyAction
CITATION_STATUS_UNSPECIFIED: CitationStatus
CITATION_STATUS_ISSUED: CitationStatus
CITATION_STATUS_PAID: CitationStatus
CITATION_STATUS_CONTESTED: CitationStatus
CITATION_STATUS_UPHELD: CitationStatus
CITATION_STATUS_VOIDED: CitationStatus
INTEGRITY_REPORT_SOURCE_UNSPECIFIED: IntegrityReportSource
INTEGRITY_REPORT_SOURCE_OFFICER: IntegrityReportSource
INTEGRITY_REPORT_SOURCE_SYSTEM: IntegrityReportSource

class Badge(_message.Message):
    __slots__ = ("badge_id", "agency_id", "unit_id", "serial_number", "firmware_version", "status", "officer_id", "registered_at", "updated_at", "has_device_credential")
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    UNIT_ID_FIELD_NUMBER: _ClassVar[int]
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    FIRMWARE_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OFFICER_ID_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    HAS_DEVICE_CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    badge_id: str
    agency_id: str
    unit_id: str
    serial_number: str
    firmware_version: str
    status: BadgeStatus
    officer_id: str
    registered_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    has_device_credential: bool
    def __init__(self, badge_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., unit_id: _Optional[str] = ..., serial_number: _Optional[str] = ..., firmware_version: _Optional[str] = ..., status: _Optional[_Union[BadgeStatus, str, int]] = ..., officer_id: _Optional[str] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., has_device_credential: _Optional[bool] = ...) -> None: ...

class OfficerAssignment(_message.Message):
    __slots__ = ("badge_id", "officer_id", "started_at", "ended_at", "assigned_by")
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    OFFICER_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_BY_FIELD_NUMBER: _ClassVar[int]
    badge_id: str
    officer_id: str
    started_at: _timestamp_pb2.Timestamp
    ended_at: _timestamp_pb2.Timestamp
    assigned_by: str
    def __init__(self, badge_id: _Optional[str] = ..., officer_id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., assigned_by: _Optional[str] = ...) -> None: ...

class RegisterBadgeRequest(_message.Message):
    __slots__ = ("badge_id", "agency_id", "unit_id", "serial_number", "firmware_version")
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    UNIT_ID_FIELD_NUMBER: _ClassVar[int]
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    FIRMWARE_VERSION_FIELD_NUMBER: _ClassVar[int]
    badge_id: str
    agency_id: str
    unit_id: str
    serial_number: str
    firmware_version: str
    def __init__(self, badge_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., unit_id: _Optional[str] = ..., serial_number: _Optional[str] = ..., firmware_version: _Optional[str] = ...) -> None: ...

class RegisterBadgeResponse(_message.Message):
    __slots__ = ("badge", "device_token")
    BADGE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    badge: Badge
    device_token: str
    def __init__(self, badge: _Optional[_Union[Badge, _Mapping]] = ..., device_token: _Optional[str] = ...) -> None: ...

class GetBadgeRequest(_message.Message):
    __slots__ = ("badge_id",)
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    badge_id: str
    def __init__(self, badge_id: _Optional[str] = ...) -> None: ...

class GetBadgeResponse(_message.Message):
    __slots__ = ("badge", "assignments")
    BADGE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    badge: Badge
    assignments: _containers.RepeatedCompositeFieldContainer[OfficerAssignment]
    def __init__(self, badge: _Optional[_Union[Badge, _Mapping]] = ..., assignments: _Optional[_Iterable[_Union[OfficerAssignment, _Mapping]]] = ...) -> None: ...

class ListBadgesRequest(_message.Message):
    __slots__ = ("agency_id", "unit_id", "status", "page")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    UNIT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    unit_id: str
    status: BadgeStatus
    page: _common_pb2.PageRequest
    def __init__(self, agency_id: _Optional[str] = ..., unit_id: _Optional[str] = ..., status: _Optional[_Union[BadgeStatus, str, int]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListBadgesResponse(_message.Message):
    __slots__ = ("badges", "page")
    BADGES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    badges: _containers.RepeatedCompositeFieldContainer[Badge]
    page: _common_pb2.PageResponse
    def __init__(self, badges: _Optional[_Iterable[_Union[Badge, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class AssignOfficerRequest(_message.Message):
    __slots__ = ("badge_id", "officer_id", "started_at")
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    OFFICER_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    badge_id: str
    officer_id: str
    started_at: _timestamp_pb2.Timestamp
    def __init__(self, badge_id: _Optional[str] = ..., officer_id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AssignOfficerResponse(_message.Message):
    __slots__ = ("badge", "assignment")
    BADGE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    badge: Badge
    assignment: OfficerAssignment
    def __init__(self, badge: _Optional[_Union[Badge, _Mapping]] = ..., assignment: _Optional[_Union[OfficerAssignment, _Mapping]] = ...) -> None: ...

class UpdateBadgeRequest(_message.Message):
    __slots__ = ("badge", "update_mask")
    BADGE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    badge: Badge
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, badge: _Optional[_Union[Badge, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateBadgeResponse(_message.Message):
    __slots__ = ("badge",)
    BADGE_FIELD_NUMBER: _ClassVar[int]
    badge: Badge
    def __init__(self, badge: _Optional[_Union[Badge, _Mapping]] = ...) -> None: ...

class IssueDeviceCredentialRequest(_message.Message):
    __slots__ = ("badge_id",)
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    badge_id: str
    def __init__(self, badge_id: _Optional[str] = ...) -> None: ...

class IssueDeviceCredentialResponse(_message.Message):
    __slots__ = ("badge", "device_token")
    BADGE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    badge: Badge
    device_token: str
    def __init__(self, badge: _Optional[_Union[Badge, _Mapping]] = ..., device_token: _Optional[str] = ...) -> None: ...

class RevokeDeviceCredentialRequest(_message.Message):
    __slots__ = ("badge_id",)
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    badge_id: str
    def __init__(self, badge_id: _Optional[str] = ...) -> None: ...

class RevokeDeviceCredentialResponse(_message.Message):
    __slots__ = ("badge", "revoked")
    BADGE_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    badge: Badge
    revoked: bool
    def __init__(self, badge: _Optional[_Union[Badge, _Mapping]] = ..., revoked: _Optional[bool] = ...) -> None: ...

class SensorEvent(_message.Message):
    __slots__ = ("kind", "device_time", "detail")
    KIND_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TIME_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    kind: SensorEventKind
    device_time: _timestamp_pb2.Timestamp
    detail: str
    def __init__(self, kind: _Optional[_Union[SensorEventKind, str, int]] = ..., device_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., detail: _Optional[str] = ...) -> None: ...

class TelemetryReport(_message.Message):
    __slots__ = ("seq", "device_time", "position", "speed_mps", "heading_deg", "battery_percent", "charging", "recording", "storage_free_bytes", "storage_total_bytes", "events")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TIME_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    SPEED_MPS_FIELD_NUMBER: _ClassVar[int]
    HEADING_DEG_FIELD_NUMBER: _ClassVar[int]
    BATTERY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    CHARGING_FIELD_NUMBER: _ClassVar[int]
    RECORDING_FIELD_NUMBER: _ClassVar[int]
    STORAGE_FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    STORAGE_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    seq: int
    device_time: _timestamp_pb2.Timestamp
    position: _common_pb2.GeoPoint
    speed_mps: float
    heading_deg: float
    battery_percent: float
    charging: bool
    recording: RecordingState
    storage_free_bytes: int
    storage_total_bytes: int
    events: _containers.RepeatedCompositeFieldContainer[SensorEvent]
    def __init__(self, seq: _Optional[int] = ..., device_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., position: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., speed_mps: _Optional[float] = ..., heading_deg: _Optional[float] = ..., battery_percent: _Optional[float] = ..., charging: _Optional[bool] = ..., recording: _Optional[_Union[RecordingState, str, int]] = ..., storage_free_bytes: _Optional[int] = ..., storage_total_bytes: _Optional[int] = ..., events: _Optional[_Iterable[_Union[SensorEvent, _Mapping]]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("badge_id", "firmware_version", "last_acked_seq", "device_time")
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    FIRMWARE_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAST_ACKED_SEQ_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TIME_FIELD_NUMBER: _ClassVar[int]
    badge_id: str
    firmware_version: str
    last_acked_seq: int
    device_time: _timestamp_pb2.Timestamp
    def __init__(self, badge_id: _Optional[str] = ..., firmware_version: _Optional[str] = ..., last_acked_seq: _Optional[int] = ..., device_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("device_time",)
    DEVICE_TIME_FIELD_NUMBER: _ClassVar[int]
    device_time: _timestamp_pb2.Timestamp
    def __init__(self, device_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CommandResult(_message.Message):
    __slots__ = ("command_id", "ok", "message")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    ok: bool
    message: str
    def __init__(self, command_id: _Optional[str] = ..., ok: _Optional[bool] = ..., message: _Optional[str] = ...) -> None: ...

class ConnectRequest(_message.Message):
    __slots__ = ("hello", "heartbeat", "report", "command_result")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    COMMAND_RESULT_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    heartbeat: Heartbeat
    report: TelemetryReport
    command_result: CommandResult
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., report: _Optional[_Union[TelemetryReport, _Mapping]] = ..., command_result: _Optional[_Union[CommandResult, _Mapping]] = ...) -> None: ...

class BadgeSettings(_message.Message):
    __slots__ = ("report_interval_s", "pre_record_s", "record_on_panic")
    REPORT_INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    PRE_RECORD_S_FIELD_NUMBER: _ClassVar[int]
    RECORD_ON_PANIC_FIELD_NUMBER: _ClassVar[int]
    report_interval_s: int
    pre_record_s: int
    record_on_panic: bool
    def __init__(self, report_interval_s: _Optional[int] = ..., pre_record_s: _Optional[int] = ..., record_on_panic: _Optional[bool] = ...) -> None: ...

class StartRecordingCommand(_message.Message):
    __slots__ = ("reason", "incident_id")
    REASON_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    reason: str
    incident_id: str
    def __init__(self, reason: _Optional[str] = ..., incident_id: _Optional[str] = ...) -> None: ...

class UploadNowCommand(_message.Message):
    __slots__ = ("since",)
    SINCE_FIELD_NUMBER: _ClassVar[int]
    since: _timestamp_pb2.Timestamp
    def __init__(self, since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BadgeCommand(_message.Message):
    __slots__ = ("command_id", "start_recording", "upload_now", "settings")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    START_RECORDING_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_NOW_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    start_recording: StartRecordingCommand
    upload_now: UploadNowCommand
    settings: BadgeSettings
    def __init__(self, command_id: _Optional[str] = ..., start_recording: _Optional[_Union[StartRecordingCommand, _Mapping]] = ..., upload_now: _Optional[_Union[UploadNowCommand, _Mapping]] = ..., settings: _Optional[_Union[BadgeSettings, _Mapping]] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("acked_seq", "server_time", "settings")
    ACKED_SEQ_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    acked_seq: int
    server_time: _timestamp_pb2.Timestamp
    settings: BadgeSettings
    def __init__(self, acked_seq: _Optional[int] = ..., server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settings: _Optional[_Union[BadgeSettings, _Mapping]] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("up_to_seq",)
    UP_TO_SEQ_FIELD_NUMBER: _ClassVar[int]
    up_to_seq: int
    def __init__(self, up_to_seq: _Optional[int] = ...) -> None: ...

class ConnectResponse(_message.Message):
    __slots__ = ("welcome", "ack", "command")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    welcome: Welcome
    ack: Ack
    command: BadgeCommand
    def __init__(self, welcome: _Optional[_Union[Welcome, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., command: _Optional[_Union[BadgeCommand, _Mapping]] = ...) -> None: ...

class SendCommandRequest(_message.Message):
    __slots__ = ("badge_id", "command")
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    badge_id: str
    command: BadgeCommand
    def __init__(self, badge_id: _Optional[str] = ..., command: _Optional[_Union[BadgeCommand, _Mapping]] = ...) -> None: ...

class SendCommandResponse(_message.Message):
    __slots__ = ("command_id", "delivered")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    delivered: bool
    def __init__(self, command_id: _Optional[str] = ..., delivered: _Optional[bool] = ...) -> None: ...

class BadgeState(_message.Message):
    __slots__ = ("badge_id", "agency_id", "unit_id", "officer_id", "connected", "last_seen", "last_report", "panic_active", "tamper", "incident_id", "signal_lost", "acked_seq")
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    UNIT_ID_FIELD_NUMBER: _ClassVar[int]
    OFFICER_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_REPORT_FIELD_NUMBER: _ClassVar[int]
    PANIC_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    TAMPER_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_LOST_FIELD_NUMBER: _ClassVar[int]
    ACKED_SEQ_FIELD_NUMBER: _ClassVar[int]
    badge_id: str
    agency_id: str
    unit_id: str
    officer_id: str
    connected: bool
    last_seen: _timestamp_pb2.Timestamp
    last_report: TelemetryReport
    panic_active: bool
    tamper: bool
    incident_id: str
    signal_lost: bool
    acked_seq: int
    def __init__(self, badge_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., unit_id: _Optional[str] = ..., officer_id: _Optional[str] = ..., connected: _Optional[bool] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_report: _Optional[_Union[TelemetryReport, _Mapping]] = ..., panic_active: _Optional[bool] = ..., tamper: _Optional[bool] = ..., incident_id: _Optional[str] = ..., signal_lost: _Optional[bool] = ..., acked_seq: _Optional[int] = ...) -> None: ...

class GetBadgeStateRequest(_message.Message):
    __slots__ = ("badge_id",)
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    badge_id: str
    def __init__(self, badge_id: _Optional[str] = ...) -> None: ...

class GetBadgeStateResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: BadgeState
    def __init__(self, state: _Optional[_Union[BadgeState, _Mapping]] = ...) -> None: ...

class ListBadgeStatesRequest(_message.Message):
    __slots__ = ("agency_id", "unit_id", "connected_only", "page")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    UNIT_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_ONLY_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    unit_id: str
    connected_only: bool
    page: _common_pb2.PageRequest
    def __init__(self, agency_id: _Optional[str] = ..., unit_id: _Optional[str] = ..., connected_only: _Optional[bool] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListBadgeStatesResponse(_message.Message):
    __slots__ = ("states", "page")
    STATES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedCompositeFieldContainer[BadgeState]
    page: _common_pb2.PageResponse
    def __init__(self, states: _Optional[_Iterable[_Union[BadgeState, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class WatchBadgeStatesRequest(_message.Message):
    __slots__ = ("agency_id", "unit_id")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    UNIT_ID_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    unit_id: str
    def __init__(self, agency_id: _Optional[str] = ..., unit_id: _Optional[str] = ...) -> None: ...

class WatchBadgeStatesResponse(_message.Message):
    __slots__ = ("state", "snapshot_complete")
    STATE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    state: BadgeState
    snapshot_complete: bool
    def __init__(self, state: _Optional[_Union[BadgeState, _Mapping]] = ..., snapshot_complete: _Optional[bool] = ...) -> None: ...

class TelemetryRecord(_message.Message):
    __slots__ = ("badge_id", "report", "received_at")
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    badge_id: str
    report: TelemetryReport
    received_at: _timestamp_pb2.Timestamp
    def __init__(self, badge_id: _Optional[str] = ..., report: _Optional[_Union[TelemetryReport, _Mapping]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetTelemetryHistoryRequest(_message.Message):
    __slots__ = ("badge_id", "since", "until", "page")
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    badge_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    page: _common_pb2.PageRequest
    def __init__(self, badge_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class GetTelemetryHistoryResponse(_message.Message):
    __slots__ = ("records", "page")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[TelemetryRecord]
    page: _common_pb2.PageResponse
    def __init__(self, records: _Optional[_Iterable[_Union[TelemetryRecord, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class EvidenceMetadata(_message.Message):
    __slots__ = ("upload_id", "badge_id", "captured_at", "captured_until", "category", "content_type", "total_size", "sha256", "chunk_size", "location", "case_id", "incident_id", "description")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_AT_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    badge_id: str
    captured_at: _timestamp_pb2.Timestamp
    captured_until: _timestamp_pb2.Timestamp
    category: str
    content_type: str
    total_size: int
    sha256: str
    chunk_size: int
    location: _common_pb2.GeoPoint
    case_id: str
    incident_id: str
    description: str
    def __init__(self, upload_id: _Optional[str] = ..., badge_id: _Optional[str] = ..., captured_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., captured_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., category: _Optional[str] = ..., content_type: _Optional[str] = ..., total_size: _Optional[int] = ..., sha256: _Optional[str] = ..., chunk_size: _Optional[int] = ..., location: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., case_id: _Optional[str] = ..., incident_id: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class EvidenceChunk(_message.Message):
    __slots__ = ("index", "data", "sha256")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    index: int
    data: bytes
    sha256: str
    def __init__(self, index: _Optional[int] = ..., data: _Optional[bytes] = ..., sha256: _Optional[str] = ...) -> None: ...

class UploadEvidenceRequest(_message.Message):
    __slots__ = ("metadata", "chunk")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    metadata: EvidenceMetadata
    chunk: EvidenceChunk
    def __init__(self, metadata: _Optional[_Union[EvidenceMetadata, _Mapping]] = ..., chunk: _Optional[_Union[EvidenceChunk, _Mapping]] = ...) -> None: ...

class Evidence(_message.Message):
    __slots__ = ("evidence_id", "agency_id", "badge_id", "officer_id", "category", "status", "captured_at", "captured_until", "stored_at", "object", "location", "case_id", "case_closed_at", "incident_id", "legal_hold", "retain_until", "description", "upload_id")
    EVIDENCE_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    OFFICER_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_AT_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    STORED_AT_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    LEGAL_HOLD_FIELD_NUMBER: _ClassVar[int]
    RETAIN_UNTIL_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    evidence_id: str
    agency_id: str
    badge_id: str
    officer_id: str
    category: str
    status: EvidenceStatus
    captured_at: _timestamp_pb2.Timestamp
    captured_until: _timestamp_pb2.Timestamp
    stored_at: _timestamp_pb2.Timestamp
    object: _common_pb2.ObjectRef
    location: _common_pb2.GeoPoint
    case_id: str
    case_closed_at: _timestamp_pb2.Timestamp
    incident_id: str
    legal_hold: bool
    retain_until: _timestamp_pb2.Timestamp
    description: str
    upload_id: str
    def __init__(self, evidence_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., badge_id: _Optional[str] = ..., officer_id: _Optional[str] = ..., category: _Optional[str] = ..., status: _Optional[_Union[EvidenceStatus, str, int]] = ..., captured_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., captured_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stored_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., object: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ..., location: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., case_id: _Optional[str] = ..., case_closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., incident_id: _Optional[str] = ..., legal_hold: _Optional[bool] = ..., retain_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., description: _Optional[str] = ..., upload_id: _Optional[str] = ...) -> None: ...

class UploadEvidenceResponse(_message.Message):
    __slots__ = ("upload_id", "complete", "missing_chunks", "rejected_chunks", "evidence")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    MISSING_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    complete: bool
    missing_chunks: _containers.RepeatedScalarFieldContainer[int]
    rejected_chunks: _containers.RepeatedScalarFieldContainer[int]
    evidence: Evidence
    def __init__(self, upload_id: _Optional[str] = ..., complete: _Optional[bool] = ..., missing_chunks: _Optional[_Iterable[int]] = ..., rejected_chunks: _Optional[_Iterable[int]] = ..., evidence: _Optional[_Union[Evidence, _Mapping]] = ...) -> None: ...

class GetUploadStatusRequest(_message.Message):
    __slots__ = ("upload_id",)
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    def __init__(self, upload_id: _Optional[str] = ...) -> None: ...

class GetUploadStatusResponse(_message.Message):
    __slots__ = ("upload_id", "complete", "total_chunks", "confirmed_chunks", "missing_chunks", "evidence")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    MISSING_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    complete: bool
    total_chunks: int
    confirmed_chunks: _containers.RepeatedScalarFieldContainer[int]
    missing_chunks: _containers.RepeatedScalarFieldContainer[int]
    evidence: Evidence
    def __init__(self, upload_id: _Optional[str] = ..., complete: _Optional[bool] = ..., total_chunks: _Optional[int] = ..., confirmed_chunks: _Optional[_Iterable[int]] = ..., missing_chunks: _Optional[_Iterable[int]] = ..., evidence: _Optional[_Union[Evidence, _Mapping]] = ...) -> None: ...

class GetEvidenceRequest(_message.Message):
    __slots__ = ("evidence_id", "include_download_url", "reason")
    EVIDENCE_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DOWNLOAD_URL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    evidence_id: str
    include_download_url: bool
    reason: str
    def __init__(self, evidence_id: _Optional[str] = ..., include_download_url: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class GetEvidenceResponse(_message.Message):
    __slots__ = ("evidence", "download_url")
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    DOWNLOAD_URL_FIELD_NUMBER: _ClassVar[int]
    evidence: Evidence
    download_url: str
    def __init__(self, evidence: _Optional[_Union[Evidence, _Mapping]] = ..., download_url: _Optional[str] = ...) -> None: ...

class ListEvidenceRequest(_message.Message):
    __slots__ = ("agency_id", "badge_id", "category", "case_id", "since", "until", "page", "incident_id")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    badge_id: str
    category: str
    case_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    page: _common_pb2.PageRequest
    incident_id: str
    def __init__(self, agency_id: _Optional[str] = ..., badge_id: _Optional[str] = ..., category: _Optional[str] = ..., case_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., incident_id: _Optional[str] = ...) -> None: ...

class ListEvidenceResponse(_message.Message):
    __slots__ = ("evidence", "page")
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    evidence: _containers.RepeatedCompositeFieldContainer[Evidence]
    page: _common_pb2.PageResponse
    def __init__(self, evidence: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class CustodyRecord(_message.Message):
    __slots__ = ("evidence_id", "seq", "action", "actor", "actor_agency_id", "at", "object_sha256", "details", "prev_hash", "hash")
    EVIDENCE_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTOR_AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    OBJECT_SHA256_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    evidence_id: str
    seq: int
    action: CustodyAction
    actor: str
    actor_agency_id: str
    at: _timestamp_pb2.Timestamp
    object_sha256: str
    details: _struct_pb2.Struct
    prev_hash: str
    hash: str
    def __init__(self, evidence_id: _Optional[str] = ..., seq: _Optional[int] = ..., action: _Optional[_Union[CustodyAction, str, int]] = ..., actor: _Optional[str] = ..., actor_agency_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., object_sha256: _Optional[str] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., prev_hash: _Optional[str] = ..., hash: _Optional[str] = ...) -> None: ...

class GetCustodyRequest(_message.Message):
    __slots__ = ("evidence_id",)
    EVIDENCE_ID_FIELD_NUMBER: _ClassVar[int]
    evidence_id: str
    def __init__(self, evidence_id: _Optional[str] = ...) -> None: ...

class GetCustodyResponse(_message.Message):
    __slots__ = ("records", "chain_ok")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    CHAIN_OK_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[CustodyRecord]
    chain_ok: bool
    def __init__(self, records: _Optional[_Iterable[_Union[CustodyRecord, _Mapping]]] = ..., chain_ok: _Optional[bool] = ...) -> None: ...

class ShareEvidenceRequest(_message.Message):
    __slots__ = ("evidence_id", "recipient_agency_id", "reason")
    EVIDENCE_ID_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    evidence_id: str
    recipient_agency_id: str
    reason: str
    def __init__(self, evidence_id: _Optional[str] = ..., recipient_agency_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ShareEvidenceResponse(_message.Message):
    __slots__ = ("evidence",)
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    evidence: Evidence
    def __init__(self, evidence: _Optional[_Union[Evidence, _Mapping]] = ...) -> None: ...

class ExportEvidenceRequest(_message.Message):
    __slots__ = ("evidence_ids", "recipient", "reason", "url_ttl_s")
    EVIDENCE_IDS_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    URL_TTL_S_FIELD_NUMBER: _ClassVar[int]
    evidence_ids: _containers.RepeatedScalarFieldContainer[str]
    recipient: str
    reason: str
    url_ttl_s: int
    def __init__(self, evidence_ids: _Optional[_Iterable[str]] = ..., recipient: _Optional[str] = ..., reason: _Optional[str] = ..., url_ttl_s: _Optional[int] = ...) -> None: ...

class ExportItem(_message.Message):
    __slots__ = ("evidence", "download_url", "custody")
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    DOWNLOAD_URL_FIELD_NUMBER: _ClassVar[int]
    CUSTODY_FIELD_NUMBER: _ClassVar[int]
    evidence: Evidence
    download_url: str
    custody: _containers.RepeatedCompositeFieldContainer[CustodyRecord]
    def __init__(self, evidence: _Optional[_Union[Evidence, _Mapping]] = ..., download_url: _Optional[str] = ..., custody: _Optional[_Iterable[_Union[CustodyRecord, _Mapping]]] = ...) -> None: ...

class ExportEvidenceResponse(_message.Message):
    __slots__ = ("export_id", "exported_at", "items", "manifest_sha256", "manifest")
    EXPORT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPORTED_AT_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_SHA256_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    export_id: str
    exported_at: _timestamp_pb2.Timestamp
    items: _containers.RepeatedCompositeFieldContainer[ExportItem]
    manifest_sha256: str
    manifest: str
    def __init__(self, export_id: _Optional[str] = ..., exported_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., items: _Optional[_Iterable[_Union[ExportItem, _Mapping]]] = ..., manifest_sha256: _Optional[str] = ..., manifest: _Optional[str] = ...) -> None: ...

class SetLegalHoldRequest(_message.Message):
    __slots__ = ("evidence_id", "hold", "reason")
    EVIDENCE_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    evidence_id: str
    hold: bool
    reason: str
    def __init__(self, evidence_id: _Optional[str] = ..., hold: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class SetLegalHoldResponse(_message.Message):
    __slots__ = ("evidence",)
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    evidence: Evidence
    def __init__(self, evidence: _Optional[_Union[Evidence, _Mapping]] = ...) -> None: ...

class LinkEvidenceToCaseRequest(_message.Message):
    __slots__ = ("evidence_id", "case_id")
    EVIDENCE_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    evidence_id: str
    case_id: str
    def __init__(self, evidence_id: _Optional[str] = ..., case_id: _Optional[str] = ...) -> None: ...

class LinkEvidenceToCaseResponse(_message.Message):
    __slots__ = ("evidence",)
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    evidence: Evidence
    def __init__(self, evidence: _Optional[_Union[Evidence, _Mapping]] = ...) -> None: ...

class CloseCaseRequest(_message.Message):
    __slots__ = ("agency_id", "case_id")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    case_id: str
    def __init__(self, agency_id: _Optional[str] = ..., case_id: _Optional[str] = ...) -> None: ...

class CloseCaseResponse(_message.Message):
    __slots__ = ("evidence_count",)
    EVIDENCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    evidence_count: int
    def __init__(self, evidence_count: _Optional[int] = ...) -> None: ...

class RetentionPolicy(_message.Message):
    __slots__ = ("agency_id", "category", "retention_days", "until_case_closed", "days_after_case_closed")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    RETENTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    UNTIL_CASE_CLOSED_FIELD_NUMBER: _ClassVar[int]
    DAYS_AFTER_CASE_CLOSED_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    category: str
    retention_days: int
    until_case_closed: bool
    days_after_case_closed: int
    def __init__(self, agency_id: _Optional[str] = ..., category: _Optional[str] = ..., retention_days: _Optional[int] = ..., until_case_closed: _Optional[bool] = ..., days_after_case_closed: _Optional[int] = ...) -> None: ...

class SetRetentionPolicyRequest(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: RetentionPolicy
    def __init__(self, policy: _Optional[_Union[RetentionPolicy, _Mapping]] = ...) -> None: ...

class SetRetentionPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: RetentionPolicy
    def __init__(self, policy: _Optional[_Union[RetentionPolicy, _Mapping]] = ...) -> None: ...

class ListRetentionPoliciesRequest(_message.Message):
    __slots__ = ("agency_id",)
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    def __init__(self, agency_id: _Optional[str] = ...) -> None: ...

class ListRetentionPoliciesResponse(_message.Message):
    __slots__ = ("policies",)
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    policies: _containers.RepeatedCompositeFieldContainer[RetentionPolicy]
    def __init__(self, policies: _Optional[_Iterable[_Union[RetentionPolicy, _Mapping]]] = ...) -> None: ...

class RunRetentionRequest(_message.Message):
    __slots__ = ("agency_id",)
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    def __init__(self, agency_id: _Optional[str] = ...) -> None: ...

class RunRetentionResponse(_message.Message):
    __slots__ = ("deleted_evidence_ids",)
    DELETED_EVIDENCE_IDS_FIELD_NUMBER: _ClassVar[int]
    deleted_evidence_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, deleted_evidence_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class VerificationResult(_message.Message):
    __slots__ = ("evidence_id", "ok", "expected_sha256", "actual_sha256", "reason")
    EVIDENCE_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SHA256_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_SHA256_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    evidence_id: str
    ok: bool
    expected_sha256: str
    actual_sha256: str
    reason: str
    def __init__(self, evidence_id: _Optional[str] = ..., ok: _Optional[bool] = ..., expected_sha256: _Optional[str] = ..., actual_sha256: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class VerifyEvidenceRequest(_message.Message):
    __slots__ = ("evidence_id", "agency_id")
    EVIDENCE_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    evidence_id: str
    agency_id: str
    def __init__(self, evidence_id: _Optional[str] = ..., agency_id: _Optional[str] = ...) -> None: ...

class VerifyEvidenceResponse(_message.Message):
    __slots__ = ("results", "checked", "failed")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    CHECKED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[VerificationResult]
    checked: int
    failed: int
    def __init__(self, results: _Optional[_Iterable[_Union[VerificationResult, _Mapping]]] = ..., checked: _Optional[int] = ..., failed: _Optional[int] = ...) -> None: ...

class OffenceCode(_message.Message):
    __slots__ = ("code", "description", "fine_minor_units")
    CODE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FINE_MINOR_UNITS_FIELD_NUMBER: _ClassVar[int]
    code: str
    description: str
    fine_minor_units: int
    def __init__(self, code: _Optional[str] = ..., description: _Optional[str] = ..., fine_minor_units: _Optional[int] = ...) -> None: ...

class CitedPerson(_message.Message):
    __slots__ = ("full_name", "document_id", "date_of_birth", "address")
    FULL_NAME_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    DATE_OF_BIRTH_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    full_name: str
    document_id: str
    date_of_birth: str
    address: str
    def __init__(self, full_name: _Optional[str] = ..., document_id: _Optional[str] = ..., date_of_birth: _Optional[str] = ..., address: _Optional[str] = ...) -> None: ...

class CitedVehicle(_message.Message):
    __slots__ = ("plate", "country", "make", "model", "colour")
    PLATE_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    MAKE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    COLOUR_FIELD_NUMBER: _ClassVar[int]
    plate: str
    country: str
    make: str
    model: str
    colour: str
    def __init__(self, plate: _Optional[str] = ..., country: _Optional[str] = ..., make: _Optional[str] = ..., model: _Optional[str] = ..., colour: _Optional[str] = ...) -> None: ...

class CitationTransition(_message.Message):
    __slots__ = ("from_status", "to_status", "actor", "at", "reason")
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    from_status: CitationStatus
    to_status: CitationStatus
    actor: str
    at: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, from_status: _Optional[_Union[CitationStatus, str, int]] = ..., to_status: _Optional[_Union[CitationStatus, str, int]] = ..., actor: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class CitationRegisterExport(_message.Message):
    __slots__ = ("register_id", "exported_at", "exported_version", "last_error", "rejected")
    REGISTER_ID_FIELD_NUMBER: _ClassVar[int]
    EXPORTED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPORTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    register_id: str
    exported_at: _timestamp_pb2.Timestamp
    exported_version: int
    last_error: str
    rejected: bool
    def __init__(self, register_id: _Optional[str] = ..., exported_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., exported_version: _Optional[int] = ..., last_error: _Optional[str] = ..., rejected: _Optional[bool] = ...) -> None: ...

class Citation(_message.Message):
    __slots__ = ("citation_id", "agency_id", "officer_id", "badge_id", "occurred_at", "location", "offence_code", "offence_description", "person", "vehicle", "evidence_ids", "notes", "created_at", "status", "history", "unit_id", "register", "next_statuses")
    CITATION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    OFFICER_ID_FIELD_NUMBER: _ClassVar[int]
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    OFFENCE_CODE_FIELD_NUMBER: _ClassVar[int]
    OFFENCE_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PERSON_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_IDS_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    UNIT_ID_FIELD_NUMBER: _ClassVar[int]
    REGISTER_FIELD_NUMBER: _ClassVar[int]
    NEXT_STATUSES_FIELD_NUMBER: _ClassVar[int]
    citation_id: str
    agency_id: str
    officer_id: str
    badge_id: str
    occurred_at: _timestamp_pb2.Timestamp
    location: _common_pb2.GeoPoint
    offence_code: str
    offence_description: str
    person: CitedPerson
    vehicle: CitedVehicle
    evidence_ids: _containers.RepeatedScalarFieldContainer[str]
    notes: str
    created_at: _timestamp_pb2.Timestamp
    status: CitationStatus
    history: _containers.RepeatedCompositeFieldContainer[CitationTransition]
    unit_id: str
    register: CitationRegisterExport
    next_statuses: _containers.RepeatedScalarFieldContainer[CitationStatus]
    def __init__(self, citation_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., officer_id: _Optional[str] = ..., badge_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., location: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., offence_code: _Optional[str] = ..., offence_description: _Optional[str] = ..., person: _Optional[_Union[CitedPerson, _Mapping]] = ..., vehicle: _Optional[_Union[CitedVehicle, _Mapping]] = ..., evidence_ids: _Optional[_Iterable[str]] = ..., notes: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[CitationStatus, str, int]] = ..., history: _Optional[_Iterable[_Union[CitationTransition, _Mapping]]] = ..., unit_id: _Optional[str] = ..., register: _Optional[_Union[CitationRegisterExport, _Mapping]] = ..., next_statuses: _Optional[_Iterable[_Union[CitationStatus, str, int]]] = ...) -> None: ...

class UpdateCitationStatusRequest(_message.Message):
    __slots__ = ("citation_id", "status", "reason")
    CITATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    citation_id: str
    status: CitationStatus
    reason: str
    def __init__(self, citation_id: _Optional[str] = ..., status: _Optional[_Union[CitationStatus, str, int]] = ..., reason: _Optional[str] = ...) -> None: ...

class UpdateCitationStatusResponse(_message.Message):
    __slots__ = ("citation",)
    CITATION_FIELD_NUMBER: _ClassVar[int]
    citation: Citation
    def __init__(self, citation: _Optional[_Union[Citation, _Mapping]] = ...) -> None: ...

class CreateCitationRequest(_message.Message):
    __slots__ = ("citation",)
    CITATION_FIELD_NUMBER: _ClassVar[int]
    citation: Citation
    def __init__(self, citation: _Optional[_Union[Citation, _Mapping]] = ...) -> None: ...

class CreateCitationResponse(_message.Message):
    __slots__ = ("citation",)
    CITATION_FIELD_NUMBER: _ClassVar[int]
    citation: Citation
    def __init__(self, citation: _Optional[_Union[Citation, _Mapping]] = ...) -> None: ...

class GetCitationRequest(_message.Message):
    __slots__ = ("citation_id",)
    CITATION_ID_FIELD_NUMBER: _ClassVar[int]
    citation_id: str
    def __init__(self, citation_id: _Optional[str] = ...) -> None: ...

class GetCitationResponse(_message.Message):
    __slots__ = ("citation",)
    CITATION_FIELD_NUMBER: _ClassVar[int]
    citation: Citation
    def __init__(self, citation: _Optional[_Union[Citation, _Mapping]] = ...) -> None: ...

class ListCitationsRequest(_message.Message):
    __slots__ = ("agency_id", "officer_id", "offence_code", "vehicle_plate", "since", "until", "page", "status")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    OFFICER_ID_FIELD_NUMBER: _ClassVar[int]
    OFFENCE_CODE_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_PLATE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    officer_id: str
    offence_code: str
    vehicle_plate: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    page: _common_pb2.PageRequest
    status: CitationStatus
    def __init__(self, agency_id: _Optional[str] = ..., officer_id: _Optional[str] = ..., offence_code: _Optional[str] = ..., vehicle_plate: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., status: _Optional[_Union[CitationStatus, str, int]] = ...) -> None: ...

class ListCitationsResponse(_message.Message):
    __slots__ = ("citations", "page")
    CITATIONS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    citations: _containers.RepeatedCompositeFieldContainer[Citation]
    page: _common_pb2.PageResponse
    def __init__(self, citations: _Optional[_Iterable[_Union[Citation, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class ListOffenceCodesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListOffenceCodesResponse(_message.Message):
    __slots__ = ("codes",)
    CODES_FIELD_NUMBER: _ClassVar[int]
    codes: _containers.RepeatedCompositeFieldContainer[OffenceCode]
    def __init__(self, codes: _Optional[_Iterable[_Union[OffenceCode, _Mapping]]] = ...) -> None: ...

class IntegrityReport(_message.Message):
    __slots__ = ("report_id", "agency_id", "source", "reported_by", "officer_id", "badge_id", "occurred_at", "location", "description", "evidence_ids", "created_at")
    REPORT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    REPORTED_BY_FIELD_NUMBER: _ClassVar[int]
    OFFICER_ID_FIELD_NUMBER: _ClassVar[int]
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_IDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    report_id: str
    agency_id: str
    source: IntegrityReportSource
    reported_by: str
    officer_id: str
    badge_id: str
    occurred_at: _timestamp_pb2.Timestamp
    location: _common_pb2.GeoPoint
    description: str
    evidence_ids: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, report_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., source: _Optional[_Union[IntegrityReportSource, str, int]] = ..., reported_by: _Optional[str] = ..., officer_id: _Optional[str] = ..., badge_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., location: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., description: _Optional[str] = ..., evidence_ids: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReportIntegrityRequest(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: IntegrityReport
    def __init__(self, report: _Optional[_Union[IntegrityReport, _Mapping]] = ...) -> None: ...

class ReportIntegrityResponse(_message.Message):
    __slots__ = ("report_id", "linked_evidence")
    REPORT_ID_FIELD_NUMBER: _ClassVar[int]
    LINKED_EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    report_id: str
    linked_evidence: int
    def __init__(self, report_id: _Optional[str] = ..., linked_evidence: _Optional[int] = ...) -> None: ...

class ListIntegrityReportsRequest(_message.Message):
    __slots__ = ("agency_id", "officer_id", "since", "until", "page")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    OFFICER_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    officer_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    page: _common_pb2.PageRequest
    def __init__(self, agency_id: _Optional[str] = ..., officer_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListIntegrityReportsResponse(_message.Message):
    __slots__ = ("reports", "page")
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[IntegrityReport]
    page: _common_pb2.PageResponse
    def __init__(self, reports: _Optional[_Iterable[_Union[IntegrityReport, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class GetBadgeStatisticsRequest(_message.Message):
    __slots__ = ("agency_id", "since", "until", "time_zone")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    time_zone: str
    def __init__(self, agency_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., time_zone: _Optional[str] = ...) -> None: ...

class CitationFigures(_message.Message):
    __slots__ = ("month", "unit_id", "offence_code", "issued", "paid", "contested", "upheld", "voided")
    MONTH_FIELD_NUMBER: _ClassVar[int]
    UNIT_ID_FIELD_NUMBER: _ClassVar[int]
    OFFENCE_CODE_FIELD_NUMBER: _ClassVar[int]
    ISSUED_FIELD_NUMBER: _ClassVar[int]
    PAID_FIELD_NUMBER: _ClassVar[int]
    CONTESTED_FIELD_NUMBER: _ClassVar[int]
    UPHELD_FIELD_NUMBER: _ClassVar[int]
    VOIDED_FIELD_NUMBER: _ClassVar[int]
    month: str
    unit_id: str
    offence_code: str
    issued: int
    paid: int
    contested: int
    upheld: int
    voided: int
    def __init__(self, month: _Optional[str] = ..., unit_id: _Optional[str] = ..., offence_code: _Optional[str] = ..., issued: _Optional[int] = ..., paid: _Optional[int] = ..., contested: _Optional[int] = ..., upheld: _Optional[int] = ..., voided: _Optional[int] = ...) -> None: ...

class IntegrityFigures(_message.Message):
    __slots__ = ("month", "reports")
    MONTH_FIELD_NUMBER: _ClassVar[int]
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    month: str
    reports: int
    def __init__(self, month: _Optional[str] = ..., reports: _Optional[int] = ...) -> None: ...

class GetBadgeStatisticsResponse(_message.Message):
    __slots__ = ("citations", "integrity_reports")
    CITATIONS_FIELD_NUMBER: _ClassVar[int]
    INTEGRITY_REPORTS_FIELD_NUMBER: _ClassVar[int]
    citations: _containers.RepeatedCompositeFieldContainer[CitationFigures]
    integrity_reports: _containers.RepeatedCompositeFieldContainer[IntegrityFigures]
    def __init__(self, citations: _Optional[_Iterable[_Union[CitationFigures, _Mapping]]] = ..., integrity_reports: _Optional[_Iterable[_Union[IntegrityFigures, _Mapping]]] = ...) -> None: ...

class AssignIncidentRequest(_message.Message):
    __slots__ = ("incident_id", "agency_id", "badge_ids", "summary", "location", "command_recording")
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    BADGE_IDS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    COMMAND_RECORDING_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    agency_id: str
    badge_ids: _containers.RepeatedScalarFieldContainer[str]
    summary: str
    location: _common_pb2.GeoPoint
    command_recording: bool
    def __init__(self, incident_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., badge_ids: _Optional[_Iterable[str]] = ..., summary: _Optional[str] = ..., location: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., command_recording: _Optional[bool] = ...) -> None: ...

class AssignIncidentResponse(_message.Message):
    __slots__ = ("incident_id", "badge_ids")
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    BADGE_IDS_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    badge_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, incident_id: _Optional[str] = ..., badge_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CloseIncidentRequest(_message.Message):
    __slots__ = ("incident_id",)
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    def __init__(self, incident_id: _Optional[str] = ...) -> None: ...

class CloseIncidentResponse(_message.Message):
    __slots__ = ("badge_ids",)
    BADGE_IDS_FIELD_NUMBER: _ClassVar[int]
    badge_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, badge_ids: _Optional[_Iterable[str]] = ...) -> None: ...
