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
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from kuzet.common.connectors.base import RawRecord, RawSource, RowRejected, fingerprint_of
from kuzet.common.connectors.fields import expiry, legal_basis, text
from kuzet.common.connectors.rows import RowConnector

MAX_PHOTO_BYTES = 10 * 1024 * 1024


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
        return fingerprint_of(
            self.external_id,
            self.surname,
            self.given_names,
            self.date_of_birth.isoformat() if self.date_of_birth else "",
            self.reason,
            self.source,
            self.legal_basis,
            self.expires_at.isoformat(),
            self.photo_sha256,
        )


class WantedPersonsConnector(RowConnector[WantedPerson]):
    """Rows of a source as WantedPerson records; ``legal_bases``: the ones this import accepts."""

    def __init__(self, source: RawSource, legal_bases: Collection[str]) -> None:
        if not legal_bases:
            raise ValueError("an import accepts at least one legal basis")
        super().__init__(source, legal_bases)

    async def parse(self, raw: RawRecord) -> WantedPerson:
        f = raw.fields
        external_id = text(f, "external_id", required=True)
        surname = text(f, "surname")
        given_names = text(f, "given_names")
        if not (surname or given_names):
            raise RowRejected("surname or given_names is required")
        basis = legal_basis(f, self.legal_bases)
        return WantedPerson(
            row=raw.row,
            external_id=external_id,
            surname=surname,
            given_names=given_names,
            date_of_birth=_birth_date(text(f, "date_of_birth")),
            reason=text(f, "reason", required=True, longest=4096),
            source=text(f, "source", required=True),
            legal_basis=basis,
            expires_at=expiry(text(f, "expires_at", required=True)),
            photo=await self._photo(f),
        )

    async def _photo(self, f: Mapping[str, Any]) -> bytes | None:
        inline = text(f, "photo", longest=MAX_PHOTO_BYTES * 2)
        path = text(f, "photo_path", longest=1024)
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
