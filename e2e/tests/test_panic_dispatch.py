"""Scenario 5: a badge's panic button -> alert with position -> a pilot dispatches the nearest
simulated drone to it -> the drone reaches the point, as the console's drone panel shows."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator

import pytest

from kuzet.common.caller import Caller
from kuzet.common.grpcclient import open_channel
from kuzet.common.v1 import common_pb2
from kuzet.e2e.console import ConsoleFeed
from kuzet.e2e.platform import Platform
from kuzet.e2e.site import admin

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
HOME = (43.2400, 76.9430)
PANIC_AT = (43.2410, 76.9440)  # about 140 m from the drone's home


@pytest.fixture(scope="module")
def drone_link() -> Iterator[int]:
    from kuzet.common.testing import free_port_number
    from kuzet.drone.sim.host import SimHost
    from kuzet.drone.sim.vehicle import VehicleConfig

    port = free_port_number()
    host = SimHost()
    host.add(VehicleConfig(7, HOME[0], HOME[1], 700.0, speedup=4.0), f"udpout:127.0.0.1:{port}")
    host.start()
    yield port
    host.stop()


def _metres(a: dict, b: tuple[float, float]) -> float:  # type: ignore[type-arg]
    dlat = (a.get("latitude", 0.0) - b[0]) * 111_195
    dlon = (a.get("longitude", 0.0) - b[1]) * 111_195 * math.cos(math.radians(b[0]))
    return math.hypot(dlat, dlon)


async def test_panic_to_drone_on_scene(platform: Platform, drone_link: int) -> None:
    from kuzet.badge.sim import SimBadge, register_badges
    from kuzet.badge.v1 import badge_pb2_grpc
    from kuzet.drone.v1 import drone_pb2 as dpb
    from kuzet.drone.v1 import drone_pb2_grpc

    drone = dpb.Drone(
        drone_id="e2e-eagle",
        agency_id="police",
        name="E2E Eagle",
        home=common_pb2.GeoPoint(latitude=HOME[0], longitude=HOME[1]),
        system_id=7,
        link_url=f"udpin:127.0.0.1:{drone_link}",
    )
    async with open_channel(platform.address("drone"), audience="drone", caller=admin("police")) as channel:
        await drone_pb2_grpc.DroneServiceStub(channel).RegisterDrone(dpb.RegisterDroneRequest(drone=drone))

    badge_caller = Caller("service:badge-sim", "police", frozenset({"admin", "service"}))
    stop = asyncio.Event()
    async with (
        ConsoleFeed(platform.address("gateway"), platform.token("police-operator")) as feed,
        open_channel(platform.address("badge"), audience="badge", caller=badge_caller) as channel,
    ):
        stub = badge_pb2_grpc.BadgeServiceStub(channel)
        await register_badges(stub, "police", ["E2E-PANIC"], "unit-1")
        badge = SimBadge("E2E-PANIC", PANIC_AT[0], PANIC_AT[1], radius_m=1.0)
        running = asyncio.create_task(badge.run(stub, stop))
        await asyncio.wait_for(badge.connected.wait(), 30)
        badge.press_panic()
        panic = await feed.wait_for(lambda m: m["alert"]["type"] == "badge_panic", within=30)
        stop.set()
        await running
    location = panic["alert"]["latest"]["location"]
    assert _metres(location, PANIC_AT) < 50
    assert {"badge", "alerting", "gateway"} <= await platform.trace_reaches(
        panic["traceparent"], {"badge", "alerting", "gateway"}
    )

    with platform.api("police-operator") as operator:
        denied = operator.post("/api/v1/drones/dispatch", json={"plan_id": "x", "pilot_confirmed": True})
        assert denied.status_code == 403
    with platform.api("police-pilot") as pilot:
        plan = pilot.post(
            "/api/v1/drones/plans",
            json={
                "drone_id": "e2e-eagle",
                "kind": "PATROL_KIND_ROUTE_TO_POINT",
                "target": {"latitude": location["latitude"], "longitude": location["longitude"]},
                "altitude_m": 40,
                "hold_s": 30,
                "alert_id": panic["alert"]["alert_id"],
            },
        )
        assert plan.status_code == 200, plan.text
        assert plan.json()["plan"]["ok"], plan.json()["plan"].get("violations")
        plan_id = plan.json()["plan"]["plan_id"]
        refused = pilot.post("/api/v1/drones/dispatch", json={"plan_id": plan_id, "pilot_confirmed": False})
        assert refused.status_code in (400, 409), refused.text
        sent = pilot.post("/api/v1/drones/dispatch", json={"plan_id": plan_id, "pilot_confirmed": True})
        assert sent.status_code == 200, sent.text
        deadline = time.monotonic() + 240
        distance = float("inf")
        while time.monotonic() < deadline:
            state = pilot.get("/api/v1/drones/e2e-eagle/state").json()["state"]
            distance = _metres(state["telemetry"]["position"], (location["latitude"], location["longitude"]))
            if distance < 15 and state["telemetry"]["armed"]:
                break
            await asyncio.sleep(1)
    assert distance < 15, f"drone still {distance:.0f} m from the panic"
    assert state["mission"]["alert_id"] == panic["alert"]["alert_id"]
