"""Drone routes reach the replica that controls the drone: a follower names it, the gateway retries there."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.config import Endpoints
from kuzet.common.grpcclient import open_channel
from kuzet.common.testing import free_port_number
from kuzet.common.v1 import common_pb2
from kuzet.drone.config import DroneSettings
from kuzet.drone.server import DroneServer, build
from kuzet.drone.sim import SimHost, VehicleConfig
from kuzet.drone.v1 import drone_pb2, drone_pb2_grpc

AGENCY = "prison"
LAT, LON, ALT = 51.5007, -0.1246, 20.0
PILOT = Caller("prison-pilot", AGENCY, frozenset({"pilot"}))


@pytest.fixture
async def drone_replicas(tmp_path: Path) -> AsyncIterator[list[DroneServer]]:
    """Two drone replicas sharing one database; leases in it decide who controls a drone."""
    servers = []
    for name in ("drone-a", "drone-b"):
        settings = DroneSettings(
            port=free_port_number(),
            data_dir=tmp_path / name,
            database_url=f"sqlite:///{tmp_path / 'drone.db'}",
            leadership="database",
            controller_id=name,
            lease_s=2.0,
        )
        server = await build(settings, publish_event=lambda event: None)
        await server.start()
        servers.append(server)
    yield servers
    for server in servers:
        await server.stop(0)


@pytest.fixture
def sim() -> Iterator[SimHost]:
    host = SimHost().start()
    yield host
    host.stop()


async def until(check: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}")
        await asyncio.sleep(0.05)


def point(east_m: float, north_m: float) -> dict[str, float]:
    return {"latitude": LAT + north_m / 111_195.0, "longitude": LON + east_m / 69_230.0}


async def test_plan_and_dispatch_through_a_follower_reach_the_controlling_replica(
    gateway_factory: Callable[..., Any], drone_replicas: list[DroneServer], sim: SimHost
) -> None:
    leader, follower = drone_replicas
    port = free_port_number()
    drone = drone_pb2.Drone(
        drone_id="gw-1",
        agency_id=AGENCY,
        home=common_pb2.GeoPoint(latitude=LAT, longitude=LON, altitude_m=ALT),
        system_id=9,
        link_url=f"udpin:127.0.0.1:{port}",
        limits=drone_pb2.DroneLimits(link_loss_timeout_s=3.0),
    )
    channel = open_channel(leader.address, audience="drone", caller=PILOT)
    try:
        await drone_pb2_grpc.DroneServiceStub(channel).RegisterDrone(
            drone_pb2.RegisterDroneRequest(drone=drone), metadata=caller_metadata(PILOT, audience="drone")
        )
    finally:
        await channel.close()
    sim.add(VehicleConfig(9, LAT, LON, ALT, speedup=25.0), f"udpout:127.0.0.1:{port}")
    await until(lambda: leader.fleet.controller("gw-1") is not None, 10, "the leader controls the drone")
    await until(lambda: follower.fleet.leadership.holder("gw-1") == "drone-a", 10, "the follower sees it")

    # The gateway only knows the follower.
    gw = await gateway_factory(endpoints=Endpoints(drone=follower.address))
    auth = gw.auth("prison-pilot")
    state: dict[str, Any] = {}

    async def ready() -> bool:
        nonlocal state
        response = await gw.client.get("/api/v1/drones/gw-1/state", headers=auth)
        assert response.status_code == 200, response.text
        state = response.json()["state"]
        telemetry = state.get("telemetry", {})
        return bool(
            telemetry.get("link_state") == "LINK_STATE_UP" and telemetry.get("gps_fix") == "GPS_FIX_3D"
        )

    deadline = time.monotonic() + 15
    while not await ready():
        assert time.monotonic() < deadline, f"drone never ready through the gateway: {state}"
        await asyncio.sleep(0.1)
    assert state["controller"] == "drone-a"

    square = [point(dx * 40, 100 + dy * 40) for dx, dy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    planned = await gw.client.post(
        "/api/v1/drones/plans",
        json={"drone_id": "gw-1", "kind": "PATROL_KIND_PERIMETER", "polygon": square, "altitude_m": 30},
        headers=auth,
    )
    assert planned.status_code == 200, planned.text
    plan = planned.json()["plan"]
    assert plan["ok"], plan
    dispatched = await gw.client.post(
        "/api/v1/drones/dispatch", json={"plan_id": plan["plan_id"], "pilot_confirmed": True}, headers=auth
    )
    assert dispatched.status_code == 200, dispatched.text
    assert dispatched.json()["mission"]["drone_id"] == "gw-1"
    assert follower.fleet.controller("gw-1") is None  # the follower never opened the drone's link
