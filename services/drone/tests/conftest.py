"""Fixtures: the drone service in-process on a free port, and simulated vehicles on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.grpcclient import open_channel
from kuzet.common.testing import free_port_number
from kuzet.common.v1 import common_pb2
from kuzet.drone.config import DroneSettings
from kuzet.drone.leadership import InProcessLeadership, LeaseTable
from kuzet.drone.server import build
from kuzet.drone.sim import SimHost, SimVehicle, VehicleConfig
from kuzet.drone.v1 import drone_pb2, drone_pb2_grpc

SPEEDUP = 25.0
HOME_LAT, HOME_LON, HOME_ALT = 51.5007, -0.1246, 20.0
AGENCY = "prison-service"

PILOT = Caller("pilot-anna", AGENCY, frozenset({"pilot"}))
OPERATOR = Caller("operator-bob", AGENCY, frozenset({"operator"}))
ADMIN = Caller("admin-carl", AGENCY, frozenset({"admin"}))
OTHER_AGENCY_PILOT = Caller("pilot-zed", "police", frozenset({"pilot"}))


def md(caller: Caller) -> list[tuple[str, str]]:
    return caller_metadata(caller, audience="drone")


@dataclass
class Harness:
    server: Any
    channel: grpc.aio.Channel
    stub: drone_pb2_grpc.DroneServiceStub
    events: list[common_pb2.Event]
    sim: SimHost
    vehicles: dict[str, SimVehicle] = field(default_factory=dict)

    def events_of(self, type_: str) -> list[common_pb2.Event]:
        return [e for e in self.events if e.type == type_]

    async def add_drone(
        self,
        drone_id: str,
        system_id: int,
        *,
        east_m: float = 0.0,
        battery: float = 100.0,
        sim_endurance_s: float = 1500.0,
        limits: drone_pb2.DroneLimits | None = None,
        wait: bool = True,
        site_id: str = "",
    ) -> SimVehicle:
        port = free_port_number()
        lat = HOME_LAT
        lon = HOME_LON + east_m / 69_300.0  # metres per degree of longitude at 51.5 N
        drone = drone_pb2.Drone(
            drone_id=drone_id,
            agency_id=AGENCY,
            name=f"Drone {drone_id}",
            home=common_pb2.GeoPoint(latitude=lat, longitude=lon, altitude_m=HOME_ALT),
            system_id=system_id,
            link_url=f"udpin:127.0.0.1:{port}",
            limits=limits or drone_pb2.DroneLimits(link_loss_timeout_s=2.0),
            site_id=site_id,
        )
        await self.stub.RegisterDrone(drone_pb2.RegisterDroneRequest(drone=drone), metadata=md(PILOT))
        vehicle = self.sim.add(
            VehicleConfig(
                system_id,
                lat,
                lon,
                HOME_ALT,
                battery_pct=battery,
                endurance_s=sim_endurance_s,
                speedup=SPEEDUP,
            ),
            f"udpout:127.0.0.1:{port}",
        )
        self.vehicles[drone_id] = vehicle
        if wait:
            await self.wait_state(
                drone_id,
                lambda s: (
                    s.telemetry.link_state == drone_pb2.LINK_STATE_UP
                    and s.telemetry.battery_pct >= 0
                    and s.telemetry.gps_fix == drone_pb2.GPS_FIX_3D
                ),
                10,
                "link up with battery and GPS",
            )
        return vehicle

    async def add_drone_record(self, drone_id: str, system_id: int, port: int, site_id: str = "") -> None:
        """Register a drone whose vehicle is not the simulator (it sends to `port`)."""
        drone = drone_pb2.Drone(
            drone_id=drone_id,
            agency_id=AGENCY,
            home=common_pb2.GeoPoint(latitude=HOME_LAT, longitude=HOME_LON, altitude_m=HOME_ALT),
            system_id=system_id,
            link_url=f"udpin:127.0.0.1:{port}",
            limits=drone_pb2.DroneLimits(link_loss_timeout_s=3.0),
            site_id=site_id,
        )
        await self.stub.RegisterDrone(drone_pb2.RegisterDroneRequest(drone=drone), metadata=md(PILOT))

    async def state(self, drone_id: str) -> drone_pb2.DroneState:
        resp = await self.stub.GetDroneState(
            drone_pb2.GetDroneStateRequest(drone_id=drone_id), metadata=md(PILOT)
        )
        return resp.state

    async def wait_state(
        self, drone_id: str, pred: Callable[[drone_pb2.DroneState], bool], within_s: float, what: str
    ) -> drone_pb2.DroneState:
        deadline = time.monotonic() + within_s
        while True:
            st = await self.state(drone_id)
            if pred(st):
                return st
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; last state:\n{st}")
            await asyncio.sleep(0.05)

    async def plan(self, drone_id: str, **kw: Any) -> drone_pb2.PatrolPlan:
        resp = await self.stub.PlanPatrol(
            drone_pb2.PlanPatrolRequest(drone_id=drone_id, **kw), metadata=md(PILOT)
        )
        return resp.plan

    async def dispatch(self, plan: drone_pb2.PatrolPlan, caller: Caller = PILOT) -> drone_pb2.Mission:
        resp = await self.stub.Dispatch(
            drone_pb2.DispatchRequest(plan_id=plan.plan_id, pilot_confirmed=True), metadata=md(caller)
        )
        return resp.mission


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
        await task


def square(center_east: float, center_north: float, half: float) -> list[common_pb2.GeoPoint]:
    """A square around a point given in metres east/north of the test home."""
    pts = []
    for dx, dy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        pts.append(
            common_pb2.GeoPoint(
                latitude=HOME_LAT + (center_north + dy * half) / 111_195.0,
                longitude=HOME_LON + (center_east + dx * half) / 69_230.0,
            )
        )
    return pts


@pytest.fixture
def sim() -> Iterator[SimHost]:
    host = SimHost().start()
    yield host
    host.stop()


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'drone.db'}"


@pytest.fixture
async def harness(sim: SimHost, tmp_path: Path, db_path: str) -> AsyncIterator[Harness]:
    events: list[common_pb2.Event] = []
    settings = DroneSettings(port=free_port_number(), data_dir=tmp_path, database_url=db_path)
    server = await build(
        settings,
        leadership=InProcessLeadership("test-drone-0", table=LeaseTable()),
        publish_event=events.append,
    )
    await server.start()
    channel = open_channel(server.address, audience="drone")
    h = Harness(server, channel, drone_pb2_grpc.DroneServiceStub(channel), events, sim)
    yield h
    await channel.close()
    await server.stop(0)
