"""Per-site permissions: a user limited to some sites of its agency sees, streams, reports on
and acts on the alerts of those sites only, and learns nothing of the others (issue #21 item 1)."""

from __future__ import annotations

import grpc
import pytest

from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.caller import Caller

from .conftest import OPERATOR_A, SERVICE, Running, camera_event, md
from .test_subscribe import collect, wait_caught_up

BLOCK_A = Caller("op-block-a", "prison", frozenset({"operator"}), frozenset({"block-a"}))


async def _publish(alerting: Running, site: str, subject: str) -> str:
    event = camera_event(site=site, camera=f"cam-{site}", subject=subject)
    r = await alerting.stub().Publish(pb.PublishRequest(event=event), metadata=md(SERVICE))
    return str(r.alert_id)


async def test_a_site_limited_operator_sees_and_acts_on_its_sites_only(alerting: Running) -> None:
    stub = alerting.stub()
    mine = await _publish(alerting, "block-a", "t1")
    other = await _publish(alerting, "block-b", "t2")
    listed = await stub.ListAlerts(pb.ListAlertsRequest(), metadata=md(BLOCK_A))
    assert [a.alert_id for a in listed.alerts] == [mine]
    everything = await stub.ListAlerts(pb.ListAlertsRequest(), metadata=md(OPERATOR_A))
    assert {a.alert_id for a in everything.alerts} == {mine, other}
    # Asking for the other site by filter does not widen the limit.
    asked = await stub.ListAlerts(
        pb.ListAlertsRequest(filter=pb.AlertFilter(site_ids=["block-b"])), metadata=md(BLOCK_A)
    )
    assert list(asked.alerts) == []
    for call in (
        stub.GetAlert(pb.GetAlertRequest(alert_id=other), metadata=md(BLOCK_A)),
        stub.Acknowledge(pb.AcknowledgeRequest(alert_id=other), metadata=md(BLOCK_A)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    ack = await stub.Acknowledge(pb.AcknowledgeRequest(alert_id=mine), metadata=md(BLOCK_A))
    assert ack.alert.state == pb.ALERT_STATE_ACKNOWLEDGED


async def test_the_stream_and_the_outcome_report_keep_to_the_users_sites(alerting: Running) -> None:
    stub = alerting.stub()
    stream = stub.Subscribe(pb.SubscribeRequest(), metadata=md(BLOCK_A))
    await wait_caught_up(stream)
    await _publish(alerting, "block-b", "t3")
    mine = await _publish(alerting, "block-a", "t4")
    (update,) = await collect(stream, 1)
    assert update.alert.alert_id == mine
    stream.cancel()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetOutcomeReport(pb.GetOutcomeReportRequest(site_ids=["block-b"]), metadata=md(BLOCK_A))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED and "block-b" in (err.value.details() or "")
    await stub.GetOutcomeReport(pb.GetOutcomeReportRequest(), metadata=md(BLOCK_A))
