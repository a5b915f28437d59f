"""Wanted-person records: what a national wanted-persons database says about one person.

Fields (CSV columns or JSON keys; others are ignored):

    external_id    the source's id of the person (required, stable across exports)
    surname, given_names   at least one of them
    date_of_birth  YYYY-MM-DD (optional)
    reason         why the person is wanted (required)
    source         the authority that issued the record (required)
    legal_basis    one of the legal bases the import accepts (required)
    expires_at     YYYY-MM-DD (00:00 UTC that day) or an ISO date-time with its offset (required)
    photo          the photo, base64 (JSON, REST), or
    photo_path     the photo's path relative to the dropped file (file drop)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from kuzet.identity.connectors.base import RawRecord, RawSource, Rejection, RowRejected

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_TEXT = 256


@dataclass(frozen=True)
class WantedPerson:
    row: int
    external_id: str
    surname: str
    given_names: str
    date_of_birth: date | None
    reason: str
    source: str
    legal_basis: str
    expires_at: datetime
    photo: bytes | None

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.given_names, self.surname) if part)

    @property
    def photo_sha256(self) -> str:
        return hashlib.sha256(self.photo).hexdigest() if self.photo is not None else ""

    def fingerprint(self) -> str:
        kept = [
            self.external_id,
            self.surname,
            self.given_names,
            self.date_of_birth.isoformat() if self.date_of_birth else "",
            self.reason,
            self.source,
            self.legal_basis,
            self.expires_at.isoformat(),
            self.photo_sha256,
        ]
        return hashlib.sha256(json.dumps(kept).encode()).hexdigest()


class WantedPersonsConnector:
    """Rows of a source as WantedPerson records; ``legal_bases``: the ones this import accepts."""

    def __init__(self, source: RawSource, legal_bases: Collection[str]) -> None:
        if not legal_bases:
            raise ValueError("an import accepts at least one legal basis")
        self._source = source
        self.legal_bases = frozenset(legal_bases)

    @property
    def source(self) -> RawSource:
        return self._source

    async def records(self) -> AsyncIterator[WantedPerson | Rejection]:
        async for raw in self._source.rows():
            try:
                yield await self.parse(raw)
            except RowRejected as exc:
                yield Rejection(raw.row, _loose_id(raw.fields), str(exc))

    async def parse(self, raw: RawRecord) -> WantedPerson:
        if raw.problem:
            raise RowRejected(raw.problem)
        f = raw.fields
        external_id = _text(f, "external_id", required=True)
        surname = _text(f, "surname")
        given_names = _text(f, "given_names")
        if not (surname or given_names):
            raise RowRejected("surname or given_names is required")
        legal_basis = _text(f, "legal_basis", required=True, longest=4096)
        if legal_basis not in self.legal_bases:
            raise RowRejected(f"legal basis {legal_basis!r} is not one this import accepts")
        return WantedPerson(
            row=raw.row,
            external_id=external_id,
            surname=surname,
            given_names=given_names,
            date_of_birth=_birth_date(_text(f, "date_of_birth")),
            reason=_text(f, "reason", required=True, longest=4096),
            source=_text(f, "source", required=True),
            legal_basis=legal_basis,
            expires_at=_expiry(_text(f, "expires_at", required=True)),
            photo=await self._photo(f),
        )

    async def _photo(self, f: Mapping[str, Any]) -> bytes | None:
        inline = _text(f, "photo", longest=MAX_PHOTO_BYTES * 2)
        path = _text(f, "photo_path", longest=1024)
        if inline and path:
            raise RowRejected("give photo or photo_path, not both")
        if inline:
            try:
                data = base64.b64decode(inline, validate=True)
            except (binascii.Error, ValueError):
                raise RowRejected("photo is not valid base64") from None
        elif path:
            data = await self._source.attachment(path)
        else:
            return None
        if not data:
            raise RowRejected("the photo is empty")
        if len(data) > MAX_PHOTO_BYTES:
            raise RowRejected(f"the photo has {len(data)} bytes, at most {MAX_PHOTO_BYTES} are accepted")
        return data


def _text(f: Mapping[str, Any], name: str, *, required: bool = False, longest: int = MAX_TEXT) -> str:
    value = f.get(name)
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


def _loose_id(f: Mapping[str, Any]) -> str:
    """The row's external id for a report, if it has a usable one."""
    value = f.get("external_id")
    return str(value).strip()[:MAX_TEXT] if isinstance(value, str | int) else ""


def _birth_date(value: str) -> date | None:
    if not value:
        return None
    try:
        born = date.fromisoformat(value)
    except ValueError:
        raise RowRejected(f"date_of_birth {value!r} is not a date (YYYY-MM-DD)") from None
    if born > datetime.now(UTC).date():
        raise RowRejected(f"date_of_birth {value} is in the future")
    return born


def _expiry(value: str) -> datetime:
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
