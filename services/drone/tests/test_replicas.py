"""Two drone replicas on one database (Leases in the database): one flies a drone, never both."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from kuzet.common.dblease import LeaseStoreUnavailable
from kuzet.common.errors import LEADER_KEY
from kuzet.common.grpcclient import leader_address, open_channel
from kuzet.common.testing import free_port_number
from kuzet.common.v1 import common_pb2
from kuzet.drone.config import DroneSettings
from kuzet.drone.server import DroneServer, build
from kuzet.drone.sim import SimHost, VehicleConfig
from kuzet.drone.v1 import drone_pb2, drone_pb2_grpc

from .conftest import AGENCY, HOME_ALT, HOME_LAT, HOME_LON, PILOT, md

LEASE_S = 2.0
DRONE = "rep-1"


@dataclass
class Replica:
    server: DroneServer
    stub: drone_pb2_grpc.DroneServiceStub


@dataclass
class Overlap:
    """Samples which replicas hold an open controller of the drone, every 10 ms."""

    replicas: list[Replica]
    both: int = 0
    samples: int = 0
    first_control: dict[str, float] = field(default_factory=dict)

    def controlling(self) -> list[str]:
        return [r.server.fleet.leadership.identity for r in self.replicas if r.server.fleet.controller(DRONE)]

    async def run(self) -> None:
        while True:
            holders = self.controlling()
            self.samples += 1
            self.both += len(holders) > 1
            for name in holders:
                self.first_control.setdefault(name, time.monotonic())
            await asyncio.sleep(0.01)


Start = Callable[[str], Awaitable[Replica]]


@pytest.fixture
async def start_replica(db_url: str, tmp_path: Path) -> AsyncIterator[Start]:
    servers: list[DroneServer] = []
    channels: list[grpc.aio.Channel] = []

    async def start(name: str) -> Replica:
        settings = DroneSettings(
            port=free_port_number(),
            data_dir=tmp_path,
            database_url=db_url,
            leadership="database",
            controller_id=name,
            lease_s=LEASE_S,
        )
        server = await build(settings, publish_event=lambda event: None)
        await server.start()
        servers.append(server)
        channel = open_channel(server.address, audience="drone")
        channels.append(channel)
        return Replica(server, drone_pb2_grpc.DroneServiceStub(channel))

    yield start
    for channel in channels:
        await channel.close()
    for server in servers:
        await server.stop(0)


async def until(check: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}")
        await asyncio.sleep(0.02)


async def fly_drone(a: Replica, sim: SimHost) -> None:
    """Register the drone through ``a`` (which takes it) and start its simulated vehicle."""
    port = free_port_number()
    drone = drone_pb2.Drone(
        drone_id=DRONE,
        agency_id=AGENCY,
        home=common_pb2.GeoPoint(latitude=HOME_LAT, longitude=HOME_LON, altitude_m=HOME_ALT),
        system_id=7,
        link_url=f"udpin:127.0.0.1:{port}",
        limits=drone_pb2.DroneLimits(link_loss_timeout_s=3.0),
    )
    await a.stub.RegisterDrone(drone_pb2.RegisterDroneRequest(drone=drone), metadata=md(PILOT))
    sim.add(VehicleConfig(7, HOME_LAT, HOME_LON, HOME_ALT, speedup=25.0), f"udpout:127.0.0.1:{port}")
    await until(lambda: a.server.fleet.controller(DRONE) is not None, 10, "a controls the drone")


@contextlib.asynccontextmanager
async def watching(*replicas: Replica) -> AsyncIterator[Overlap]:
    overlap = Overlap(list(replicas))
    task = asyncio.create_task(overlap.run())
    try:
        yield overlap
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_follower_answers_unavailable_naming_the_leader(start_replica: Start, sim: SimHost) -> None:
    a = await start_replica("drone-a")
    b = await start_replica("drone-b")
    await fly_drone(a, sim)
    await until(
        lambda: b.server.fleet.leadership.holder(DRONE) == "drone-a", 10, "b sees a holding the lease"
    )
    request = drone_pb2.ControlRequest(drone_id=DRONE, action=drone_pb2.CONTROL_ACTION_HOLD, reason="test")
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await b.stub.Control(request, metadata=md(PILOT))
    # No retries by the channel against the same follower: the caller hears the leader at once.
    assert time.monotonic() - started < 1.0
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert dict(refused.value.trailing_metadata() or ())[LEADER_KEY] == a.server.address
    assert leader_address(refused.value) == a.server.address
    assert b.server.fleet.controller(DRONE) is None


async def test_the_other_replica_takes_over_a_killed_leaders_drone_only_after_the_lease_expires(
    start_replica: Start, sim: SimHost
) -> None:
    a = await start_replica("drone-a")
    b = await start_replica("drone-b")
    await fly_drone(a, sim)
    async with watching(a, b) as overlap:
        await asyncio.sleep(LEASE_S)  # b tries for the lease a few rounds in vain
        assert overlap.controlling() == ["drone-a"]
        # What kill -9 leaves: the link is gone, the lease stays until it expires.
        fleet = a.server.fleet
        assert fleet._task is not None
        fleet._task.cancel()
        killed_at = time.monotonic()
        for ctl in list(fleet.controllers.values()):
            await ctl.close()
        fleet.controllers.clear()
        await until(lambda: b.server.fleet.controller(DRONE) is not None, 4 * LEASE_S, "b takes over")
        await asyncio.sleep(0.05)  # the watcher's next sample
    takeover_s = overlap.first_control["drone-b"] - killed_at
    print(f"drone_takeover_s={takeover_s:.2f} lease_s={LEASE_S} two_controllers_samples={overlap.both}")
    # A renewed at most a third of the lease before it died; b waits the whole lease out from then.
    assert takeover_s >= LEASE_S * 2 / 3
    assert overlap.both == 0
    ctl = b.server.fleet.controller(DRONE)
    assert ctl is not None
    await until(lambda: ctl.link_state == drone_pb2.LINK_STATE_UP, 10, "b's link is up")


async def test_a_leader_that_cannot_renew_lets_go_before_the_other_takes_over(
    start_replica: Start, sim: SimHost
) -> None:
    a = await start_replica("drone-a")
    b = await start_replica("drone-b")
    await fly_drone(a, sim)

    async def unreachable() -> bool:
        raise LeaseStoreUnavailable("database unreachable (test)")

    async with watching(a, b) as overlap:
        await asyncio.sleep(LEASE_S / 2)
        cut_at = time.monotonic()
        for lock in a.server.fleet.leadership._locks.values():  # type: ignore[attr-defined]
            lock.try_acquire_or_renew = unreachable
        await until(lambda: a.server.fleet.controller(DRONE) is None, 2 * LEASE_S, "a lets go")
        let_go_s = time.monotonic() - cut_at
        await until(lambda: b.server.fleet.controller(DRONE) is not None, 4 * LEASE_S, "b takes over")
    print(f"a_let_go_after_s={let_go_s:.2f} two_controllers_samples={overlap.both} of {overlap.samples}")
    assert let_go_s < LEASE_S  # its term ends half a second before the lease does
    assert overlap.both == 0


async def test_any_replica_suggests_every_drone_and_the_state_shows_the_plan(
    start_replica: Start, sim: SimHost
) -> None:
    a = await start_replica("drone-a")
    b = await start_replica("drone-b")
    await fly_drone(a, sim)
    target = common_pb2.GeoPoint(latitude=HOME_LAT + 0.001, longitude=HOME_LON)
    # b controls nothing: it suggests a's drone from the readiness a shares (every 5 s).
    deadline = time.monotonic() + 20
    while True:
        resp = await b.stub.SuggestDrone(drone_pb2.SuggestDroneRequest(location=target), metadata=md(PILOT))
        if [s.drone_id for s in resp.suggestions] == [DRONE]:
            break
        assert time.monotonic() < deadline, "b never suggested a's drone"
        await asyncio.sleep(0.5)
    assert 100 < resp.suggestions[0].distance_m < 125 and resp.suggestions[0].battery_pct > 90
    plan = (
        await a.stub.PlanPatrol(
            drone_pb2.PlanPatrolRequest(
                drone_id=DRONE, kind=drone_pb2.PATROL_KIND_ROUTE_TO_POINT, target=target, altitude_m=30
            ),
            metadata=md(PILOT),
        )
    ).plan
    assert plan.ok, plan.violations
    await a.stub.Dispatch(
        drone_pb2.DispatchRequest(plan_id=plan.plan_id, pilot_confirmed=True), metadata=md(PILOT)
    )
    state = (
        await a.stub.GetDroneState(drone_pb2.GetDroneStateRequest(drone_id=DRONE), metadata=md(PILOT))
    ).state
    assert state.plan.plan_id == state.mission.plan_id == plan.plan_id
    assert list(state.plan.waypoints) == list(plan.waypoints)
