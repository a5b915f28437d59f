"""kuzet.common.eventsink against the real alerting server: outage, retries, drops, trace."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kuzet.alerting.server import build
from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.eventsink import EventSink
from kuzet.common.grpcclient import open_channel

from .conftest import OPERATOR_A, SERVICE, camera_event, md, settings_for


async def test_events_published_while_alerting_is_down_arrive_when_it_starts(
    sqlite_url: str, tmp_path: Path, free_port: int
) -> None:
    sink = EventSink(f"127.0.0.1:{free_port}", caller=SERVICE, initial_backoff_s=0.05, max_backoff_s=0.3)
    await sink.start()
    events = [camera_event(subject=f"s{i}") for i in range(20)]
    for e in events:
        sink.publish(e)
    await asyncio.sleep(0.5)
    assert sink.stats.sent == 0 and sink.pending == 20
    server, _ = await build(settings_for(sqlite_url, tmp_path), port=free_port)
    await server.start()
    try:
        assert await sink.flush(20)
        assert sink.stats.sent == 20 and sink.stats.dropped == 0 and sink.stats.rejected == 0
        async with open_channel(server.address, audience="alerting") as channel:
            from kuzet.alerting.v1 import alerting_pb2_grpc

            listed = await alerting_pb2_grpc.AlertingServiceStub(channel).ListAlerts(
                pb.ListAlertsRequest(), metadata=md(OPERATOR_A)
            )
        assert len(listed.alerts) == 20
        # A refused event is counted, logged, and does not block the others.
        bad = camera_event()
        bad.type = "not_a_type"
        sink.publish(bad)
        sink.publish(camera_event(subject="after-bad"))
        assert await sink.flush(10)
        assert sink.stats.rejected == 1 and sink.stats.sent == 21
    finally:
        await sink.close()
        await server.stop(0)


async def test_full_outbox_drops_oldest_and_counts(free_port: int) -> None:
    sink = EventSink(f"127.0.0.1:{free_port}", caller=SERVICE, capacity=5, concurrency=1, initial_backoff_s=5)
    await sink.start()
    for i in range(12):
        sink.publish(camera_event(subject=f"s{i}"))
    # One is in flight (retrying), five wait, the six oldest queued ones were dropped.
    assert sink.stats.dropped >= 6 and sink.pending <= 6
    await sink.close(drain_timeout_s=0.1)
    assert sink.stats.dropped + sink.stats.sent == 12 - sink.stats.rejected


async def test_each_event_keeps_the_trace_of_the_span_that_produced_it(
    sqlite_url: str, tmp_path: Path, free_port: int, span_exporter: object
) -> None:
    from opentelemetry import trace

    server, app = await build(settings_for(sqlite_url, tmp_path), port=free_port)
    await server.start()
    sink = EventSink(server.address, caller=SERVICE, concurrency=1)
    await sink.start()
    try:
        want = {}
        # A burst: the outbox sends these as PublishBatch calls, each event with its own trace.
        for i in range(30):
            with trace.get_tracer("test").start_as_current_span(f"ingest.rules.{i}") as span:
                event = camera_event(subject=f"s{i}")
                sink.publish(event)
                want[event.event_id] = format(span.get_span_context().trace_id, "032x")
        assert await sink.flush(10)
        assert sink.stats.sent == 30
        updates = app.store.updates_after(0, None, 100)
        assert len(updates) == 30
        for u in updates:
            assert u.traceparent.split("-")[1] == want[u.alert.latest.event_id]
    finally:
        await sink.close()
        await server.stop(0)


async def test_publish_from_a_worker_thread(sqlite_url: str, tmp_path: Path, free_port: int) -> None:
    import threading

    server, _ = await build(settings_for(sqlite_url, tmp_path), port=free_port)
    await server.start()
    sink = EventSink(server.address, caller=SERVICE)
    await sink.start()
    try:
        threads = [
            threading.Thread(target=lambda i=i: sink.publish_threadsafe(camera_event(subject=f"t{i}")))
            for i in range(5)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        await asyncio.sleep(0.1)
        assert await sink.flush(10)
        assert sink.stats.sent == 5
    finally:
        await sink.close()
        await server.stop(0)
