import datetime

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

class AlertState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_STATE_UNSPECIFIED: _ClassVar[AlertState]
    ALERT_STATE_NEW: _ClassVar[AlertState]
    ALERT_STATE_ACKNOWLEDGED: _ClassVar[AlertState]
    ALERT_STATE_RESOLVED: _ClassVar[AlertState]

class AlertOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_OUTCOME_UNSPECIFIED: _ClassVar[AlertOutcome]
    ALERT_OUTCOME_ACTION_TAKEN: _ClassVar[AlertOutcome]
    ALERT_OUTCOME_NO_ACTION_NEEDED: _ClassVar[AlertOutcome]
    ALERT_OUTCOME_FALSE_ALARM: _ClassVar[AlertOutcome]
    ALERT_OUTCOME_DUPLICATE: _ClassVar[AlertOutcome]
    ALERT_OUTCOME_AUTO_RESOLVED: _ClassVar[AlertOutcome]
    ALERT_OUTCOME_TEST: _ClassVar[AlertOutcome]

class AlertUpdateKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_UPDATE_KIND_UNSPECIFIED: _ClassVar[AlertUpdateKind]
    ALERT_UPDATE_KIND_CREATED: _ClassVar[AlertUpdateKind]
    ALERT_UPDATE_KIND_UPDATED: _ClassVar[AlertUpdateKind]
    ALERT_UPDATE_KIND_ACKNOWLEDGED: _ClassVar[AlertUpdateKind]
    ALERT_UPDATE_KIND_RESOLVED: _ClassVar[AlertUpdateKind]
    ALERT_UPDATE_KIND_ESCALATED: _ClassVar[AlertUpdateKind]

