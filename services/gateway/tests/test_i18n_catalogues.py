"""The console's three catalogues (en, ru, kk) hold the same keys, every key the console uses,
and nothing else; the Russian and Kazakh texts are not English left behind."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from kuzet.alerting.v1 import alerting_pb2
from kuzet.badge.v1 import badge_pb2
from kuzet.common.events import EVENT_TYPES
from kuzet.common.v1 import common_pb2
from kuzet.drone.v1 import drone_pb2
from kuzet.gateway.app import STATIC
from kuzet.identity.v1 import identity_pb2
from kuzet.ingest.v1 import ingest_pb2

LANGUAGES = ("en", "ru", "kk")
CATALOGUES = {lang: json.loads((STATIC / "i18n" / f"{lang}.json").read_text("utf-8")) for lang in LANGUAGES}


def _names(enum: Any) -> set[str]:
    """An enum's value names as the console shows them: without the prefix, lower case."""
    values = enum.DESCRIPTOR.values
    prefix = values[0].name.removesuffix("UNSPECIFIED")
    return {v.name.removeprefix(prefix).lower() for v in values[1:]}


# Keys looked up with a computed name (label(family, value), guidance(type)) and the source of
# truth each family must match.
FAMILY_SOURCES: dict[str, set[str]] = {
    "alert_type": set(EVENT_TYPES),
    "severity": _names(common_pb2.Severity),
    "state": _names(alerting_pb2.AlertState),
    "outcome": _names(alerting_pb2.AlertOutcome),
    "update": _names(alerting_pb2.AlertUpdateKind),
    "match_state": _names(identity_pb2.MatchState),
    "fault": _names(ingest_pb2.Fault),
    "badge_status": _names(badge_pb2.BadgeStatus),
    "evidence_status": _names(badge_pb2.EvidenceStatus),
    "custody_action": _names(badge_pb2.CustodyAction),
    "citation_status": _names(badge_pb2.CitationStatus),
    "mission_state": _names(drone_pb2.MissionState),
    "patrol_kind": _names(drone_pb2.PatrolKind),
    "drone_action": _names(drone_pb2.ControlAction),
    "guidance": set(EVENT_TYPES) | {"family_camera", "family_badge", "family_drone", "default"},
}
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Latin letters that are not English: the product's name, a zone's name, a plate's letters.
NOT_WORDS = {"Kuzet", "UTC", "ABC", "SHA"}


def _texts(value: str | dict[str, str]) -> list[str]:
    return list(value.values()) if isinstance(value, dict) else [value]


def _used_keys() -> set[str]:
    """Keys named literally: in t(...), anywhere in the JS as a string, in data-i18n* attributes."""
    keys: set[str] = set()
    for js in (STATIC / "js").glob("*.js"):
        text = js.read_text("utf-8")
        # t("key", ...), t(cond ? "a" : "b"); map.js imports t as tr (its t is a drone's telemetry).
        for args in re.findall(r"\b(?:t|tr)\((?=([^()]*))", text):
            keys |= set(re.findall(r'"([a-z_]+\.[a-z0-9_]+)"', args))
        # Keys kept in tables (view labels, action labels, column headers): any literal that is a key.
        keys |= set(re.findall(r'"([a-z_]+\.[a-z0-9_]+)"', text)) & set(CATALOGUES["en"])
        # t(`family.${value}`): every key of that family counts as used.
        for family in re.findall(r"\bt\(`([a-z_]+\.[a-z_]*)\$\{", text):
            keys |= {k for k in CATALOGUES["en"] if k.startswith(family)}
    html = (STATIC / "index.html").read_text("utf-8")
    keys |= set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', html))
    return keys


def test_every_catalogue_has_the_same_keys_and_placeholders() -> None:
    en = CATALOGUES["en"]
    for lang in ("ru", "kk"):
        cat = CATALOGUES[lang]
        assert set(cat) == set(en), f"{lang}: missing {set(en) - set(cat)}, stray {set(cat) - set(en)}"
        for key, value in cat.items():
            wanted = {p for text in _texts(en[key]) for p in PLACEHOLDER.findall(text)}
            for text in _texts(value):
                assert set(PLACEHOLDER.findall(text)) == wanted, f"{lang} {key}: placeholders differ"
            if isinstance(value, dict):
                assert "other" in value, f"{lang} {key}: a plural needs the 'other' form"
    assert set(CATALOGUES["ru"]["time.minutes_ago"]) >= {"one", "few", "many", "other"}


def test_every_used_key_exists_and_no_key_is_stray() -> None:
    used = _used_keys()
    keys = set(CATALOGUES["en"])
    assert not used - keys, f"used but in no catalogue: {sorted(used - keys)}"
    computed = {k for k in keys if k.split(".", 1)[0] in FAMILY_SOURCES}
    stray = keys - used - computed
    assert not stray, f"in the catalogues but used nowhere: {sorted(stray)}"
    for family, names in FAMILY_SOURCES.items():
        have = {k.split(".", 1)[1] for k in keys if k.startswith(family + ".")}
        assert not have - names, f"{family}: not a known name: {sorted(have - names)}"
        if family != "guidance":  # guidance falls back to a family text or the default
            assert not names - have, f"{family}: no translation for {sorted(names - have)}"


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_russian_and_kazakh_are_not_english(lang: str) -> None:
    for key, value in CATALOGUES[lang].items():
        for text in _texts(value):
            latin = set(re.findall(r"[A-Za-z]{2,}", PLACEHOLDER.sub("", text))) - NOT_WORDS
            assert not latin, f"{lang} {key}: English words left: {latin}"
    kazakh_letters = set("әғқңөұүһі")
    assert any(kazakh_letters & set(t) for v in CATALOGUES["kk"].values() for t in _texts(v))
