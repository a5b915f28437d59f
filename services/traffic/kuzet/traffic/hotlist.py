"""Hotlists: plates to look out for, each with why, who asked, under what law and until when.

A read plate matches an entry exactly on the normalised text. With ``fuzzy=True`` a read that is one
look-alike character away from an entry (a 3 read for an 8, a P for an R: LOOKALIKE) is reported
too, as a ``fuzzy`` match. A fuzzy match is never grounds to act: it asks a person to compare the
snapshot with the entry, and only a plate that person confirms (or a later exact read) may lead to
a stop. ``HotlistMatch.actionable`` says which is which.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations

from kuzet.common.errors import InvalidArgument
from kuzet.common.roads.plates import PlateReading, normalise
from kuzet.common.timeutil import as_utc

EXACT = "exact"
FUZZY = "fuzzy"
TEXT_MAX = 500

# Characters of one class (after the plate's normalisation puts digits and letters in their places)
# that a plate reader mistakes for one another: worn paint, dirt, a low angle. Each group's members
# are one look-alike step apart.
_LOOKALIKE_GROUPS = ("08", "38", "68", "89", "17", "56", "OQD", "EF", "PR", "MNH", "KX", "UV", "CG", "IJLT")


def _lookalikes(groups: Iterable[str]) -> dict[str, frozenset[str]]:
    others: dict[str, set[str]] = defaultdict(set)
    for group in groups:
        for a, b in combinations(group, 2):
            others[a].add(b)
            others[b].add(a)
    return {char: frozenset(chars) for char, chars in others.items()}


LOOKALIKE = _lookalikes(_LOOKALIKE_GROUPS)


def lookalike_variants(text: str) -> list[tuple[int, str]]:
    """Every plate one look-alike character away from ``text``, with the position that differs."""
    return [
        (position, text[:position] + other + text[position + 1 :])
        for position, char in enumerate(text)
        for other in sorted(LOOKALIKE.get(char, ()))
    ]


@dataclass(frozen=True)
class HotlistEntry:
    plate: str  # normalised (plates.normalise)
    reason: str
    # who put it on the list (a unit, a case system)
    source: str
    # the law or order that allows looking for this vehicle
    legal_basis: str
    # after this instant the entry matches nothing
    expires_at: datetime


def hotlist_entry(
    plate: str, *, reason: str, source: str, legal_basis: str, expires_at: datetime, now: datetime
) -> HotlistEntry:
    """A validated entry; the plate is typed text, so no OCR correction is applied to it."""
    try:
        reading = normalise(plate, ocr=False)
    except InvalidArgument as exc:
        raise InvalidArgument(f"hotlist entry: {exc.message}") from None
    fields = {"reason": reason, "source": source, "legal_basis": legal_basis}
    for name, value in fields.items():
        if not value.strip():
            raise InvalidArgument(f"hotlist entry for {reading.text}: {name} is required")
        if len(value) > TEXT_MAX:
            raise InvalidArgument(
                f"hotlist entry for {reading.text}: {name} is longer than {TEXT_MAX} characters"
            )
    expires = as_utc(expires_at)
    if expires <= as_utc(now):
        raise InvalidArgument(f"hotlist entry for {reading.text}: it expired at {expires.isoformat()}")
    return HotlistEntry(
        plate=reading.text,
        reason=reason.strip(),
        source=source.strip(),
        legal_basis=legal_basis.strip(),
        expires_at=expires,
    )


@dataclass(frozen=True)
class HotlistMatch:
    entry: HotlistEntry
    read: PlateReading
    kind: str  # EXACT or FUZZY
    # the character of the read that differs from the entry's plate (fuzzy matches only)
    position: int | None = None

    @property
    def actionable(self) -> bool:
        """Only an exact match may lead to action; a fuzzy one asks a person to look."""
        return self.kind == EXACT


class Hotlist:
    """The entries of one agency; a second entry for the same plate from the same source replaces the first."""

    def __init__(self, entries: Iterable[HotlistEntry] = ()) -> None:
        self._by_plate: dict[str, dict[str, HotlistEntry]] = {}
        for entry in entries:
            self.upsert(entry)

    def upsert(self, entry: HotlistEntry) -> None:
        self._by_plate.setdefault(entry.plate, {})[entry.source] = entry

    def __len__(self) -> int:
        return sum(len(by_source) for by_source in self._by_plate.values())

    def match(self, read: PlateReading, at: datetime, *, fuzzy: bool = False) -> list[HotlistMatch]:
        """Entries in force at ``at`` for the read plate: exact matches first, then fuzzy ones if asked."""
        at = as_utc(at)
        found = [HotlistMatch(e, read, EXACT) for e in self._in_force(read.text, at)]
        if fuzzy:
            for position, variant in lookalike_variants(read.text):
                found.extend(HotlistMatch(e, read, FUZZY, position) for e in self._in_force(variant, at))
        return found

    def _in_force(self, plate: str, at: datetime) -> list[HotlistEntry]:
        return [e for e in self._by_plate.get(plate, {}).values() if e.expires_at > at]
