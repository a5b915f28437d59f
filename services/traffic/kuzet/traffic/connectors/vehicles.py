"""Stolen or wanted vehicle records: what a national database says about one vehicle.

Fields (CSV columns or JSON keys; others are ignored):

    external_id    the source's id of the record (required, stable across exports)
    plate          the registration plate, as typed: normalised as a hotlist entry's plate
    reason         why the vehicle is sought (required)
    source         the authority that issued the record (required)
    legal_basis    required; one of those the import accepts when it names any
    expires_at     YYYY-MM-DD (00:00 UTC that day) or an ISO date-time with its offset; in the future
    vehicle        make, model, colour (optional)

A record is checked as UpsertHotlistEntries checks an entry (kuzet.traffic.hotlist): a plate that
does not normalise, a missing field or an expiry already passed rejects the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kuzet.common.connectors.base import RawRecord, Rejection, RowRejected, fingerprint_of, unique_by
from kuzet.common.connectors.fields import expiry, legal_basis, text
from kuzet.common.connectors.rows import RowConnector
from kuzet.common.errors import InvalidArgument
from kuzet.common.timeutil import utcnow
from kuzet.traffic.hotlist import TEXT_MAX, HotlistEntry, hotlist_entry

# Longer than any plate: the normalisation says what is wrong with a long one, not this limit.
PLATE_TEXT_MAX = 64


@dataclass(frozen=True)
class WantedVehicle:
    row: int
    external_id: str
    entry: HotlistEntry
    vehicle: str

    def fingerprint(self) -> str:
        e = self.entry
        return fingerprint_of(
            self.external_id,
            e.plate,
            e.reason,
            e.source,
            e.legal_basis,
            e.expires_at.isoformat(),
            self.vehicle,
        )


class WantedVehiclesConnector(RowConnector[WantedVehicle]):
    """Rows of a source as WantedVehicle records."""

    async def parse(self, raw: RawRecord) -> WantedVehicle:
        f = raw.fields
        external_id = text(f, "external_id", required=True)
        plate = text(f, "plate", required=True, longest=PLATE_TEXT_MAX)
        basis = legal_basis(f, self.legal_bases)
        try:
            entry = hotlist_entry(
                plate,
                reason=text(f, "reason", required=True, longest=TEXT_MAX),
                source=text(f, "source", required=True, longest=TEXT_MAX),
                legal_basis=basis,
                expires_at=expiry(text(f, "expires_at", required=True)),
                now=utcnow(),
            )
        except InvalidArgument as exc:
            raise RowRejected(exc.message) from None
        return WantedVehicle(raw.row, external_id, entry, text(f, "vehicle", longest=TEXT_MAX))


def plate_conflicts(records: Sequence[WantedVehicle]) -> list[Rejection]:
    """A plate on two rows of one batch: which row the hotlist should say cannot be told, so
    both are refused, whether their other fields differ or not."""
    _, rejected = unique_by(records, lambda r: r.entry.plate, lambda r: f"plate {r.entry.plate}")
    return rejected
