"""The map's WebSocket feed (/ws/fleet) over a real uvicorn socket, backed by the real badge
service's WatchBadgeStates and the drone service's WatchTelemetry."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest
import websockets

from kuzet.badge.sim import SimBadge, register_badges
from kuzet.badge.v1 import badge_pb2_grpc
from kuzet.common.caller import Caller
from kuzet.common.grpcclient import open_channel


async def _next(ws: Any, kind: str, within: float = 5.0) -> dict[str, Any]:
    async with asyncio.timeout(within):
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == kind:
                return msg


@pytest.fixture
async def feed(fleet_backing: Any, gateway_factory: Any, serve_app: Any) -> Any:
    gw = await gateway_factory(fleet_backing.endpoints, map_feed_interval_s=0.2)
    async with serve_app(gw.app) as base:
        yield gw, fleet_backing, base.replace("http://", "ws://") + "/ws/fleet"


async def test_badges_move_in_coalesced_frames_for_the_callers_agency_only(feed: Any) -> None:
    gw, backing, url = feed
    caller = Caller("service:badge-sim", "prison", frozenset({"admin", "service"}))
    channel = open_channel(backing.endpoints.badge, audience="badge", caller=caller)
    stub = badge_pb2_grpc.BadgeServiceStub(channel)
    await register_badges(stub, "prison", ["f-1", "f-2"])
    # Ten reports a second from each: the feed sends at most five frames a second, newest only.
    badges = [SimBadge(b, 43.24, 76.89, interval_s=0.1) for b in ("f-1", "f-2")]
    stop = asyncio.Event()
    runs = [asyncio.create_task(b.run(stub, stop)) for b in badges]
    try:
        async with (
            websockets.connect(f"{url}?token={gw.token('prison-operator')}") as ws,
            websockets.connect(f"{url}?token={gw.token('police-operator')}") as police,
        ):
            ready = await _next(ws, "ready")
            assert ready["agency"] == "prison" and ready["layers"] == ["badges", "drones"]
            seen: dict[str, list[tuple[float, float]]] = {}
            frames = 0
            loop = asyncio.get_running_loop()
            started = loop.time()
            while loop.time() - started < 2.0:
                msg = await _next(ws, "badges")
                frames += 1
                ids = [s["id"] for s in msg["states"]]
                assert len(ids) == len(set(ids)), "one state per badge per frame"
                for s in msg["states"]:
                    seen.setdefault(s["id"], []).append((s["lat"], s["lon"]))
            assert set(seen) == {"f-1", "f-2"}
            assert all(len(set(track)) > 2 for track in seen.values()), "the badges move"
            assert frames <= 2.0 / 0.2 + 2
            await _next(police, "ready")
            with pytest.raises(TimeoutError):
                await _next(police, "badges", within=0.8)
    finally:
        stop.set()
        for task in runs:
            with contextlib.suppress(BaseException):
                await task
        await channel.close()


async def test_a_role_without_badges_or_drones_is_refused(feed: Any) -> None:
    gw, _, url = feed
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": gw.token("prison-auditor")}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    # A pilot reads drones, not badges: its feed has the drone layer only.
    async with websockets.connect(f"{url}?token={gw.token('prison-pilot')}") as ws:
        assert (await _next(ws, "ready"))["layers"] == ["drones"]
