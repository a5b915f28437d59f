"""The plate_hotlist event of an exact hotlist hit: what an officer needs to act on it.

One event per observation, however many entries its plate is on: the plate as read, each entry's
reason, source and legal basis, where the camera is, the vehicle snapshot (the event's) and the
plate crop (an attribute; an event has one snapshot). Its id comes from the observation, so a
re-sent event is stored once by alerting. A fuzzy hit never becomes an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from google.protobuf.json_format import MessageToDict

from kuzet.common.events import new_event
from kuzet.common.timeutil import as_utc
from kuzet.common.v1 import common_pb2
from kuzet.traffic.v1 import traffic_pb2

EVENT_TYPE = "plate_hotlist"


def _ref(ref: common_pb2.ObjectRef) -> dict[str, Any]:
    return MessageToDict(ref, preserving_proto_field_name=True)


def hotlist_event(
    camera: traffic_pb2.TrafficCamera, hits: Sequence[traffic_pb2.HotlistHit]
) -> common_pb2.Event:
    """The event of one observation's exact hits (all of the same observation)."""
    observation = hits[0].observation
    entries = [
        {
            "reason": h.entry.reason,
            "source": h.entry.source,
            "legal_basis": h.entry.legal_basis,
            "expires_at": as_utc(h.entry.expires_at.ToDatetime(tzinfo=UTC)).isoformat(),
        }
        for h in hits
    ]
    attributes: dict[str, Any] = {
        "plate": observation.plate,
        "plate_raw": observation.plate_raw,
        "plate_format": observation.plate_format,
        "plate_confidence": round(float(observation.plate_confidence), 4),
        "match": "exact",
        "reason": entries[0]["reason"],
        "source": entries[0]["source"],
        "legal_basis": entries[0]["legal_basis"],
        "entries": entries,
        "observation_id": observation.observation_id,
        "line_id": observation.line_id,
        "lane": observation.lane,
        "direction": observation.direction,
        "vehicle_class": observation.vehicle_class,
        "speed_kmh": round(observation.speed_kmh, 1),
        "site_id": camera.site_id,
    }
    if observation.HasField("plate_crop"):
        attributes["plate_crop"] = _ref(observation.plate_crop)
    if observation.HasField("snapshot"):
        attributes["snapshot"] = _ref(observation.snapshot)
    name = camera.name or camera.camera_id
    event = new_event(
        camera.agency_id,
        EVENT_TYPE,
        common_pb2.Source(
            kind=common_pb2.SOURCE_KIND_TRAFFIC, id=camera.camera_id, site_id=camera.site_id, name=name
        ),
        occurred_at=observation.observed_at.ToDatetime(tzinfo=UTC),
        attributes=attributes,
        subject=observation.plate,
        summary=f"Hotlist plate {observation.plate} at {name}: {entries[0]['reason']} ({entries[0]['source']})",
        track_ids=[observation.track_id],
    )
    event.event_id = hits[0].event_id
    if camera.HasField("location"):
        event.location.CopyFrom(camera.location)
    if observation.HasField("snapshot"):
        event.snapshot.CopyFrom(observation.snapshot)
    if observation.HasField("box"):
        event.boxes.append(observation.box)
    return event
