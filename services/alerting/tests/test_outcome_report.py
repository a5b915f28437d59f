"""The outcome report: each rule's precision as operators judged its alerts, own agency only."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest

from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.caller import Caller
from kuzet.common.timeutil import to_timestamp, utcnow

from .conftest import OPERATOR_A, OPERATOR_B, SERVICE, Running, camera_event, md

INTERNAL_AFFAIRS_A = Caller("ia-a", "prison", frozenset({"internal_affairs", "operator"}))


async def _closed(
    alerting: Running, rule: str, subject: str, outcome: int, *, agency: str = "prison"
) -> None:
    stub = alerting.stub()
    event = camera_event("person_down", rule=rule, subject=subject, agency=agency)
    published = await stub.Publish(pb.PublishRequest(event=event), metadata=md(SERVICE))
    operator = OPERATOR_A if agency == "prison" else OPERATOR_B
    await stub.Resolve(
        pb.ResolveRequest(alert_id=published.alert_id, outcome=outcome, note="judged"), metadata=md(operator)
    )


async def test_precision_per_rule_from_the_operators_outcomes(alerting: Running) -> None:
    judged = [pb.ALERT_OUTCOME_ACTION_TAKEN, pb.ALERT_OUTCOME_NO_ACTION_NEEDED, pb.ALERT_OUTCOME_FALSE_ALARM]
    for i, outcome in enumerate([*judged, pb.ALERT_OUTCOME_TEST]):
        await _closed(alerting, "fall-cell-4", f"t{i}", outcome)
    for i in range(2):
        await _closed(alerting, "fall-yard", f"y{i}", pb.ALERT_OUTCOME_FALSE_ALARM)
    await _closed(alerting, "fall-yard", "y9", pb.ALERT_OUTCOME_DUPLICATE)
    # another agency's judgements are not this agency's precision
    await _closed(alerting, "fall-cell-4", "p1", pb.ALERT_OUTCOME_FALSE_ALARM, agency="police")
    # an open alert is not judged yet
    await alerting.stub().Publish(
        pb.PublishRequest(event=camera_event("person_down", rule="fall-cell-4", subject="open")),
        metadata=md(SERVICE),
    )

    report = await alerting.stub().GetOutcomeReport(pb.GetOutcomeReportRequest(), metadata=md(OPERATOR_A))
    by_rule = {r.rule_id: r for r in report.rules}
    assert [r.rule_id for r in report.rules] == ["fall-yard", "fall-cell-4"]  # most false alarms first
    cell = by_rule["fall-cell-4"]
    assert (cell.resolved, cell.true_alarms, cell.false_alarms, cell.not_judged) == (4, 2, 1, 1)
    assert cell.has_precision and cell.precision == pytest.approx(2 / 3)
    assert cell.by_outcome["ALERT_OUTCOME_TEST"] == 1 and cell.type == "person_down"
    yard = by_rule["fall-yard"]
    assert (yard.true_alarms, yard.false_alarms, yard.not_judged) == (0, 2, 1)
    assert yard.has_precision and yard.precision == 0.0

    police = await alerting.stub().GetOutcomeReport(pb.GetOutcomeReportRequest(), metadata=md(OPERATOR_B))
    assert [(r.rule_id, r.false_alarms) for r in police.rules] == [("fall-cell-4", 1)]


async def test_time_range_and_type_filter(alerting: Running) -> None:
    await _closed(alerting, "r1", "a", pb.ALERT_OUTCOME_ACTION_TAKEN)
    now = utcnow()
    later = pb.GetOutcomeReportRequest(since=to_timestamp(now + timedelta(minutes=1)))
    assert not (await alerting.stub().GetOutcomeReport(later, metadata=md(OPERATOR_A))).rules
    other_type = pb.GetOutcomeReportRequest(types=["zone_intrusion"])
    assert not (await alerting.stub().GetOutcomeReport(other_type, metadata=md(OPERATOR_A))).rules
    window = pb.GetOutcomeReportRequest(
        since=to_timestamp(now - timedelta(minutes=5)), until=to_timestamp(now + timedelta(minutes=1))
    )
    (rule,) = (await alerting.stub().GetOutcomeReport(window, metadata=md(OPERATOR_A))).rules
    assert rule.rule_id == "r1" and rule.precision == 1.0

    backwards = pb.GetOutcomeReportRequest(
        since=to_timestamp(now), until=to_timestamp(now - timedelta(hours=1))
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await alerting.stub().GetOutcomeReport(backwards, metadata=md(OPERATOR_A))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "until" in (err.value.details() or "")


async def test_types_the_caller_may_not_see_are_not_counted(alerting: Running) -> None:
    stub = alerting.stub()
    report = camera_event("integrity_report", rule="", subject="r1")
    published = await stub.Publish(pb.PublishRequest(event=report), metadata=md(SERVICE))
    await stub.Resolve(
        pb.ResolveRequest(alert_id=published.alert_id, outcome=pb.ALERT_OUTCOME_FALSE_ALARM, note="x"),
        metadata=md(INTERNAL_AFFAIRS_A),
    )
    seen_by_operator = await stub.GetOutcomeReport(pb.GetOutcomeReportRequest(), metadata=md(OPERATOR_A))
    assert not seen_by_operator.rules
    seen_by_ia = await stub.GetOutcomeReport(pb.GetOutcomeReportRequest(), metadata=md(INTERNAL_AFFAIRS_A))
    assert [r.type for r in seen_by_ia.rules] == ["integrity_report"]
