"""The WebSocket alert feed over a real uvicorn socket, backed by the real alerting Subscribe."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from opentelemetry import trace
from websockets.typing import Origin

from kuzet.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from kuzet.common.caller import Caller
from kuzet.common.events import new_event
from kuzet.common.grpcclient import open_channel
from kuzet.common.v1 import common_pb2


async def _next(ws: Any, kind: str = "update", within: float = 5.0) -> dict[str, Any]:
    """The next message of `kind` (heartbeats arrive every 0.5 s in between)."""
    async with asyncio.timeout(within):
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == kind:
                return msg


@pytest.fixture
async def live(stack: Any, serve_app: Any) -> Any:
    gw, backing = stack
    async with serve_app(gw.app) as base:
        yield gw, backing, base.replace("http://", "ws://") + "/ws/alerts"


async def test_live_update_resume_and_isolation(live: Any) -> None:
    gw, backing, url = live
    async with (
        websockets.connect(f"{url}?token={gw.token('prison-operator')}") as ws,
        websockets.connect(url) as police,
    ):
        await police.send(json.dumps({"type": "auth", "token": gw.token("police-operator")}))
        assert (await _next(ws, "ready"))["agency"] == "prison"
        assert (await _next(police, "ready"))["agency"] == "police"
        alert_id = await backing.publish("prison", "person_down", camera="cam-9")
        msg = await _next(ws)
        assert msg["kind"] == "created" and msg["alert"]["alert_id"] == alert_id
        assert msg["alert"]["source"]["id"] == "cam-9" and msg["cursor"] > 0
        cursor = msg["cursor"]
        # The police operator's feed carries nothing of the prison's.
        with pytest.raises(TimeoutError):
            await _next(police, within=0.8)

    # Disconnected: two more changes happen; reconnecting from the cursor replays exactly them.
    second = await backing.publish("prison", "zone_intrusion", camera="cam-2")
    await gw.client.post(
        f"/api/v1/alerts/{alert_id}/acknowledge", json={}, headers=gw.auth("prison-operator")
    )
    async with websockets.connect(f"{url}?token={gw.token('prison-operator')}&cursor={cursor}") as ws:
        first, then = await _next(ws), await _next(ws)
    assert (first["alert"]["alert_id"], first["kind"]) == (second, "created")
    assert (then["alert"]["alert_id"], then["kind"]) == (alert_id, "acknowledged")
    assert cursor < first["cursor"] < then["cursor"]


async def test_filters_from_first_message(live: Any) -> None:
    gw, backing, url = live
    async with websockets.connect(url) as ws:
        await ws.send(
            json.dumps(
                {"type": "auth", "token": gw.token("prison-reviewer"), "filter": {"min_severity": "critical"}}
            )
        )
        await _next(ws, "ready")
        await backing.publish("prison", "zone_intrusion", severity=common_pb2.SEVERITY_LOW)
        wanted = await backing.publish("prison", "person_down", severity=common_pb2.SEVERITY_CRITICAL)
        assert (await _next(ws))["alert"]["alert_id"] == wanted


@pytest.mark.parametrize(
    ("who", "code"),
    [("bad-token", 4401), ("prison-auditor", 4403)],
)
async def test_refused_connections(live: Any, who: str, code: int) -> None:
    gw, _, url = live
    token = "x.y.z" if who == "bad-token" else gw.token(who)
    async with websockets.connect(f"{url}?token={token}") as ws:
        with pytest.raises(websockets.ConnectionClosed) as info:
            await _next(ws, "ready")
    assert info.value.rcvd is not None and info.value.rcvd.code == code


async def test_integrity_alerts_stream_to_internal_affairs_only(live: Any) -> None:
    gw, backing, url = live
    async with (
        websockets.connect(f"{url}?token={gw.token('prison-operator')}") as op,
        websockets.connect(f"{url}?token={gw.token('prison-internal_affairs')}") as ia,
    ):
        await _next(op, "ready")
        await _next(ia, "ready")
        secret = await backing.publish("prison", "integrity_report", camera="integrity:r9")
        after = await backing.publish("prison", "person_down")
        assert (await _next(ia))["alert"]["alert_id"] == secret
        assert (await _next(op))["alert"]["alert_id"] == after
    for who in ("prison-operator", "prison-admin", "prison-reviewer"):
        listed = await gw.client.get("/api/v1/alerts", headers=gw.auth(who))
        assert secret not in {a["alert_id"] for a in listed.json()["alerts"]}
        assert (await gw.client.get(f"/api/v1/alerts/{secret}", headers=gw.auth(who))).status_code == 404
    listed = await gw.client.get("/api/v1/alerts", headers=gw.auth("prison-internal_affairs"))
    assert secret in {a["alert_id"] for a in listed.json()["alerts"]}


async def test_foreign_origin_refused(live: Any) -> None:
    gw, _, url = live
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(
            f"{url}?token={gw.token('prison-operator')}", origin=Origin("https://evil.example")
        ):
            pass


async def test_forwarded_update_continues_the_producers_trace(live: Any, span_exporter: Any) -> None:
    gw, backing, url = live
    tracer = trace.get_tracer("test-camera")
    producer = Caller("service:ingest", "prison", frozenset({"service"}))
    channel = open_channel(backing.alerting_address, audience="alerting", caller=producer)
    async with websockets.connect(f"{url}?token={gw.token('prison-operator')}") as ws:
        await _next(ws, "ready")
        with tracer.start_as_current_span("camera.frame") as camera_span:
            source = common_pb2.Source(kind=common_pb2.SOURCE_KIND_CAMERA, id="cam-t", site_id="s")
            event = new_event("prison", "zone_intrusion", source, rule_id="r", subject="t-1")
            await alerting_pb2_grpc.AlertingServiceStub(channel).Publish(
                alerting_pb2.PublishRequest(event=event)
            )
        msg = await _next(ws)
    await channel.close()
    trace_id = format(camera_span.get_span_context().trace_id, "032x")
    assert msg["traceparent"].split("-")[1] == trace_id
    forwards = [s for s in span_exporter.get_finished_spans() if s.name == "gateway.alert_feed.forward"]
    assert forwards and forwards[-1].context.trace_id == camera_span.get_span_context().trace_id
    assert forwards[-1].parent is not None