class PublishDisposition(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PUBLISH_DISPOSITION_UNSPECIFIED: _ClassVar[PublishDisposition]
    PUBLISH_DISPOSITION_CREATED: _ClassVar[PublishDisposition]
    PUBLISH_DISPOSITION_FOLDED: _ClassVar[PublishDisposition]
    PUBLISH_DISPOSITION_DUPLICATE: _ClassVar[PublishDisposition]
    PUBLISH_DISPOSITION_RESOLVED: _ClassVar[PublishDisposition]
    PUBLISH_DISPOSITION_NO_OPEN_ALERT: _ClassVar[PublishDisposition]
    PUBLISH_DISPOSITION_REJECTED: _ClassVar[PublishDisposition]
    PUBLISH_DISPOSITION_AMENDED: _ClassVar[PublishDisposition]

class AlertOrder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_ORDER_UNSPECIFIED: _ClassVar[AlertOrder]
    ALERT_ORDER_PRIORITY: _ClassVar[AlertOrder]
    ALERT_ORDER_OLDEST_FIRST: _ClassVar[AlertOrder]
ALERT_STATE_UNSPECIFIED: AlertState
ALERT_STATE_NEW: AlertState
ALERT_STATE_ACKNOWLEDGED: AlertState
ALERT_STATE_RESOLVED: AlertState
ALERT_OUTCOME_UNSPECIFIED: AlertOutcome
ALERT_OUTCOME_ACTION_TAKEN: AlertOutcome
ALERT_OUTCOME_NO_ACTION_NEEDED: AlertOutcome
ALERT_OUTCOME_FALSE_ALARM: AlertOutcome
ALERT_OUTCOME_DUPLICATE: AlertOutcome
ALERT_OUTCOME_AUTO_RESOLVED: AlertOutcome
ALERT_OUTCOME_TEST: AlertOutcome
ALERT_UPDATE_KIND_UNSPECIFIED: AlertUpdateKind
ALERT_UPDATE_KIND_CREATED: AlertUpdateKind
ALERT_UPDATE_KIND_UPDATED: AlertUpdateKind
ALERT_UPDATE_KIND_ACKNOWLEDGED: AlertUpdateKind
ALERT_UPDATE_KIND_RESOLVED: AlertUpdateKind
ALERT_UPDATE_KIND_ESCALATED: AlertUpdateKind
PUBLISH_DISPOSITION_UNSPECIFIED: PublishDisposition
PUBLISH_DISPOSITION_CREATED: PublishDisposition
PUBLISH_DISPOSITION_FOLDED: PublishDisposition
PUBLISH_DISPOSITION_DUPLICATE: PublishDisposition
PUBLISH_DISPOSITION_RESOLVED: PublishDisposition
PUBLISH_DISPOSITION_NO_OPEN_ALERT: PublishDisposition
PUBLISH_DISPOSITION_REJECTED: PublishDisposition
PUBLISH_DISPOSITION_AMENDED: PublishDisposition
ALERT_ORDER_UNSPECIFIED: AlertOrder
ALERT_ORDER_PRIORITY: AlertOrder
ALERT_ORDER_OLDEST_FIRST: AlertOrder

class AlertEvidence(_message.Message):
    __slots__ = ("event_id", "occurred_at", "snapshot", "clip", "boxes", "track_ids", "location", "attributes", "summary")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    CLIP_FIELD_NUMBER: _ClassVar[int]
    BOXES_FIELD_NUMBER: _ClassVar[int]
    TRACK_IDS_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    occurred_at: _timestamp_pb2.Timestamp
    snapshot: _common_pb2.ObjectRef
    clip: _common_pb2.ObjectRef
    boxes: _containers.RepeatedCompositeFieldContainer[_common_pb2.Box]
    track_ids: _containers.RepeatedScalarFieldContainer[int]
    location: _common_pb2.GeoPoint
    attributes: _struct_pb2.Struct
    summary: str
    def __init__(self, event_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., snapshot: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ..., clip: _Optional[_Union[_common_pb2.ObjectRef, _Mapping]] = ..., boxes: _Optional[_Iterable[_Union[_common_pb2.Box, _Mapping]]] = ..., track_ids: _Optional[_Iterable[int]] = ..., location: _Optional[_Union[_common_pb2.GeoPoint, _Mapping]] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., summary: _Optional[str] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("alert_id", "agency_id", "site_id", "type", "severity", "priority", "state", "count", "first_seen_at", "last_seen_at", "source", "rule_id", "subject", "zone_id", "latest", "acknowledged_by", "acknowledged_at", "resolved_by", "resolved_at", "outcome", "note", "escalation_level", "ack_deadline", "duty_roles", "shared_with_agency_ids", "traceparent", "summary", "updated_at")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ZONE_ID_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_BY_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_BY_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    ACK_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    DUTY_ROLES_FIELD_NUMBER: _ClassVar[int]
    SHARED_WITH_AGENCY_IDS_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    agency_id: str
    site_id: str
    type: str
    severity: _common_pb2.Severity
    priority: int
    state: AlertState
    count: int
    first_seen_at: _timestamp_pb2.Timestamp
    last_seen_at: _timestamp_pb2.Timestamp
    source: _common_pb2.Source
    rule_id: str
    subject: str
    zone_id: str
    latest: AlertEvidence
    acknowledged_by: str
    acknowledged_at: _timestamp_pb2.Timestamp
    resolved_by: str
    resolved_at: _timestamp_pb2.Timestamp
    outcome: AlertOutcome
    note: str
    escalation_level: int
    ack_deadline: _timestamp_pb2.Timestamp
    duty_roles: _containers.RepeatedScalarFieldContainer[str]
    shared_with_agency_ids: _containers.RepeatedScalarFieldContainer[str]
    traceparent: str
    summary: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, alert_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., site_id: _Optional[str] = ..., type: _Optional[str] = ..., severity: _Optional[_Union[_common_pb2.Severity, str, int]] = ..., priority: _Optional[int] = ..., state: _Optional[_Union[AlertState, str, int]] = ..., count: _Optional[int] = ..., first_seen_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[_Union[_common_pb2.Source, _Mapping]] = ..., rule_id: _Optional[str] = ..., subject: _Optional[str] = ..., zone_id: _Optional[str] = ..., latest: _Optional[_Union[AlertEvidence, _Mapping]] = ..., acknowledged_by: _Optional[str] = ..., acknowledged_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolved_by: _Optional[str] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., outcome: _Optional[_Union[AlertOutcome, str, int]] = ..., note: _Optional[str] = ..., escalation_level: _Optional[int] = ..., ack_deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duty_roles: _Optional[_Iterable[str]] = ..., shared_with_agency_ids: _Optional[_Iterable[str]] = ..., traceparent: _Optional[str] = ..., summary: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AlertUpdate(_message.Message):
    __slots__ = ("cursor", "kind", "alert", "traceparent", "recorded_at", "actor")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ALERT_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    cursor: int
    kind: AlertUpdateKind
    alert: Alert
    traceparent: str
    recorded_at: _timestamp_pb2.Timestamp
    actor: str
    def __init__(self, cursor: _Optional[int] = ..., kind: _Optional[_Union[AlertUpdateKind, str, int]] = ..., alert: _Optional[_Union[Alert, _Mapping]] = ..., traceparent: _Optional[str] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ...) -> None: ...

class AlertFilter(_message.Message):
    __slots__ = ("agency_id", "site_ids", "min_severity", "types", "source_ids", "duty_roles")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    SITE_IDS_FIELD_NUMBER: _ClassVar[int]
    MIN_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    DUTY_ROLES_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    site_ids: _containers.RepeatedScalarFieldContainer[str]
    min_severity: _common_pb2.Severity
    types: _containers.RepeatedScalarFieldContainer[str]
    source_ids: _containers.RepeatedScalarFieldContainer[str]
    duty_roles: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, agency_id: _Optional[str] = ..., site_ids: _Optional[_Iterable[str]] = ..., min_severity: _Optional[_Union[_common_pb2.Severity, str, int]] = ..., types: _Optional[_Iterable[str]] = ..., source_ids: _Optional[_Iterable[str]] = ..., duty_roles: _Optional[_Iterable[str]] = ...) -> None: ...

class PublishRequest(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _common_pb2.Event
    def __init__(self, event: _Optional[_Union[_common_pb2.Event, _Mapping]] = ...) -> None: ...

class PublishResponse(_message.Message):
    __slots__ = ("alert_id", "disposition", "count", "cursor")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPOSITION_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    disposition: PublishDisposition
    count: int
    cursor: int
    def __init__(self, alert_id: _Optional[str] = ..., disposition: _Optional[_Union[PublishDisposition, str, int]] = ..., count: _Optional[int] = ..., cursor: _Optional[int] = ...) -> None: ...

class PublishBatchRequest(_message.Message):
    __slots__ = ("events", "traceparents")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_common_pb2.Event]
    traceparents: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, events: _Optional[_Iterable[_Union[_common_pb2.Event, _Mapping]]] = ..., traceparents: _Optional[_Iterable[str]] = ...) -> None: ...

