"""Pure alerting rules: event validation, severity and priority, dedup keys, duty routing, shares."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kuzet.alerting.v1 import alerting_pb2
from kuzet.common.caller import Caller
from kuzet.common.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from kuzet.common.events import CONFIRMED_BY, EVENT_TYPES, OVERSIGHT_TYPES
from kuzet.common.timeutil import as_utc, from_timestamp
from kuzet.common.v1 import common_pb2

MAX_ID_LEN = 64
TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
MAX_BATCH = 1000

# Unconfirmed face matches must not leave the agency or trigger integrations: a person reviews
# them first (see ARCHITECTURE "Safeguards"). Shared routes, webhooks and MQTT skip them.
REVIEW_ONLY_TYPES = frozenset({"face_match_candidate"})
# Outcomes that say an alert was real: for a review-gated candidate they need its confirmation.
TRUE_POSITIVE_OUTCOMES = frozenset(
    {alerting_pb2.ALERT_OUTCOME_ACTION_TAKEN, alerting_pb2.ALERT_OUTCOME_NO_ACTION_NEEDED}
)
# What an unconfirmed face match may not carry: who matched. Identity sends none of these; alerting
# strips them anyway, so that no older or faulty producer can show a name before review.
IDENTIFYING_ATTRIBUTES = frozenset(
    {
        "person_id",
        "external_id",
        "display_name",
        "name",
        "gallery_id",
        "gallery_kind",
        "gallery_name",
        "image_id",
    }
)
UNCONFIRMED_SUMMARY = "Possible face match, unconfirmed: reviewers must confirm it before anyone is named"
# Whistleblower protection: these alerts reach only the roles named here (and services), never
# shared routes or integrations, so that whoever a report is about cannot learn of it.
RESTRICTED_TYPES: dict[str, frozenset[str]] = {"integrity_report": frozenset({"internal_affairs"})}
# Alerts that never go to shared routes, webhooks or MQTT: only the consoles that may see them.
INTERNAL_ONLY_TYPES = REVIEW_ONLY_TYPES | frozenset(RESTRICTED_TYPES) | OVERSIGHT_TYPES


def hidden_types(caller: Caller) -> frozenset[str]:
    """Alert types this caller may not list, read or be streamed as an alert of its own agency
    (oversight alerts are nobody's in their own agency: only the oversight agency reads them,
    see ``kuzet.alerting.oversight``)."""
    if caller.has_role("service"):
        return frozenset()
    restricted = (t for t, roles in RESTRICTED_TYPES.items() if not any(caller.has_role(r) for r in roles))
    return frozenset(restricted) | OVERSIGHT_TYPES


# Context rank inside a severity level: life first, then a possible wanted person, then breaches,
# behaviour, equipment. Operators sort by priority = severity * 100 + rank * 10 + escalation.
_CONTEXT_RANK = {
    "badge_panic": 9,
    "person_down": 9,
    "staff_violence": 9,
    "self_harm_risk": 9,
    "violence": 9,
    "face_match_candidate": 8,
    # Confirmed by a reviewer (identity publishes it once the type is registered).
    "face_match_confirmed": 8,
    "plate_hotlist": 8,
    "drone_geofence_breach": 7,
    "staff_alone_with_detainee": 7,
    "climbing": 7,
    "zone_intrusion": 6,
    "camera_obscured_with_staff": 6,
    "motionless": 6,
    "reserve_intrusion": 6,
    "boat_in_no_fishing_zone": 6,
    "integrity_report": 6,
    "badge_tamper": 6,
    "post_unattended": 5,
    "line_crossing": 5,
    "vehicle_stopped_in_forest": 5,
    "badge_recording_off": 5,
    "drone_link_lost": 5,
    "loitering": 4,
    "crowding": 4,
    "badge_signal_lost": 3,
    "badge_battery_critical": 3,
    "drone_battery_return": 3,
    "camera_covered": 2,
    "camera_moved": 2,
    "camera_degraded": 2,
}
_DEFAULT_RANK = 1


def validate_event(event: common_pb2.Event, caller: Caller) -> None:
    """Refuse what alerting cannot route, with a message that says what to fix."""
    if caller.is_anonymous:
        raise PermissionDenied("publishing needs a caller identity (x-kuzet-subject metadata)")
    if not event.event_id:
        raise InvalidArgument("event.event_id is required (a UUID chosen by the producer)")
    if len(event.event_id) > MAX_ID_LEN:
        raise InvalidArgument(f"event.event_id is longer than {MAX_ID_LEN} characters")
    if not event.agency_id:
        raise InvalidArgument(f"event {event.event_id}: agency_id is required")
    if event.type not in EVENT_TYPES:
        raise InvalidArgument(
            f"event {event.event_id}: unknown type {event.type!r}; known types: {', '.join(sorted(EVENT_TYPES))}"
        )
    if not event.HasField("source") or not event.source.id:
        raise InvalidArgument(f"event {event.event_id}: source.id is required (camera, badge or drone id)")
    if event.source.kind == common_pb2.SOURCE_KIND_UNSPECIFIED:
        raise InvalidArgument(f"event {event.event_id}: source.kind is required")
    if event.severity not in common_pb2.Severity.values():
        raise InvalidArgument(f"event {event.event_id}: severity {event.severity} is not a Severity")
    for name, value, limit in (
        ("agency_id", event.agency_id, 64),
        ("source.id", event.source.id, 128),
        ("source.name", event.source.name, 256),
        ("zone_id", event.zone_id, 128),
        ("source.site_id", event.source.site_id, 128),
        ("rule_id", event.rule_id, 128),
        ("subject", event.subject, 256),
    ):
        if len(value) > limit:
            raise InvalidArgument(f"event {event.event_id}: {name} is longer than {limit} characters")
    for name, value in (
        ("agency_id", event.agency_id),
        ("source.id", event.source.id),
        ("source.site_id", event.source.site_id),
        ("source.name", event.source.name),
        ("rule_id", event.rule_id),
        ("subject", event.subject),
        ("zone_id", event.zone_id),
        ("summary", event.summary),
        ("amends", event.amends),
    ):
        # PostgreSQL text cannot hold NUL: refuse it here rather than fail a whole group commit.
        if "\x00" in value:
            raise InvalidArgument(f"event {event.event_id}: {name} contains a NUL character")
    if event.amends:
        if len(event.amends) > MAX_ID_LEN:
            raise InvalidArgument(f"event {event.event_id}: amends is longer than {MAX_ID_LEN} characters")
        if event.amends == event.event_id:
            raise InvalidArgument(f"event {event.event_id}: amends names the event itself")
        if event.resolves:
            raise InvalidArgument(f"event {event.event_id}: an event either resolves or amends, not both")
    if event.type in set(CONFIRMED_BY.values()) and not caller.has_role("service"):
        raise PermissionDenied(
            f"event {event.event_id}: {event.type} events come from the identity service, after the reviews"
        )
    if event.agency_id != caller.agency and not caller.has_role("service"):
        raise PermissionDenied(
            f"event {event.event_id}: agency {caller.agency or '?'} may not publish for agency {event.agency_id}"
        )
    if event.type in OVERSIGHT_TYPES:
        if not caller.has_role("service"):
            raise PermissionDenied(
                f"event {event.event_id}: {event.type} events come from the analytics services (ingest, badge)"
            )
        if event.resolves:
            # Nobody in the overseen agency closes these, not even through a resolving event.
            raise InvalidArgument(
                f"event {event.event_id}: {event.type} alerts cannot be resolved by an event"
            )


def redact_unconfirmed(event: common_pb2.Event) -> None:
    """Make a review-gated candidate event name nobody: an opaque ``match:<id>`` subject, no
    identifying attributes, and a neutral summary whenever the producer sent anything else."""
    if event.type not in CONFIRMED_BY:
        return
    fields = event.attributes.fields
    leaked = IDENTIFYING_ATTRIBUTES.intersection(fields)
    for key in leaked:
        del fields[key]
    match_id = fields["match_id"].string_value if "match_id" in fields else ""
    opaque = f"match:{match_id}" if match_id else ""
    if leaked or event.subject != opaque:
        event.subject = opaque
        event.summary = UNCONFIRMED_SUMMARY


def require_confirmed_to_resolve(
    alert_type: str, outcome: int, confirmed: Callable[[], bool], alert_id: str
) -> None:
    """A review-gated candidate is closed as real only once the reviewers confirmed it
    (``confirmed`` is asked only when that matters)."""
    if alert_type in CONFIRMED_BY and outcome in TRUE_POSITIVE_OUTCOMES and not confirmed():
        raise FailedPrecondition(
            f"alert {alert_id} is an unconfirmed {alert_type}: it can be resolved as "
            f"{alerting_pb2.AlertOutcome.Name(outcome)} only after the required reviewers confirm the "
            f"match ({CONFIRMED_BY[alert_type]}); until then resolve it as FALSE_ALARM, DUPLICATE or TEST"
        )


def effective_severity(event: common_pb2.Event) -> int:
    """The producer may raise the type's default severity, never lower it below the default."""
    return max(int(event.severity), int(EVENT_TYPES[event.type].severity))


