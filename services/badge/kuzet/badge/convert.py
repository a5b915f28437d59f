"""Rows to protobuf messages, and the small validations every RPC shares."""

from __future__ import annotations

import re
from typing import cast

from google.protobuf.struct_pb2 import Struct

from kuzet.badge.models import BadgeRow, CustodyRow, EvidenceRow, RetentionPolicyRow, ShiftRow
from kuzet.badge.v1 import badge_pb2
from kuzet.common.errors import InvalidArgument
from kuzet.common.timeutil import to_timestamp
from kuzet.common.v1 import common_pb2

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")


def check_id(value: str, what: str) -> str:
    if not _ID.fullmatch(value):  # `$` would let a trailing newline through
        raise InvalidArgument(
            f"{what} must be 1-64 characters of letters, digits, '.', '_', ':' or '-' (got {value!r})"
        )
    return value


def check_position(point: common_pb2.GeoPoint, what: str = "position") -> None:
    if not (-90.0 <= point.latitude <= 90.0 and -180.0 <= point.longitude <= 180.0):
        raise InvalidArgument(
            f"{what} ({point.latitude}, {point.longitude}) is not a WGS84 latitude/longitude"
        )


def badge_to_proto(row: BadgeRow) -> badge_pb2.Badge:
    return badge_pb2.Badge(
        badge_id=row.badge_id,
        agency_id=row.agency_id,
        unit_id=row.unit_id,
        serial_number=row.serial_number,
        firmware_version=row.firmware_version,
        status=cast(badge_pb2.BadgeStatus, row.status),
        officer_id=row.officer_id,
        registered_at=to_timestamp(row.registered_at),
        updated_at=to_timestamp(row.updated_at),
        has_device_credential=bool(row.device_credential_hash),
    )


def shift_to_proto(row: ShiftRow) -> badge_pb2.OfficerAssignment:
    message = badge_pb2.OfficerAssignment(
        badge_id=row.badge_id,
        officer_id=row.officer_id,
        started_at=to_timestamp(row.started_at),
        assigned_by=row.assigned_by,
    )
    if row.ended_at is not None:
        message.ended_at.CopyFrom(to_timestamp(row.ended_at))
    return message


def evidence_to_proto(row: EvidenceRow) -> badge_pb2.Evidence:
    message = badge_pb2.Evidence(
        evidence_id=row.evidence_id,
        agency_id=row.agency_id,
        badge_id=row.badge_id,
        officer_id=row.officer_id,
        category=row.category,
        status=cast(badge_pb2.EvidenceStatus, row.status),
        captured_at=to_timestamp(row.captured_at),
        object=common_pb2.ObjectRef(
            key=row.object_key, sha256=row.sha256, size_bytes=row.size, content_type=row.content_type
        ),
        location=common_pb2.GeoPoint(latitude=row.latitude, longitude=row.longitude),
        case_id=row.case_id,
        incident_id=row.incident_id,
        legal_hold=row.legal_hold,
        description=row.description,
        upload_id=row.upload_id,
    )
    for field, value in (
        ("captured_until", row.captured_until),
        ("stored_at", row.stored_at),
        ("case_closed_at", row.case_closed_at),
        ("retain_until", row.retain_until),
    ):
        if value is not None:
            getattr(message, field).CopyFrom(to_timestamp(value))
    return message


def custody_to_proto(row: CustodyRow) -> badge_pb2.CustodyRecord:
    details = Struct()
    details.update(dict(row.details or {}))
    return badge_pb2.CustodyRecord(
        evidence_id=row.evidence_id,
        seq=row.seq,
        action=cast(badge_pb2.CustodyAction, row.action),
        actor=row.actor,
        actor_agency_id=row.actor_agency_id,
        at=to_timestamp(row.at),
        object_sha256=row.object_sha256,
        details=details,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def policy_to_proto(row: RetentionPolicyRow) -> badge_pb2.RetentionPolicy:
    return badge_pb2.RetentionPolicy(
        agency_id=row.agency_id,
        category=row.category,
        retention_days=row.retention_days,
        until_case_closed=row.until_case_closed,
        days_after_case_closed=row.days_after_case_closed,
    )
