"""Conversions the REST routes and the WebSocket feed share.

Request values -> proto fields (times, severities), and proto -> the JSON the console reads, with
signed evidence links for callers who may view evidence.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from kuzet.alerting.v1 import alerting_pb2
from kuzet.common.v1 import common_pb2
from kuzet.gateway.auth import Principal
from kuzet.gateway.context import Gateway
from kuzet.gateway.errors import bad_request
from kuzet.gateway.protojson import enum_value, to_json
from kuzet.gateway.roles import Permission, allowed
from kuzet.identity.v1 import identity_pb2

SEVERITY = common_pb2.DESCRIPTOR.enum_types_by_name["Severity"]


def timestamp(value: datetime | None, what: str) -> Timestamp | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise bad_request(f"{what} must carry a time zone (UTC, e.g. 2026-01-01T00:00:00Z)")
    ts = Timestamp()
    try:
        ts.FromDatetime(value)
    except (ValueError, OverflowError) as exc:
        raise bad_request(f"{what} is out of range") from exc
    return ts


def severity(value: str | None) -> int:
    return enum_value(SEVERITY, value, "min_severity") if value else 0


# Which permission a link of each kind needs, when it is signed and again when it is fetched.
LINK_PERMISSION: dict[str, Permission] = {
    "object": Permission.EVIDENCE_VIEW,
    "probe_image": Permission.EVIDENCE_VIEW,
    "person_image": Permission.EVIDENCE_VIEW,
    # An object named by an alert that alerting returned to this caller (alert_json signs it).
    "alert_object": Permission.ALERT_EVIDENCE_VIEW,
}


def evidence_url(gw: Gateway, principal: Principal, kind: str, ref: str, purpose: str) -> str | None:
    """A signed link for the console, only for callers whose roles may view this kind."""
    if not ref or not allowed(principal.roles, LINK_PERMISSION[kind]):
        return None
    token = gw.signer.sign(
        kind, ref, principal.agency, principal.subject, purpose, roles=sorted(principal.roles)
    )
    return f"/evidence/{token}"


def add_url(obj: dict[str, Any], name: str, url: str | None) -> None:
    if url:
        obj[name] = url


def alert_json(gw: Gateway, principal: Principal, alert: alerting_pb2.Alert) -> dict[str, Any]:
    out = to_json(alert)
    latest = alert.latest if alert.HasField("latest") else None
    purpose = f"alert {alert.alert_id}"
    # Only called with alerts alerting returned to this principal, which already hides the
    # alerts the caller may not read (oversight alerts included).
    snap = latest.snapshot.key if latest else ""
    add_url(out, "snapshot_url", evidence_url(gw, principal, "alert_object", snap, purpose))
    # The few seconds before a behaviour event (a fall, a fight): a still cannot show how it began.
    clip = latest.clip.key if latest else ""
    add_url(out, "clip_url", evidence_url(gw, principal, "alert_object", clip, purpose))
    return out


def match_json(gw: Gateway, principal: Principal, m: identity_pb2.Match) -> dict[str, Any]:
    out = to_json(m)
    # Both faces go through identity (GetProbeImage / GetPersonImage) so its audit trail records
    # the view, and the gateway's records who opened the link.
    add_url(out, "probe_url", evidence_url(gw, principal, "probe_image", m.match_id, f"review {m.match_id}"))
    add_url(
        out,
        "enrolled_url",
        evidence_url(gw, principal, "person_image", m.candidate.image_id, f"review {m.match_id}"),
    )
    add_url(
        out, "snapshot_url", evidence_url(gw, principal, "object", m.snapshot.key, f"review {m.match_id}")
    )
    return out
