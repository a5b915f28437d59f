"""WebSocket feed of the live map: badge positions (badge WatchBadgeStates) and drone telemetry
(drone WatchTelemetry), for the caller's agency.

Protocol (JSON text frames):
  connect  /ws/fleet?token=...   (or a first message {"type": "auth", "token": "..."})
  server -> {"type": "ready", "subject": ..., "agency": ..., "layers": ["badges", "drones"]}
            {"type": "badges", "states": [{"id", "agency", "unit", "officer", "lat", "lon", "accuracy_m",
              "heading", "speed", "battery", "connected", "panic", "tamper", "signal_lost",
              "last_seen"}, ...]}
            {"type": "drones", "telemetry": [{"id", "agency", "lat", "lon", "alt", "heading", "speed",
              "battery", "mode", "armed", "link", "current", "total", "blocked", "breached",
              "time"}, ...]}
A layer is there when the caller may read it (badges.read, drones.read); neither: 4403. Updates
coalesce: at most one frame per layer every map_feed_interval_s, carrying the newest state of
each badge or drone that changed, so a fleet at 10 Hz costs the browser a few frames a second.
Close codes as every console socket (kuzet.gateway.sockets).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from fastapi import APIRouter, WebSocket
from google.protobuf.timestamp_pb2 import Timestamp

from kuzet.badge.v1 import badge_pb2 as bpb
from kuzet.common.caller import calling_as
from kuzet.drone.v1 import drone_pb2 as dpb
from kuzet.gateway.auth import Principal
from kuzet.gateway.context import Gateway, principal_caller
from kuzet.gateway.roles import Permission, allowed
from kuzet.gateway.sockets import SocketClose, authenticate, close_for, serve_socket

router = APIRouter()
log = logging.getLogger(__name__)
# Telemetry samples per stream message: a fleet at 10 Hz needs batches (see WatchTelemetryRequest).
TELEMETRY_BATCH = 64


def _time(ts: Timestamp) -> str | None:
    return ts.ToJsonString() if ts.seconds or ts.nanos else None


def _short(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower()


def badge_json(s: bpb.BadgeState) -> dict[str, Any]:
    r = s.last_report
    has_fix = r.HasField("position")
    return {
        "id": s.badge_id,
        "agency": s.agency_id,
        "unit": s.unit_id,
        "officer": s.officer_id,
        "lat": round(r.position.latitude, 7) if has_fix else None,
        "lon": round(r.position.longitude, 7) if has_fix else None,
        "accuracy_m": round(r.position.accuracy_m, 1),
        "heading": round(r.heading_deg, 1),
        "speed": round(r.speed_mps, 2),
        "battery": round(r.battery_percent, 1),
        "connected": s.connected,
        "panic": s.panic_active,
        "tamper": s.tamper,
        "signal_lost": s.signal_lost,
        "last_seen": _time(s.last_seen),
    }


def telemetry_json(t: dpb.Telemetry) -> dict[str, Any]:
    # Before the first GPS fix (or the first message) there is no position, not one at 0, 0.
    fixed = t.position.latitude != 0 or t.position.longitude != 0
    return {
        "id": t.drone_id,
        "agency": t.agency_id,
        "lat": round(t.position.latitude, 7) if fixed else None,
        "lon": round(t.position.longitude, 7) if fixed else None,
        "alt": round(t.relative_altitude_m, 1),
        "heading": round(t.heading_deg, 1),
        "speed": round(t.ground_speed_mps, 2),
        "battery": round(t.battery_pct, 1),
        "mode": _short(dpb.FlightMode, t.mode, "FLIGHT_MODE_"),
        "armed": t.armed,
        "link": _short(dpb.LinkState, t.link_state, "LINK_STATE_"),
        "current": t.progress.current_seq,
        "total": t.progress.total,
        "blocked": t.commands_blocked,
        "breached": t.geofence_breached,
        "time": _time(t.time),
    }


class Latest:
    """The newest item per id since the last frame; `changed` is set while any is waiting."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.changed = asyncio.Event()

    def put(self, item: dict[str, Any]) -> None:
        self.items[item["id"]] = item
        self.changed.set()

    def take(self) -> list[dict[str, Any]]:
        items, self.items = self.items, {}
        self.changed.clear()
        return list(items.values())


async def _badge_items(stream: AsyncIterator[bpb.WatchBadgeStatesResponse]) -> AsyncIterator[dict[str, Any]]:
    async for msg in stream:
        # An empty snapshot ends with a message that only says so.
        if msg.state.badge_id:
            yield badge_json(msg.state)


async def _drone_items(stream: AsyncIterator[dpb.WatchTelemetryResponse]) -> AsyncIterator[dict[str, Any]]:
    async for msg in stream:
        for t in msg.batch if len(msg.batch) else [msg.telemetry] if msg.HasField("telemetry") else []:
            yield telemetry_json(t)


async def _pump(
    principal: Principal,
    service: str,
    start: Callable[[], Any],
    items: Callable[[Any], AsyncIterator[dict[str, Any]]],
    latest: Latest,
) -> None:
    with calling_as(principal_caller(principal)):
        stream = start()
    try:
        async for item in items(stream):
            latest.put(item)
    except grpc.aio.AioRpcError as exc:
        close = close_for(exc, f"{service} unavailable, reconnect")
        if close.code == 4503:
            log.warning(
                "map feed: %s stream ended: %s", service, exc.code().name, extra={"agency": principal.agency}
            )
        raise close from None
    finally:
        stream.cancel()
    raise SocketClose(4503, f"{service} closed the stream, reconnect")


async def _send(ws: WebSocket, kind: str, field: str, latest: Latest, interval_s: float) -> None:
    while True:
        await latest.changed.wait()
        await ws.send_text(json.dumps({"type": kind, field: latest.take()}, separators=(",", ":")))
        await asyncio.sleep(interval_s)


def _layers(principal: Principal) -> list[str]:
    return [
        layer
        for layer, perm in (("badges", Permission.BADGES_READ), ("drones", Permission.DRONES_READ))
        if allowed(principal.roles, perm)
    ]


def _refuse(principal: Principal) -> str | None:
    return None if _layers(principal) else "badges.read or drones.read is needed for the map feed"


async def _open(gw: Gateway, ws: WebSocket) -> tuple[Principal, list[Any]]:
    principal, _ = await authenticate(gw, ws, refuse=_refuse)
    layers = _layers(principal)
    interval = gw.settings.map_feed_interval_s
    feeds: list[Any] = []
    if "badges" in layers:
        badges = Latest()
        feeds += [
            _pump(
                principal,
                "badge",
                lambda: gw.backends.badge.WatchBadgeStates(bpb.WatchBadgeStatesRequest()),
                _badge_items,
                badges,
            ),
            _send(ws, "badges", "states", badges, interval),
        ]
    if "drones" in layers:
        drones = Latest()
        feeds += [
            _pump(
                principal,
                "drone",
                lambda: gw.backends.drone.WatchTelemetry(
                    dpb.WatchTelemetryRequest(max_batch=TELEMETRY_BATCH)
                ),
                _drone_items,
                drones,
            ),
            _send(ws, "drones", "telemetry", drones, interval),
        ]
    ready = {"type": "ready", "subject": principal.subject, "agency": principal.agency, "layers": layers}
    await ws.send_text(json.dumps(ready))
    return principal, feeds


@router.websocket("/ws/fleet")
async def fleet_feed(ws: WebSocket) -> None:
    await serve_socket(ws, _open)
