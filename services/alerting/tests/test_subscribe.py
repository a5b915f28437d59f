"""Delivery: live stream, resume from a cursor exactly-once in order, isolation, one trace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from kuzet.alerting.v1 import alerting_pb2 as pb

from .conftest import OPERATOR_A, OPERATOR_B, SERVICE, Running, camera_event, md


async def collect(
    stream: AsyncIterator[pb.SubscribeResponse], n: int, wait_s: float = 10.0
) -> list[pb.AlertUpdate]:
    out: list[pb.AlertUpdate] = []

    async def run() -> None:
        async for item in stream:
            if item.HasField("update"):
                out.append(item.update)
                if len(out) == n:
                    return

    await asyncio.wait_for(run(), wait_s)
    return out


async def wait_caught_up(stream: AsyncIterator[pb.SubscribeResponse]) -> None:
    async for item in stream:
        if item.HasField("heartbeat"):
            return


async def test_resume_from_cursor_gets_exactly_what_was_missed_in_order(alerting: Running) -> None:
    stub = alerting.stub()
    call = stub.Subscribe(pb.SubscribeRequest(after_cursor=0), metadata=md(OPERATOR_A))
    await wait_caught_up(call)
    for i in range(5):
        await stub.Publish(pb.PublishRequest(event=camera_event(subject=f"s{i}")), metadata=md(SERVICE))
    seen = await collect(call, 5)
    call.cancel()
    last = seen[-1].cursor
    # While disconnected: new alerts, folds, an acknowledgement.
    missed_ids = []
    for i in range(5, 12):
        r = await stub.Publish(pb.PublishRequest(event=camera_event(subject=f"s{i}")), metadata=md(SERVICE))
        missed_ids.append(r.alert_id)
    await stub.Publish(pb.PublishRequest(event=camera_event(subject="s0")), metadata=md(SERVICE))
    await stub.Acknowledge(pb.AcknowledgeRequest(alert_id=seen[0].alert.alert_id), metadata=md(OPERATOR_A))
    resumed = stub.Subscribe(pb.SubscribeRequest(after_cursor=last), metadata=md(OPERATOR_A))
    got = await collect(resumed, 9)
    # Then live continues on the same stream without gaps.
    live = await stub.Publish(pb.PublishRequest(event=camera_event(subject="live")), metadata=md(SERVICE))
    more = await collect(resumed, 1)
    resumed.cancel()
    cursors = [u.cursor for u in got + more]
    assert cursors == sorted(set(cursors)) and cursors[0] > last
    assert [u.alert.alert_id for u in got[:7]] == missed_ids
    assert got[7].kind == pb.ALERT_UPDATE_KIND_UPDATED and got[7].alert.count == 2
    assert got[8].kind == pb.ALERT_UPDATE_KIND_ACKNOWLEDGED and got[8].alert.acknowledged_by == "op-a"
    assert more[0].alert.alert_id == live.alert_id and more[0].cursor == live.cursor


async def test_operator_of_agency_a_never_receives_agency_b_alerts(alerting: Running) -> None:
    stub = alerting.stub()
    a_stream = stub.Subscribe(pb.SubscribeRequest(), metadata=md(OPERATOR_A))
    b_stream = stub.Subscribe(pb.SubscribeRequest(), metadata=md(OPERATOR_B))
    await wait_caught_up(a_stream)
    await wait_caught_up(b_stream)
    for i in range(3):
        await stub.Publish(
            pb.PublishRequest(event=camera_event(agency="police", subject=f"p{i}")), metadata=md(SERVICE)
        )
        await stub.Publish(
            pb.PublishRequest(event=camera_event(agency="prison", subject=f"j{i}")), metadata=md(SERVICE)
        )
    a = await collect(a_stream, 3)
    b = await collect(b_stream, 3)
    assert {u.alert.agency_id for u in a} == {"prison"}
    assert {u.alert.agency_id for u in b} == {"police"}
    # Asking for another agency explicitly shows nothing without a shared route.
    spy = stub.Subscribe(
        pb.SubscribeRequest(filter=pb.AlertFilter(agency_id="police"), after_cursor=0),
        metadata=md(OPERATOR_A),
    )
    with pytest.raises(TimeoutError):
        await collect(spy, 1, wait_s=1.0)
    for s in (a_stream, b_stream, spy):
        s.cancel()


async def test_filters_by_site_severity_and_type(alerting: Running) -> None:
    stub = alerting.stub()
    f = pb.AlertFilter(site_ids=["site-2"], min_severity=4, types=["zone_intrusion"])
    call = stub.Subscribe(pb.SubscribeRequest(filter=f), metadata=md(OPERATOR_A))
    await wait_caught_up(call)
    await stub.Publish(pb.PublishRequest(event=camera_event(site="site-1")), metadata=md(SERVICE))
    await stub.Publish(
        pb.PublishRequest(event=camera_event("camera_offline", site="site-2")), metadata=md(SERVICE)
    )
    want = await stub.Publish(
        pb.PublishRequest(event=camera_event(site="site-2", camera="c2")), metadata=md(SERVICE)
    )
    got = await collect(call, 1)
    call.cancel()
    assert got[0].alert.alert_id == want.alert_id


async def test_bad_filter_is_invalid_argument(alerting: Running) -> None:
    call = alerting.stub().Subscribe(
        pb.SubscribeRequest(filter=pb.AlertFilter(types=["nope"])), metadata=md(OPERATOR_A)
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await collect(call, 1)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_slow_subscriber_catches_up_from_the_log(alerting: Running) -> None:
    alerting.app.hub.size = 10  # tiny live buffer: force the overflow path
    stub = alerting.stub()
    call = stub.Subscribe(pb.SubscribeRequest(), metadata=md(OPERATOR_A))
    await wait_caught_up(call)
    ids = []
    for i in range(40):
        r = await stub.Publish(pb.PublishRequest(event=camera_event(subject=f"q{i}")), metadata=md(SERVICE))
        ids.append(r.alert_id)
    got = await collect(call, 40)
    call.cancel()
    assert [u.alert.alert_id for u in got] == ids


async def test_delivery_continues_the_publishers_trace(alerting: Running, span_exporter) -> None:  # type: ignore[no-untyped-def]
    from opentelemetry import trace

    from kuzet.alerting.v1 import alerting_pb2_grpc
    from kuzet.common.grpcclient import open_channel

    stub = alerting.stub()
    call = stub.Subscribe(pb.SubscribeRequest(), metadata=md(OPERATOR_A))
    await wait_caught_up(call)
    channel = open_channel(alerting.address, audience="alerting", caller=SERVICE)
    traced = alerting_pb2_grpc.AlertingServiceStub(channel)
    with trace.get_tracer("test").start_as_current_span("camera.frame") as root:
        await traced.Publish(pb.PublishRequest(event=camera_event()))
    got = await collect(call, 1)
    call.cancel()
    await channel.close()
    trace_id = format(root.get_span_context().trace_id, "032x")
    assert got[0].traceparent.split("-")[1] == trace_id
    assert got[0].alert.traceparent.split("-")[1] == trace_id
    for _ in range(50):
        if any(s.name == "alerting.deliver" for s in span_exporter.get_finished_spans()):
            break
        await asyncio.sleep(0.05)
    deliver = [s for s in span_exporter.get_finished_spans() if s.name == "alerting.deliver"]
    assert deliver and all(s.context.trace_id == root.get_span_context().trace_id for s in deliver)


async def test_resume_from_a_pruned_cursor_is_refused(alerting: Running) -> None:
    from datetime import timedelta

    from kuzet.common.timeutil import utcnow

    stub = alerting.stub()
    for i in range(3):
        await stub.Publish(pb.PublishRequest(event=camera_event(subject=f"old{i}")), metadata=md(SERVICE))
    counts = alerting.app.store.prune(utcnow() + timedelta(seconds=1))
    assert counts["alert_updates"] == 3 and counts["published_events"] == 3
    await stub.Publish(pb.PublishRequest(event=camera_event(subject="new")), metadata=md(SERVICE))
    call = stub.Subscribe(pb.SubscribeRequest(after_cursor=1), metadata=md(OPERATOR_A))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await collect(call, 1)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "retained" in (
        err.value.details() or ""
    )
    # Alerts themselves are kept.
    assert len((await stub.ListAlerts(pb.ListAlertsRequest(), metadata=md(OPERATOR_A))).alerts) == 4


async def test_batched_stream_carries_the_same_updates_in_order(alerting: Running) -> None:
    stub = alerting.stub()
    first = await stub.Publish(pb.PublishRequest(event=camera_event(subject="before")), metadata=md(SERVICE))
    call = stub.Subscribe(pb.SubscribeRequest(after_cursor=0, max_batch=50), metadata=md(OPERATOR_A))
    events = [camera_event(subject=f"b{i}") for i in range(30)]
    batch = await stub.PublishBatch(pb.PublishBatchRequest(events=events), metadata=md(SERVICE))
    got: list[pb.AlertUpdate] = []
    messages = 0

    async def run() -> None:
        nonlocal messages
        async for item in call:
            if item.HasField("batch"):
                messages += 1
                got.extend(item.batch.updates)
            assert not item.HasField("update")
            if len(got) >= 31:
                return

    await asyncio.wait_for(run(), 10)
    call.cancel()
    assert [u.alert.alert_id for u in got] == [first.alert_id, *(r.alert_id for r in batch.results)]
    assert messages < 31  # grouped
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await collect(stub.Subscribe(pb.SubscribeRequest(max_batch=100000), metadata=md(OPERATOR_A)), 1)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
