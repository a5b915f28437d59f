"""Gateway overhead vs talking gRPC to alerting directly, in one process and one run.

- list: ListAlerts (50 per page) straight over gRPC vs GET /api/v1/alerts through the gateway
  (HTTP/1.1 keep-alive over loopback, token validation, role check, proto -> JSON, evidence links);
- feed: publish -> delivery latency on alerting's Subscribe stream vs on the gateway's WebSocket
  (which adds a span per update, JSON and the socket hop);
- token: validating RS256 access tokens: distinct ones (signature + claims, JWKS cached) and the
  same one again (the verified-token cache).

Headlines: list_ratio (gateway / direct latency, p50), feed_added_ms (p50 extra latency per
update) and validations_per_s.

    python bench/gateway.py            # full
    python bench/gateway.py --quick    # < 1 min

The CPU is shared with other work: each figure is a median over many calls, and both sides of a
comparison run interleaved in the same process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import httpx
import uvicorn
import websockets

from kuzet.alerting.config import AlertingSettings
from kuzet.alerting.server import build as build_alerting
from kuzet.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.config import Endpoints
from kuzet.common.events import new_event
from kuzet.common.testing import free_port_number
from kuzet.common.tls import secure_channel, use_local_pki
from kuzet.common.v1 import common_pb2
from kuzet.gateway.app import create_app
from kuzet.gateway.config import GatewaySettings
from kuzet.gateway.context import build_gateway

RESULTS = Path(__file__).resolve().parent / "results" / "gateway.json"
PRODUCER = Caller("service:ingest", "prison", frozenset({"service"}))
OPERATOR = Caller("prison/prison-operator", "prison", frozenset({"operator"}))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def event(i: int) -> common_pb2.Event:
    source = common_pb2.Source(kind=common_pb2.SOURCE_KIND_CAMERA, id=f"cam-{i % 40}", site_id="s1")
    snap = common_pb2.ObjectRef(
        key=f"prison/snapshots/{i}.jpg", sha256="0" * 64, size_bytes=1, content_type="image/jpeg"
    )
    return new_event("prison", "zone_intrusion", source, rule_id="r1", subject=f"t-{i}", snapshot=snap)


async def run(quick: bool) -> dict[str, Any]:
    n_alerts, n_list, n_feed, n_tokens = (300, 100, 40, 300) if quick else (2000, 500, 200, 2000)
    root = Path(tempfile.mkdtemp(prefix="kuzet-bench-gw-"))
    alerting, _ = await build_alerting(
        AlertingSettings(
            database_url=f"sqlite:///{root / 'a.db'}", data_dir=root / "a", escalation_interval_s=3600
        ),
        port=0,
    )
    await alerting.start()
    port = free_port_number()
    settings = GatewaySettings(
        data_dir=root / "gw", port=port, rate_limit_per_second=1e6, rate_limit_burst=1e6
    )
    gw = build_gateway(settings, endpoints=Endpoints(alerting=alerting.address))
    assert gw.local_issuer is not None
    token = gw.local_issuer.issue(gw.local_issuer.user("prison-operator"))
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, gateway=gw),
            host="127.0.0.1",
            port=port,
            log_config=None,
            lifespan="off",
            access_log=False,
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    channel = secure_channel(alerting.address)
    stub = alerting_pb2_grpc.AlertingServiceStub(channel)
    batch = 500
    for start in range(0, n_alerts, batch):
        events = [event(i) for i in range(start, min(n_alerts, start + batch))]
        await stub.PublishBatch(
            alerting_pb2.PublishBatchRequest(events=events),
            metadata=caller_metadata(PRODUCER, audience="alerting"),
        )

    # list: interleaved so both sides see the same machine load.
    direct, via = [], []
    req = alerting_pb2.ListAlertsRequest(page=common_pb2.PageRequest(page_size=50))
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
        for _ in range(10):  # warm both paths
            await stub.ListAlerts(req, metadata=caller_metadata(OPERATOR, audience="alerting"))
            (await http.get("/api/v1/alerts", params={"page_size": 50})).raise_for_status()
        for _ in range(n_list):
            t = time.perf_counter()
            await stub.ListAlerts(req, metadata=caller_metadata(OPERATOR, audience="alerting"))
            direct.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            resp = await http.get("/api/v1/alerts", params={"page_size": 50})
            via.append((time.perf_counter() - t) * 1000)
            assert len(resp.json()["alerts"]) == 50

    # feed: one publisher, one direct subscriber and one WebSocket client, same events.
    direct_lat, ws_lat = [], []
    sub = stub.Subscribe(
        alerting_pb2.SubscribeRequest(), metadata=caller_metadata(OPERATOR, audience="alerting")
    )
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/alerts?token={token}") as ws:
        assert json.loads(await ws.recv())["type"] == "ready"

        async def next_update_ws() -> float:
            while True:
                msg = json.loads(await ws.recv())
                if msg["type"] == "update":
                    return time.perf_counter()

        async def next_update_grpc() -> float:
            while True:
                item = await sub.read()
                if item.HasField("update"):
                    return time.perf_counter()

        for i in range(n_feed):
            ws_wait = asyncio.create_task(next_update_ws())
            grpc_wait = asyncio.create_task(next_update_grpc())
            await asyncio.sleep(0.01)
            t = time.perf_counter()
            await stub.Publish(
                alerting_pb2.PublishRequest(event=event(10_000_000 + i)),
                metadata=caller_metadata(PRODUCER, audience="alerting"),
            )
            direct_lat.append((await grpc_wait - t) * 1000)
            ws_lat.append((await ws_wait - t) * 1000)
    sub.cancel()

    # token validation: distinct tokens (full RS256 check each) vs one token again (cached)
    user = gw.local_issuer.user("prison-operator")
    fresh = [gw.local_issuer.issue(user) for _ in range(n_tokens)]
    t = time.perf_counter()
    for tok in fresh:
        await gw.validator.validate(tok)
    per_s = n_tokens / (time.perf_counter() - t)
    t = time.perf_counter()
    for _ in range(n_tokens):
        await gw.validator.validate(token)
    cached_per_s = n_tokens / (time.perf_counter() - t)

    await channel.close()
    server.should_exit = True
    await serving
    await gw.close()
    await alerting.stop(0)
    return {
        "quick": quick,
        "alerts_stored": n_alerts,
        "list_direct_ms": {"p50": statistics.median(direct), "p95": pct(direct, 0.95)},
        "list_gateway_ms": {"p50": statistics.median(via), "p95": pct(via, 0.95)},
        "list_ratio": statistics.median(via) / statistics.median(direct),
        "feed_direct_ms": {"p50": statistics.median(direct_lat), "p95": pct(direct_lat, 0.95)},
        "feed_websocket_ms": {"p50": statistics.median(ws_lat), "p95": pct(ws_lat, 0.95)},
        "feed_added_ms": statistics.median(ws_lat) - statistics.median(direct_lat),
        "validations_per_s": per_s,
        "cached_validations_per_s": cached_per_s,
    }


def main() -> None:
    from kuzet.common.auditkeys import use_run_audit_key

    use_run_audit_key()  # the services it starts refuse to start without an audit key
    use_local_pki(Path(mkdtemp(prefix="kuzet-bench-pki-")), "bench")  # mTLS, as deployed
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    opts = parser.parse_args()
    from kuzet.common.callerkeys import use_ephemeral_keys

    # The services it starts verify caller tokens: keys for this run (kept until main returns).
    _keys = use_ephemeral_keys("bench")
    r = asyncio.run(run(opts.quick))
    rows = [
        ("ListAlerts 50, direct gRPC", r["list_direct_ms"]),
        ("GET /api/v1/alerts 50, via gateway", r["list_gateway_ms"]),
        ("publish -> Subscribe (direct)", r["feed_direct_ms"]),
        ("publish -> WebSocket (gateway)", r["feed_websocket_ms"]),
    ]
    print(f"{'path':40} {'p50 ms':>9} {'p95 ms':>9}")
    for name, v in rows:
        print(f"{name:40} {v['p50']:9.2f} {v['p95']:9.2f}")
    print(f"list ratio gateway/direct (p50): {r['list_ratio']:.2f}")
    print(f"feed latency added by the gateway (p50): {r['feed_added_ms']:.2f} ms")
    print(f"token validations per second, distinct tokens (RS256, JWKS cached): {r['validations_per_s']:.0f}")
    print(
        f"token validations per second, same token (verified-token cache): {r['cached_validations_per_s']:.0f}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(r, indent=2) + "\n")


if __name__ == "__main__":
    main()
