"""The outcome report: how operators closed each rule's alerts, so a rule's precision in practice
is known (and a noisy rule is found) from the operators' own judgements.

A duplicate, an automatic resolution or a drill says nothing about whether the rule was right, so
those are counted but kept out of the precision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from kuzet.alerting.models import AlertRow
from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.db import Database

TRUE_OUTCOMES = frozenset({pb.ALERT_OUTCOME_ACTION_TAKEN, pb.ALERT_OUTCOME_NO_ACTION_NEEDED})
FALSE_OUTCOMES = frozenset({pb.ALERT_OUTCOME_FALSE_ALARM})


@dataclass
class _Tally:
    by_outcome: dict[int, int] = field(default_factory=dict)

    def to_proto(self, event_type: str, rule_id: str) -> pb.RuleOutcomes:
        true = sum(n for o, n in self.by_outcome.items() if o in TRUE_OUTCOMES)
        false = sum(n for o, n in self.by_outcome.items() if o in FALSE_OUTCOMES)
        resolved = sum(self.by_outcome.values())
        report = pb.RuleOutcomes(
            type=event_type,
            rule_id=rule_id,
            resolved=resolved,
            true_alarms=true,
            false_alarms=false,
            not_judged=resolved - true - false,
            by_outcome={pb.AlertOutcome.Name(o): n for o, n in sorted(self.by_outcome.items())},
        )
        if true + false:
            report.precision = true / (true + false)
            report.has_precision = True
        return report


def outcome_report(
    rows: Iterable[tuple[str, str, int, int]],
) -> list[pb.RuleOutcomes]:
    """(type, rule_id, outcome, count) rows -> one report per rule, most false alarms first."""
    tallies: dict[tuple[str, str], _Tally] = {}
    for event_type, rule_id, outcome, count in rows:
        tally = tallies.setdefault((event_type, rule_id), _Tally())
        tally.by_outcome[outcome] = tally.by_outcome.get(outcome, 0) + count
    reports = [tally.to_proto(t, r) for (t, r), tally in tallies.items()]
    return sorted(
        reports, key=lambda r: (-r.false_alarms, r.precision if r.has_precision else 1.0, r.type, r.rule_id)
    )


def read_outcomes(
    database: Database,
    agency: str,
    since: datetime | None,
    until: datetime | None,
    types: Sequence[str],
    site_ids: Sequence[str],
    hidden_types: frozenset[str],
) -> list[pb.RuleOutcomes]:
    """The report over the agency's own alerts resolved in [since, until) (shared-in alerts are
    the owning agency's rules, judged there), less the types the caller may not see: a count of
    whistleblower reports is itself something their subject must not learn."""
    t = AlertRow
    conds = [t.agency_id == agency, t.resolved_at.is_not(None)]
    if since is not None:
        conds.append(t.resolved_at >= since)
    if until is not None:
        conds.append(t.resolved_at < until)
    if types:
        conds.append(t.type.in_(list(types)))
    if site_ids:
        conds.append(t.site_id.in_(list(site_ids)))
    if hidden_types:
        conds.append(t.type.not_in(list(hidden_types)))
    query = (
        select(t.type, t.rule_id, t.outcome, func.count())
        .where(*conds)
        .group_by(t.type, t.rule_id, t.outcome)
    )
    with database.session() as s:
        rows = [(str(a), str(b), int(c), int(d)) for a, b, c, d in s.execute(query).all()]
    return outcome_report(rows)