def priority(alert_type: str, severity: int, escalation_level: int) -> int:
    return severity * 100 + _CONTEXT_RANK.get(alert_type, _DEFAULT_RANK) * 10 + min(escalation_level, 9)


def dedup_key(event: common_pb2.Event) -> str:
    parts = (event.agency_id, event.source.id, event.rule_id, event.subject, event.type)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def resolved_types(event_type: str) -> set[str]:
    """Alert types a `resolves` event of ``event_type`` closes: its own and its declared counterpart."""
    declared = EVENT_TYPES[event_type].resolves
    return {event_type, declared} if declared else {event_type}


def occurred_at(event: common_pb2.Event, received: datetime) -> datetime:
    return from_timestamp(event.occurred_at) or received


def duty_roles(
    config: alerting_pb2.SiteConfig | None, severity: int, escalation_level: int, at: datetime
) -> list[str]:
    """Roles on duty at ``at`` (site local time) for this severity at this escalation level."""
    if config is None:
        return []
    local = as_utc(at).astimezone(site_zone(config))
    minute = local.hour * 60 + local.minute
    day = local.isoweekday()
    yesterday = (local - timedelta(days=1)).isoweekday()
    roles: list[str] = []
    for duty in config.duty:
        if duty.escalation_level > escalation_level or severity < duty.min_severity:
            continue
        if _on_duty(duty, minute, day, yesterday) and duty.role not in roles:
            roles.append(duty.role)
    return roles


