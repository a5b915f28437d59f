"""The example rule type of docs/development.md "Adding an ingest rule".

test_rule_plugins.py installs this module as a distribution of its own, with the entry point
its pyproject.toml would declare:

    [project.entry-points."kuzet.ingest.rules"]
    understaffed = "example_rule:Understaffed"

so the walkthrough is exercised the way a rule type from another package is found.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kuzet.ingest.rulebase import Rule, RuleFrame, RuleHit
from kuzet.ingest.v1 import ingest_pb2


@dataclass(frozen=True)
class Staffing:
    min_count: int


class Understaffed(Rule[Staffing]):
    """Fewer than max_count people at a post that needs several: once per episode (until the
    post is staffed again) and cool-down."""

    # Numbers below 1000 are ingest.proto's RuleType values; see docs/development.md.
    type = 1000
    name = "understaffed"
    event_type = "post_unattended"

    @classmethod
    def parse(cls, msg: ingest_pb2.Rule) -> Staffing:
        if msg.max_count < 2:
            raise ValueError("max_count must be >= 2 (an empty post is post_unattended)")
        return Staffing(msg.max_count)

    def evaluate(self, frame: RuleFrame) -> Iterator[RuleHit]:
        count, wanted = len(frame.in_zone), self.settings.min_count
        if count >= wanted:
            self.end_episode()
            return
        subject = self.episode(frame.t, within_s=float("inf"))
        if self.fire(subject, frame.t):
            yield self.hit(
                subject,
                frame.in_zone,
                {"zone": self.cfg.zone_id, "count": count, "min_count": wanted},
                f"{count} of {wanted} staff at post {self.cfg.zone_id}",
            )
