"""Reading one field of a raw row, the same way for every record type: text is stripped and
bounded, an expiry is a date or a date-time with its offset. A bad field is a RowRejected."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime
from typing import Any

from kuzet.common.connectors.base import RowRejected

MAX_TEXT = 256


def text(f: Mapping[str, Any], name: str, *, required: bool = False, longest: int = MAX_TEXT) -> str:
    value = f.get(name)
    # JSON sources often number their records: a number is a usable id, not a type error.
    if isinstance(value, int) and not isinstance(value, bool) and name == "external_id":
        value = str(value)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise RowRejected(f"{name} must be text, got {type(value).__name__}")
    value = value.strip()
    if required and not value:
        raise RowRejected(f"{name} is missing")
    if len(value) > longest:
        raise RowRejected(f"{name} is longer than {longest} characters")
    return value


def legal_basis(f: Mapping[str, Any], accepted: Collection[str]) -> str:
    """The row's legal basis, required; one of ``accepted`` unless that is empty."""
    value = text(f, "legal_basis", required=True, longest=4096)
    if accepted and value not in accepted:
        raise RowRejected(f"legal basis {value!r} is not one this import accepts")
    return value


def loose_id(f: Mapping[str, Any]) -> str:
    """The row's external id for a report, if it has a usable one."""
    value = f.get("external_id")
    return str(value).strip()[:MAX_TEXT] if isinstance(value, str | int) else ""


def expiry(value: str) -> datetime:
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        at = datetime.fromisoformat(value)
    except ValueError:
        raise RowRejected(
            f"expires_at {value!r} is neither a date (YYYY-MM-DD) nor an ISO date-time"
        ) from None
    if at.tzinfo is None:
        raise RowRejected(f"expires_at {value!r} has no UTC offset")
    return at.astimezone(UTC)