def _on_duty(duty: alerting_pb2.DutyAssignment, minute: int, day: int, yesterday: int) -> bool:
    days = set(duty.days_of_week)
    start, end = duty.start_minute, duty.end_minute
    if start == end == 0:
        return not days or day in days
    if start < end:
        return (not days or day in days) and start <= minute < end
    # Window past midnight: the evening part belongs to today, the morning part to yesterday's shift.
    if minute >= start:
        return not days or day in days
    return minute < end and (not days or yesterday in days)


def site_zone(config: alerting_pb2.SiteConfig) -> ZoneInfo:
    try:
        return ZoneInfo(config.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def validate_site_config(config: alerting_pb2.SiteConfig) -> None:
    if not config.site_id:
        raise InvalidArgument("config.site_id is required")
    if config.time_zone:
        try:
            ZoneInfo(config.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidArgument(f"config.time_zone {config.time_zone!r} is not an IANA time zone") from None
    if config.ack_timeout_seconds < 0 or config.cooldown_seconds < 0 or config.max_escalation_level < 0:
        raise InvalidArgument("ack_timeout_seconds, cooldown_seconds and max_escalation_level must be >= 0")
    for i, duty in enumerate(config.duty):
        if not duty.role:
            raise InvalidArgument(f"config.duty[{i}].role is required")
        if not (0 <= duty.start_minute < 1440 and 0 <= duty.end_minute <= 1440):
            raise InvalidArgument(f"config.duty[{i}]: start_minute/end_minute must be within a day (0..1440)")
        if any(d < 1 or d > 7 for d in duty.days_of_week):
            raise InvalidArgument(f"config.duty[{i}].days_of_week must be ISO weekdays 1..7")


def route_matches(route: alerting_pb2.SharedRoute, alert: alerting_pb2.Alert, now: datetime) -> bool:
    """Whether ``route`` shares ``alert`` with its target agency (unexpired, scope matches)."""
    if alert.agency_id != route.owner_agency_id or alert.type in INTERNAL_ONLY_TYPES:
        return False
    expires = from_timestamp(route.expires_at) if route.HasField("expires_at") else None
    if expires is not None and expires <= now:
        return False
    if route.site_ids and alert.site_id not in route.site_ids:
        return False
    if route.types and alert.type not in route.types:
        return False
    return alert.severity >= route.min_severity


def filter_matches(f: alerting_pb2.AlertFilter, alert: alerting_pb2.Alert) -> bool:
    """Everything but the agency (visibility is decided by the caller's agency and shares)."""
    if f.site_ids and alert.site_id not in f.site_ids:
        return False
    if alert.severity < f.min_severity:
        return False
    if f.types and alert.type not in f.types:
        return False
    if f.source_ids and alert.source.id not in f.source_ids:
        return False
    return not (f.duty_roles and not set(f.duty_roles).intersection(alert.duty_roles))


def validate_filter(f: alerting_pb2.AlertFilter) -> None:
    if f.min_severity not in common_pb2.Severity.values():
        raise InvalidArgument(f"filter.min_severity {f.min_severity} is not a Severity")
    unknown = [t for t in f.types if t not in EVENT_TYPES]
    if unknown:
        raise InvalidArgument(f"filter.types has unknown event types: {', '.join(unknown)}")


def unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
