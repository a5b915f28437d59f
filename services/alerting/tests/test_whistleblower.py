"""Integrity (bribery) alerts reach internal affairs only: list, get, act and stream."""

from __future__ import annotations

import grpc
import pytest

from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.caller import Caller
from kuzet.common.events import new_event
from kuzet.common.v1 import common_pb2

from .conftest import OPERATOR_A, SERVICE, Running, camera_event, md
from .test_subscribe import collect, wait_caught_up

INTERNAL_AFFAIRS_A = Caller("ia-a", "prison", frozenset({"internal_affairs"}))
ADMIN_A = Caller("admin-a", "prison", frozenset({"admin", "reviewer", "investigator", "pilot"}))


def integrity_event() -> common_pb2.Event:
    source = common_pb2.Source(kind=common_pb2.SOURCE_KIND_BADGE, id="integrity:r1", name="integrity report")
    return new_event("prison", "integrity_report", source, rule_id="integrity_report", subject="r1")


async def test_only_internal_affairs_lists_reads_and_is_streamed_integrity_alerts(alerting: Running) -> None:
    stub = alerting.stub()
    ia_feed = stub.Subscribe(pb.SubscribeRequest(after_cursor=0), metadata=md(INTERNAL_AFFAIRS_A))
    op_feed = stub.Subscribe(pb.SubscribeRequest(after_cursor=0), metadata=md(OPERATOR_A))
    await wait_caught_up(ia_feed)
    await wait_caught_up(op_feed)
    secret = await stub.Publish(pb.PublishRequest(event=integrity_event()), metadata=md(SERVICE))
    ordinary = await stub.Publish(pb.PublishRequest(event=camera_event()), metadata=md(SERVICE))

    # The operator's stream skips the integrity alert and goes on with the next one.
    (seen,) = await collect(op_feed, 1)
    assert seen.alert.alert_id == ordinary.alert_id
    ia_seen = await collect(ia_feed, 1)
    assert ia_seen[0].alert.alert_id == secret.alert_id
    ia_feed.cancel()
    op_feed.cancel()

    for who in (OPERATOR_A, ADMIN_A):
        listed = await stub.ListAlerts(pb.ListAlertsRequest(), metadata=md(who))
        assert [a.alert_id for a in listed.alerts] == [ordinary.alert_id]
        typed = await stub.ListAlerts(
            pb.ListAlertsRequest(filter=pb.AlertFilter(types=["integrity_report"])), metadata=md(who)
        )
        assert not typed.alerts
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetAlert(pb.GetAlertRequest(alert_id=secret.alert_id), metadata=md(who))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Acknowledge(pb.AcknowledgeRequest(alert_id=secret.alert_id), metadata=md(who))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND

    listed = await stub.ListAlerts(pb.ListAlertsRequest(), metadata=md(INTERNAL_AFFAIRS_A))
    assert secret.alert_id in {a.alert_id for a in listed.alerts}
    got = (
        await stub.GetAlert(pb.GetAlertRequest(alert_id=secret.alert_id), metadata=md(INTERNAL_AFFAIRS_A))
    ).alert
    assert got.source.id == "integrity:r1"
