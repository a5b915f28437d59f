"""Hotlists: validated entries, exact matches that may lead to action, fuzzy ones that only ask a person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kuzet.common.errors import InvalidArgument
from kuzet.common.roads.plates import normalise
from kuzet.traffic.hotlist import EXACT, FUZZY, Hotlist, HotlistEntry, hotlist_entry

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def _entry(plate: str, *, source: str = "Almaty police, case 4471", days: float = 30) -> HotlistEntry:
    return hotlist_entry(
        plate,
        reason="stolen vehicle",
        source=source,
        legal_basis="Criminal Procedure Code art. 254 search order",
        expires_at=NOW + timedelta(days=days),
        now=NOW,
    )


def test_an_entry_is_stored_with_its_plate_normalised() -> None:
    entry = _entry("123 авс 02")  # typed on a Cyrillic keyboard
    assert entry.plate == "123ABC02"
    assert entry.reason == "stolen vehicle"
    assert entry.expires_at == NOW + timedelta(days=30)


@pytest.mark.parametrize(
    ("plate", "why"),
    [
        ("12-AB-C", "hotlist entry: plate '12-AB-C' is not a Kazakhstan plate"),
        ("I23ABC02", "not a Kazakhstan plate"),  # typed text gets no OCR correction
        ("123ABC99", "not a Kazakhstan plate"),
        ("", "is empty"),
    ],
)
def test_a_malformed_plate_is_refused(plate: str, why: str) -> None:
    with pytest.raises(InvalidArgument, match=why):
        _entry(plate)


def test_reason_source_legal_basis_and_a_future_expiry_are_required() -> None:
    fields = {
        "reason": "stolen",
        "source": "unit 5",
        "legal_basis": "order 12",
        "expires_at": NOW + timedelta(days=1),
    }
    for name in ("reason", "source", "legal_basis"):
        with pytest.raises(InvalidArgument, match=f"123ABC02: {name} is required"):
            hotlist_entry("123ABC02", **{**fields, name: "  "}, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="reason is longer than 500"):
        hotlist_entry("123ABC02", **{**fields, "reason": "x" * 501}, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="it expired at 2026-12-07T08:00:00"):
        hotlist_entry("123ABC02", **{**fields, "expires_at": NOW}, now=NOW)  # type: ignore[arg-type]


def test_an_exact_read_matches_and_is_actionable() -> None:
    hotlist = Hotlist([_entry("123ABC02"), _entry("A585CUO")])
    (match,) = hotlist.match(normalise("I23 ABC O2", 0.88), NOW)
    assert (match.kind, match.actionable, match.entry.plate, match.read.raw) == (
        EXACT,
        True,
        "123ABC02",
        "I23 ABC O2",
    )
    (old,) = hotlist.match(normalise("A 585 CUO"), NOW)
    assert old.entry.plate == "A585CUO"
    assert hotlist.match(normalise("123ABC03"), NOW) == []


def test_an_expired_entry_matches_nothing() -> None:
    hotlist = Hotlist([_entry("123ABC02", days=1)])
    assert hotlist.match(normalise("123ABC02"), NOW + timedelta(hours=23))
    assert hotlist.match(normalise("123ABC02"), NOW + timedelta(days=1)) == []


def test_a_one_look_alike_read_is_a_fuzzy_match_that_is_not_actionable() -> None:
    hotlist = Hotlist([_entry("123ABC08"), _entry("777PRK05")])
    read = normalise("123ABC03")  # 3 for 8
    assert hotlist.match(read, NOW) == []
    (match,) = hotlist.match(read, NOW, fuzzy=True)
    assert (match.kind, match.actionable, match.position, match.entry.plate) == (FUZZY, False, 7, "123ABC08")
    # R for P: a letter look-alike
    (letter,) = hotlist.match(normalise("777RRK05"), NOW, fuzzy=True)
    assert (letter.kind, letter.position) == (FUZZY, 3)
    # two characters off, or one that is no look-alike: nothing
    assert hotlist.match(normalise("123ABC05"), NOW, fuzzy=True) == []  # 5 is not like 8
    assert hotlist.match(normalise("128ABC03"), NOW, fuzzy=True) == []


def test_exact_matches_come_before_fuzzy_ones() -> None:
    hotlist = Hotlist([_entry("123ABC08"), _entry("123ABC03")])
    matches = hotlist.match(normalise("123ABC08"), NOW, fuzzy=True)
    assert [(m.kind, m.entry.plate) for m in matches] == [(EXACT, "123ABC08"), (FUZZY, "123ABC03")]


def test_one_plate_from_two_sources_is_two_entries_and_a_source_updates_its_own() -> None:
    hotlist = Hotlist([_entry("123ABC02", source="police"), _entry("123ABC02", source="customs")])
    assert len(hotlist) == 2
    hotlist.upsert(_entry("123ABC02", source="police", days=90))
    assert len(hotlist) == 2
    expiries = sorted(m.entry.expires_at for m in hotlist.match(normalise("123ABC02"), NOW))
    assert expiries == [NOW + timedelta(days=30), NOW + timedelta(days=90)]
