"""Integrations: signed webhooks with retries to a real local HTTP server; MQTT via Mosquitto."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import paho.mqtt.client as mqtt
import pytest

from kuzet.alerting.server import build
from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.alerting.webhooks import verify
from kuzet.common.caller import Caller
from kuzet.common.grpcclient import open_channel

from .conftest import Running, camera_event, md, settings_for

SECRET = "s3cret-for-hmac-0123456789"


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []
    fail_first = 1

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if Receiver.fail_first > 0:
            Receiver.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        Receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
async def integrated(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    settings = settings_for(sqlite_url, tmp_path, webhook_poll_s=0.2, mqtt_url="mqtt://127.0.0.1:1883")
    server, app = await build(settings, port=0)
    await server.start()
    channel = open_channel(server.address, audience="alerting")
    yield Running(server.address, app, channel)
    await channel.close()
    await server.stop(0)


async def test_webhook_is_signed_and_retried_until_delivered(integrated: Running) -> None:
    agency = f"ag-{uuid.uuid4().hex[:6]}"
    admin = Caller("admin", agency, frozenset({"admin"}))
    service = Caller("service:ingest", agency, frozenset({"service"}))
    http = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    Receiver.received, Receiver.fail_first = [], 1
    stub = integrated.stub()
    try:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.CreateWebhook(
                pb.CreateWebhookRequest(webhook=pb.Webhook(url="ftp://x", secret=SECRET)), metadata=md(admin)
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        hook = pb.Webhook(url=f"http://127.0.0.1:{http.server_port}/hook", secret=SECRET, enabled=True)
        created = (
            await stub.CreateWebhook(pb.CreateWebhookRequest(webhook=hook), metadata=md(admin))
        ).webhook
        assert created.webhook_id and not created.secret  # the secret is write-only
        r = await stub.Publish(pb.PublishRequest(event=camera_event(agency=agency)), metadata=md(service))
        # Unconfirmed face matches never leave through integrations.
        await stub.Publish(
            pb.PublishRequest(event=camera_event("face_match_candidate", agency=agency)), metadata=md(service)
        )
        for _ in range(100):
            if Receiver.received:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        assert len(Receiver.received) == 1, "first attempt got 503, the retry must deliver exactly once"
        headers, body = Receiver.received[0]
        assert verify(SECRET, headers["x-kuzet-timestamp"], body, headers["x-kuzet-signature"])
        assert not verify(
            "wrong-secret-wrong-secret", headers["x-kuzet-timestamp"], body, headers["x-kuzet-signature"]
        )
        doc = json.loads(body)
        assert doc["alert"]["alertId"] == r.alert_id and doc["kind"] == "ALERT_UPDATE_KIND_CREATED"
    finally:
        http.shutdown()


async def test_alert_is_published_to_mosquitto(integrated: Running) -> None:
    agency = f"ag-{uuid.uuid4().hex[:6]}"
    service = Caller("service:ingest", agency, frozenset({"service"}))
    got: list[tuple[str, bytes]] = []
    ready = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{agency}")
    client.on_connect = lambda c, *_: (c.subscribe(f"kuzet/{agency}/+/alerts", qos=1), None)[1]
    client.on_subscribe = lambda *_: ready.set()
    client.on_message = lambda c, u, m: got.append((m.topic, bytes(m.payload)))
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    try:
        assert await asyncio.to_thread(ready.wait, 10)
        r = await integrated.stub().Publish(
            pb.PublishRequest(event=camera_event(agency=agency, site="block-c")), metadata=md(service)
        )
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.05)
        assert got, "no MQTT message from alerting"
        topic, payload = got[0]
        assert topic == f"kuzet/{agency}/block-c/alerts"
        assert json.loads(payload)["alert"]["alertId"] == r.alert_id
    finally:
        client.loop_stop()
        client.disconnect()