class PublishResult(_message.Message):
    __slots__ = ("event_id", "alert_id", "disposition", "count", "cursor", "error")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPOSITION_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    alert_id: str
    disposition: PublishDisposition
    count: int
    cursor: int
    error: str
    def __init__(self, event_id: _Optional[str] = ..., alert_id: _Optional[str] = ..., disposition: _Optional[_Union[PublishDisposition, str, int]] = ..., count: _Optional[int] = ..., cursor: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class PublishBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[PublishResult]
    def __init__(self, results: _Optional[_Iterable[_Union[PublishResult, _Mapping]]] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("filter", "after_cursor", "max_batch")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    AFTER_CURSOR_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    filter: AlertFilter
    after_cursor: int
    max_batch: int
    def __init__(self, filter: _Optional[_Union[AlertFilter, _Mapping]] = ..., after_cursor: _Optional[int] = ..., max_batch: _Optional[int] = ...) -> None: ...

class AlertUpdateBatch(_message.Message):
    __slots__ = ("updates",)
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    updates: _containers.RepeatedCompositeFieldContainer[AlertUpdate]
    def __init__(self, updates: _Optional[_Iterable[_Union[AlertUpdate, _Mapping]]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("cursor", "sent_at")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    cursor: int
    sent_at: _timestamp_pb2.Timestamp
    def __init__(self, cursor: _Optional[int] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("update", "heartbeat", "batch")
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    update: AlertUpdate
    heartbeat: Heartbeat
    batch: AlertUpdateBatch
    def __init__(self, update: _Optional[_Union[AlertUpdate, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., batch: _Optional[_Union[AlertUpdateBatch, _Mapping]] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ("filter", "states", "since", "until", "order", "page")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    filter: AlertFilter
    states: _containers.RepeatedScalarFieldContainer[AlertState]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    order: AlertOrder
    page: _common_pb2.PageRequest
    def __init__(self, filter: _Optional[_Union[AlertFilter, _Mapping]] = ..., states: _Optional[_Iterable[_Union[AlertState, str, int]]] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., order: _Optional[_Union[AlertOrder, str, int]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ("alerts", "page")
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    page: _common_pb2.PageResponse
    def __init__(self, alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class GetAlertRequest(_message.Message):
    __slots__ = ("alert_id", "include_history")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_HISTORY_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    include_history: bool
    def __init__(self, alert_id: _Optional[str] = ..., include_history: _Optional[bool] = ...) -> None: ...

class GetAlertResponse(_message.Message):
    __slots__ = ("alert", "history")
    ALERT_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    history: _containers.RepeatedCompositeFieldContainer[AlertUpdate]
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ..., history: _Optional[_Iterable[_Union[AlertUpdate, _Mapping]]] = ...) -> None: ...

class AcknowledgeRequest(_message.Message):
    __slots__ = ("alert_id", "note")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    note: str
    def __init__(self, alert_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class AcknowledgeResponse(_message.Message):
    __slots__ = ("alert",)
    ALERT_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ...) -> None: ...

class ResolveRequest(_message.Message):
    __slots__ = ("alert_id", "outcome", "note")
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    alert_id: str
    outcome: AlertOutcome
    note: str
    def __init__(self, alert_id: _Optional[str] = ..., outcome: _Optional[_Union[AlertOutcome, str, int]] = ..., note: _Optional[str] = ...) -> None: ...

class ResolveResponse(_message.Message):
    __slots__ = ("alert",)
    ALERT_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ...) -> None: ...

class DutyAssignment(_message.Message):
    __slots__ = ("role", "days_of_week", "start_minute", "end_minute", "min_severity", "escalation_level")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    DAYS_OF_WEEK_FIELD_NUMBER: _ClassVar[int]
    START_MINUTE_FIELD_NUMBER: _ClassVar[int]
    END_MINUTE_FIELD_NUMBER: _ClassVar[int]
    MIN_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    role: str
    days_of_week: _containers.RepeatedScalarFieldContainer[int]
    start_minute: int
    end_minute: int
    min_severity: _common_pb2.Severity
    escalation_level: int
    def __init__(self, role: _Optional[str] = ..., days_of_week: _Optional[_Iterable[int]] = ..., start_minute: _Optional[int] = ..., end_minute: _Optional[int] = ..., min_severity: _Optional[_Union[_common_pb2.Severity, str, int]] = ..., escalation_level: _Optional[int] = ...) -> None: ...

class SiteConfig(_message.Message):
    __slots__ = ("agency_id", "site_id", "display_name", "time_zone", "duty", "ack_timeout_seconds", "max_escalation_level", "cooldown_seconds")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    DUTY_FIELD_NUMBER: _ClassVar[int]
    ACK_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_ESCALATION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    COOLDOWN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    site_id: str
    display_name: str
    time_zone: str
    duty: _containers.RepeatedCompositeFieldContainer[DutyAssignment]
    ack_timeout_seconds: int
    max_escalation_level: int
    cooldown_seconds: int
    def __init__(self, agency_id: _Optional[str] = ..., site_id: _Optional[str] = ..., display_name: _Optional[str] = ..., time_zone: _Optional[str] = ..., duty: _Optional[_Iterable[_Union[DutyAssignment, _Mapping]]] = ..., ack_timeout_seconds: _Optional[int] = ..., max_escalation_level: _Optional[int] = ..., cooldown_seconds: _Optional[int] = ...) -> None: ...

class PutSiteConfigRequest(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: SiteConfig
    def __init__(self, config: _Optional[_Union[SiteConfig, _Mapping]] = ...) -> None: ...

class PutSiteConfigResponse(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: SiteConfig
    def __init__(self, config: _Optional[_Union[SiteConfig, _Mapping]] = ...) -> None: ...

class GetSiteConfigRequest(_message.Message):
    __slots__ = ("agency_id", "site_id")
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    site_id: str
    def __init__(self, agency_id: _Optional[str] = ..., site_id: _Optional[str] = ...) -> None: ...

class GetSiteConfigResponse(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: SiteConfig
    def __init__(self, config: _Optional[_Union[SiteConfig, _Mapping]] = ...) -> None: ...

class ListSiteConfigsRequest(_message.Message):
    __slots__ = ("agency_id",)
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    def __init__(self, agency_id: _Optional[str] = ...) -> None: ...

class ListSiteConfigsResponse(_message.Message):
    __slots__ = ("configs",)
    CONFIGS_FIELD_NUMBER: _ClassVar[int]
    configs: _containers.RepeatedCompositeFieldContainer[SiteConfig]
    def __init__(self, configs: _Optional[_Iterable[_Union[SiteConfig, _Mapping]]] = ...) -> None: ...

class SharedRoute(_message.Message):
    __slots__ = ("route_id", "owner_agency_id", "target_agency_id", "site_ids", "types", "min_severity", "reason", "created_by", "created_at", "expires_at")
    ROUTE_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    SITE_IDS_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    MIN_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    route_id: str
    owner_agency_id: str
    target_agency_id: str
    site_ids: _containers.RepeatedScalarFieldContainer[str]
    types: _containers.RepeatedScalarFieldContainer[str]
    min_severity: _common_pb2.Severity
    reason: str
    created_by: str
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, route_id: _Optional[str] = ..., owner_agency_id: _Optional[str] = ..., target_agency_id: _Optional[str] = ..., site_ids: _Optional[_Iterable[str]] = ..., types: _Optional[_Iterable[str]] = ..., min_severity: _Optional[_Union[_common_pb2.Severity, str, int]] = ..., reason: _Optional[str] = ..., created_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateSharedRouteRequest(_message.Message):
    __slots__ = ("route",)
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    route: SharedRoute
    def __init__(self, route: _Optional[_Union[SharedRoute, _Mapping]] = ...) -> None: ...

class CreateSharedRouteResponse(_message.Message):
    __slots__ = ("route",)
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    route: SharedRoute
    def __init__(self, route: _Optional[_Union[SharedRoute, _Mapping]] = ...) -> None: ...

class DeleteSharedRouteRequest(_message.Message):
    __slots__ = ("route_id", "reason")
    ROUTE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    route_id: str
    reason: str
    def __init__(self, route_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DeleteSharedRouteResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSharedRoutesRequest(_message.Message):
    __slots__ = ("agency_id",)
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    def __init__(self, agency_id: _Optional[str] = ...) -> None: ...

class ListSharedRoutesResponse(_message.Message):
    __slots__ = ("routes",)
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    routes: _containers.RepeatedCompositeFieldContainer[SharedRoute]
    def __init__(self, routes: _Optional[_Iterable[_Union[SharedRoute, _Mapping]]] = ...) -> None: ...

class Webhook(_message.Message):
    __slots__ = ("webhook_id", "agency_id", "url", "secret", "filter", "enabled", "created_by", "created_at")
    WEBHOOK_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    webhook_id: str
    agency_id: str
    url: str
    secret: str
    filter: AlertFilter
    enabled: bool
    created_by: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, webhook_id: _Optional[str] = ..., agency_id: _Optional[str] = ..., url: _Optional[str] = ..., secret: _Optional[str] = ..., filter: _Optional[_Union[AlertFilter, _Mapping]] = ..., enabled: _Optional[bool] = ..., created_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateWebhookRequest(_message.Message):
    __slots__ = ("webhook",)
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    webhook: Webhook
    def __init__(self, webhook: _Optional[_Union[Webhook, _Mapping]] = ...) -> None: ...

class CreateWebhookResponse(_message.Message):
    __slots__ = ("webhook",)
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    webhook: Webhook
    def __init__(self, webhook: _Optional[_Union[Webhook, _Mapping]] = ...) -> None: ...

class DeleteWebhookRequest(_message.Message):
    __slots__ = ("webhook_id",)
    WEBHOOK_ID_FIELD_NUMBER: _ClassVar[int]
    webhook_id: str
    def __init__(self, webhook_id: _Optional[str] = ...) -> None: ...

class DeleteWebhookResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListWebhooksRequest(_message.Message):
    __slots__ = ("agency_id",)
    AGENCY_ID_FIELD_NUMBER: _ClassVar[int]
    agency_id: str
    def __init__(self, agency_id: _Optional[str] = ...) -> None: ...

class ListWebhooksResponse(_message.Message):
    __slots__ = ("webhooks",)
    WEBHOOKS_FIELD_NUMBER: _ClassVar[int]
    webhooks: _containers.RepeatedCompositeFieldContainer[Webhook]
    def __init__(self, webhooks: _Optional[_Iterable[_Union[Webhook, _Mapping]]] = ...) -> None: ...

class GetOutcomeReportRequest(_message.Message):
    __slots__ = ("since", "until", "types", "site_ids")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    SITE_IDS_FIELD_NUMBER: _ClassVar[int]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    types: _containers.RepeatedScalarFieldContainer[str]
    site_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., types: _Optional[_Iterable[str]] = ..., site_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class RuleOutcomes(_message.Message):
    __slots__ = ("type", "rule_id", "resolved", "true_alarms", "false_alarms", "not_judged", "precision", "has_precision", "by_outcome")
    class ByOutcomeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TYPE_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_FIELD_NUMBER: _ClassVar[int]
    TRUE_ALARMS_FIELD_NUMBER: _ClassVar[int]
    FALSE_ALARMS_FIELD_NUMBER: _ClassVar[int]
    NOT_JUDGED_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    HAS_PRECISION_FIELD_NUMBER: _ClassVar[int]
    BY_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    type: str
    rule_id: str
    resolved: int
    true_alarms: int
    false_alarms: int
    not_judged: int
    precision: float
    has_precision: bool
    by_outcome: _containers.ScalarMap[str, int]
    def __init__(self, type: _Optional[str] = ..., rule_id: _Optional[str] = ..., resolved: _Optional[int] = ..., true_alarms: _Optional[int] = ..., false_alarms: _Optional[int] = ..., not_judged: _Optional[int] = ..., precision: _Optional[float] = ..., has_precision: _Optional[bool] = ..., by_outcome: _Optional[_Mapping[str, int]] = ...) -> None: ...

class GetOutcomeReportResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[RuleOutcomes]
    def __init__(self, rules: _Optional[_Iterable[_Union[RuleOutcomes, _Mapping]]] = ...) -> None: ...
