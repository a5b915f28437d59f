"""The event types every producer may publish, with their default severity."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.protobuf import struct_pb2

from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import common_pb2

Severity = common_pb2.Severity


@dataclass(frozen=True)
class EventType:
    name: str
    severity: int
    description: str
    # Events that close an open alert of another type (camera_online closes camera_offline).
    resolves: str = ""


# Review-gated types: alerts of the key type are candidates a person must confirm before anyone
# acts on them (resolves them as real, dispatches on them); the value is the type that records
# the confirmation, published with the same subject as the candidate (ARCHITECTURE "Safeguards").
CONFIRMED_BY: dict[str, str] = {"face_match_candidate": "face_match_confirmed"}
# Signs of possible abuse by staff: they go to the owning agency's oversight agency (an
# ombudsman, a prosecutor), never to the agency's own operators (ARCHITECTURE "Safeguards").
OVERSIGHT_TYPES = frozenset({"staff_violence", "staff_alone_with_detainee", "camera_obscured_with_staff"})

_TYPES = [
    EventType("face_match_candidate", Severity.SEVERITY_HIGH, "a face matched a gallery; needs review"),
    EventType(
        "face_match_confirmed", Severity.SEVERITY_HIGH, "a face match confirmed by the required reviewers"
    ),
    EventType("person_down", Severity.SEVERITY_CRITICAL, "a person lying down for too long"),
    EventType("motionless", Severity.SEVERITY_HIGH, "a person without motion for too long during set hours"),
    EventType(
        "self_harm_risk",
        Severity.SEVERITY_CRITICAL,
        "a posture that may be self-harm (above the floor line or bowed under a ligature line)",
    ),
    EventType("climbing", Severity.SEVERITY_HIGH, "a person climbing a perimeter fence or wall"),
    EventType(
        "violence", Severity.SEVERITY_CRITICAL, "two or more people within arm's reach with fast limb motion"
    ),
    EventType("badge_panic", Severity.SEVERITY_CRITICAL, "an officer pressed the panic button"),
    EventType("zone_intrusion", Severity.SEVERITY_HIGH, "a person in a restricted zone"),
    EventType("line_crossing", Severity.SEVERITY_MEDIUM, "a line crossed in a watched direction"),
    EventType("loitering", Severity.SEVERITY_MEDIUM, "a person dwelling in a zone too long"),
    EventType("crowding", Severity.SEVERITY_MEDIUM, "more people in a zone than allowed"),
    EventType("post_unattended", Severity.SEVERITY_HIGH, "no staff at a post for too long"),
    EventType("camera_offline", Severity.SEVERITY_LOW, "a camera stopped delivering video"),
    EventType("camera_online", Severity.SEVERITY_INFO, "a camera is back", resolves="camera_offline"),
    EventType("camera_black", Severity.SEVERITY_LOW, "a camera shows a black image"),
    EventType("camera_frozen", Severity.SEVERITY_LOW, "a camera image stopped changing"),
    EventType("camera_blurred", Severity.SEVERITY_LOW, "a camera image is out of focus"),
    EventType("camera_covered", Severity.SEVERITY_MEDIUM, "a camera lens is covered"),
    EventType("camera_moved", Severity.SEVERITY_MEDIUM, "a camera's view has moved"),
    EventType(
        "camera_degraded",
        Severity.SEVERITY_MEDIUM,
        "a camera is analysed less often than its minimum rate (the detector cannot keep up)",
    ),
    EventType(
        "camera_recovered",
        Severity.SEVERITY_INFO,
        "a camera is analysed at its minimum rate again",
        resolves="camera_degraded",
    ),
    EventType("badge_recording_off", Severity.SEVERITY_HIGH, "recording off during an active incident"),
    EventType("badge_tamper", Severity.SEVERITY_HIGH, "a badge was tampered with or forced off"),
    EventType("badge_signal_lost", Severity.SEVERITY_MEDIUM, "a badge on shift lost its signal"),
    EventType("badge_battery_critical", Severity.SEVERITY_MEDIUM, "a badge on shift is about to die"),
    EventType("integrity_report", Severity.SEVERITY_HIGH, "a bribery attempt or integrity breach report"),
    EventType("drone_geofence_breach", Severity.SEVERITY_CRITICAL, "a drone left its geofence"),
    EventType("drone_battery_return", Severity.SEVERITY_MEDIUM, "a drone returns on battery reserve"),
    EventType("drone_link_lost", Severity.SEVERITY_HIGH, "the link to a flying drone is lost"),
    EventType(
        "reserve_intrusion",
        Severity.SEVERITY_HIGH,
        "a person or vehicle seen by a drone in a reserve at night or off its permitted tracks",
    ),
    EventType(
        "boat_in_no_fishing_zone", Severity.SEVERITY_HIGH, "a boat seen by a drone in a no-fishing zone"
    ),
    EventType(
        "vehicle_stopped_in_forest",
        Severity.SEVERITY_MEDIUM,
        "a vehicle seen by a drone standing in a forest block for too long",
    ),
    EventType(
        "plate_hotlist", Severity.SEVERITY_CRITICAL, "a vehicle on the hotlist was seen (exact plate match)"
    ),
    EventType("staff_violence", Severity.SEVERITY_CRITICAL, "violence with staff present (oversight)"),
    EventType(
        "staff_alone_with_detainee",
        Severity.SEVERITY_HIGH,
        "a staff member alone with a detainee in a cell outside set hours (oversight)",
    ),
    EventType(
        "camera_obscured_with_staff",
        Severity.SEVERITY_HIGH,
        "a camera covered, turned away or offline while staff are in view or near a violence event (oversight)",
    ),
]

EVENT_TYPES: dict[str, EventType] = {t.name: t for t in _TYPES}


def new_event(
    agency_id: str,
    type: str,
    source: common_pb2.Source,
    *,
    occurred_at: datetime | None = None,
    attributes: dict[str, Any] | None = None,
    **fields: Any,
) -> common_pb2.Event:
    """An Event with a fresh id and the type's default severity (unless one is given)."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    attrs = struct_pb2.Struct()
    if attributes:
        attrs.update(attributes)
    fields.setdefault("severity", EVENT_TYPES[type].severity)
    if EVENT_TYPES[type].resolves:
        fields.setdefault("resolves", True)
    return common_pb2.Event(
        event_id=str(uuid.uuid4()),
        agency_id=agency_id,
        type=type,
        source=source,
        occurred_at=to_timestamp(occurred_at or utcnow()),
        attributes=attrs,
        **fields,
    )
