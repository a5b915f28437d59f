"""Helpers shared by the route modules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from kuzet.common.v1 import common_pb2
from kuzet.gateway.auth import Principal
from kuzet.gateway.context import Gateway
from kuzet.gateway.errors import bad_request
from kuzet.gateway.protojson import enum_value
from kuzet.gateway.roles import Permission, allowed

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


def evidence_url(gw: Gateway, principal: Principal, kind: str, ref: str, purpose: str) -> str | None:
    """A signed link for the console, only for callers who may view evidence at all."""
    if not ref or not allowed(principal.roles, Permission.EVIDENCE_VIEW):
        return None
    token = gw.signer.sign(
        kind, ref, principal.agency, principal.subject, purpose, roles=sorted(principal.roles)
    )
    return f"/evidence/{token}"


def add_url(obj: dict[str, Any], name: str, url: str | None) -> None:
    if url:
        obj[name] = url
