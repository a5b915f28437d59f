"""Two replicas on one PostgreSQL database: shared log, in-order live streams, one webhook delivery."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from kuzet.alerting.server import build
from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.alerting.v1 import alerting_pb2_grpc
from kuzet.common.grpcclient import open_channel

from .conftest import ADMIN_A, OPERATOR_A, SERVICE, camera_event, md, settings_for
from .test_delivery import SECRET, Receiver
from .test_subscribe import collect, wait_caught_up


@pytest.fixture
async def replicas(pg_url: str, tmp_path: Path) -> AsyncIterator[list[alerting_pb2_grpc.AlertingServiceStub]]:
    stubs, servers, channels = [], [], []
    for name in ("a", "b"):
        settings = settings_for(
            pg_url, tmp_path / name, replica_poll_s=0.2, config_reload_s=0.2, webhook_poll_s=0.2
        )
        server, _ = await build(settings, port=0)
        await server.start()
        channel = open_channel(server.address, audience="alerting")
        servers.append(server)
        channels.append(channel)
        stubs.append(alerting_pb2_grpc.AlertingServiceStub(channel))
    yield stubs
    for channel in channels:
        await channel.close()
    for server in servers:
        await server.stop(0)


@pytest.mark.postgres
async def test_subscriber_on_one_replica_sees_both_replicas_commits_in_order(
    replicas: list[alerting_pb2_grpc.AlertingServiceStub],
) -> None:
    a, b = replicas
    stream = a.Subscribe(pb.SubscribeRequest(), metadata=md(OPERATOR_A))
    await wait_caught_up(stream)
    ids = []
    for i in range(12):
        stub = a if i % 3 == 0 else b
        r = await stub.Publish(pb.PublishRequest(event=camera_event(subject=f"s{i}")), metadata=md(SERVICE))
        ids.append(r.alert_id)
    got = await collect(stream, 12)
    stream.cancel()
    assert [u.alert.alert_id for u in got] == ids
    cursors = [u.cursor for u in got]
    assert cursors == sorted(cursors)
    # The same event through the other replica is still one alert.
    event = camera_event(subject="dup")
    first = await a.Publish(pb.PublishRequest(event=event), metadata=md(SERVICE))
    again = await b.Publish(pb.PublishRequest(event=event), metadata=md(SERVICE))
    assert again.disposition == pb.PUBLISH_DISPOSITION_DUPLICATE and again.alert_id == first.alert_id


@pytest.mark.postgres
async def test_webhook_is_delivered_once_with_two_workers(
    replicas: list[alerting_pb2_grpc.AlertingServiceStub],
) -> None:
    a, b = replicas
    http = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    Receiver.received, Receiver.fail_first = [], 0
    try:
        hook = pb.Webhook(url=f"http://127.0.0.1:{http.server_port}/hook", secret=SECRET, enabled=True)
        await a.CreateWebhook(pb.CreateWebhookRequest(webhook=hook), metadata=md(ADMIN_A))
        await asyncio.sleep(0.6)  # replica b reloads its configuration
        for i in range(10):
            stub = a if i % 2 else b
            await stub.Publish(pb.PublishRequest(event=camera_event(subject=f"w{i}")), metadata=md(SERVICE))
        for _ in range(100):
            if len(Receiver.received) >= 10:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        deliveries = [h["x-kuzet-delivery"] for h, _ in Receiver.received]
        assert len(deliveries) == 10 and len(set(deliveries)) == 10
    finally:
        http.shutdown()
