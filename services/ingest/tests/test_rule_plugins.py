"""Rule types come from the kuzet.ingest.rules registry: the shipped ones, and the walkthrough's
example (tests/example_rule.py) installed as another distribution would be."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kuzet.common.errors import InvalidArgument
from kuzet.common.events import EVENT_TYPES, new_event
from kuzet.common.testing import InstallPlugin
from kuzet.common.v1 import common_pb2
from kuzet.ingest.cameras import to_config
from kuzet.ingest.rulebase import RULES
from kuzet.ingest.rules import RuleEngine
from kuzet.ingest.v1 import ingest_pb2 as pb

from .test_rules import T0, camera, person

EXAMPLE = Path(__file__).with_name("example_rule.py")


def test_every_rule_type_of_the_contract_is_registered_and_documented() -> None:
    wire = {v for v in pb.RuleType.values() if v != pb.RULE_TYPE_UNSPECIFIED}
    assert wire <= set(RULES.keys())
    for kind in RULES:
        assert kind.__doc__ and kind.name
        assert kind.event_type is None or kind.event_type in EVENT_TYPES, kind.name


@pytest.fixture
def example_rule(install_plugin: InstallPlugin) -> Iterator[None]:
    install_plugin(
        "kuzet-example-rule",
        {"kuzet.ingest.rules": {"understaffed": "example_rule:Understaffed"}},
        {"example_rule": EXAMPLE.read_text()},
    )
    RULES.discover()
    yield
    RULES.unregister(1000)


def test_the_walkthrough_example_rule_emits_its_event(example_rule: None) -> None:
    rule = pb.Rule(id="two", type=1000, zone_id="z", max_count=2, cooldown_seconds=30)
    cfg = to_config(camera(rule), "", "")
    assert cfg.rules[0].settings.min_count == 2
    eng = RuleEngine(cfg)
    staffed = [person(1, 150, 200), person(2, 250, 200)]
    assert eng.evaluate(T0, staffed) == ([], [])
    (hit,), _ = eng.evaluate(T0 + 1, staffed[:1])
    assert not eng.evaluate(T0 + 2, staffed[:1])[0]  # the same episode, in its cool-down
    assert hit.summary == "1 of 2 staff at post z" and hit.attributes["count"] == 1
    assert not eng.evaluate(T0 + 3, staffed)[0]
    (again,), _ = eng.evaluate(T0 + 4, [])  # staffed in between: a new episode, a new subject
    assert again.subject != hit.subject

    # What the pipeline publishes for a hit (pipeline._publish_hit): a valid event of its type.
    source = common_pb2.Source(kind=common_pb2.SOURCE_KIND_CAMERA, id=cfg.id)
    event = new_event(cfg.agency, hit.event_type, source, rule_id=hit.rule.id, subject=hit.subject)
    assert event.type == "post_unattended" and event.severity == EVENT_TYPES["post_unattended"].severity


def test_the_example_rules_settings_are_validated(example_rule: None) -> None:
    rule = pb.Rule(id="one", type=1000, zone_id="z", max_count=1)
    with pytest.raises(InvalidArgument, match=r"camera.rules\[0\] \(one\): max_count must be >= 2"):
        to_config(camera(rule), "", "")
    with pytest.raises(InvalidArgument, match="zone_id 'nope' is not a zone"):
        to_config(camera(pb.Rule(id="x", type=1000, zone_id="nope", max_count=2)), "", "")


def test_an_uninstalled_rule_type_is_refused() -> None:
    with pytest.raises(
        InvalidArgument, match=r"type 1000 is not an installed rule type \(installed: 1, 2, 3"
    ):
        to_config(camera(pb.Rule(id="x", type=1000, zone_id="z")), "", "")
