"""Site limits (Caller.sites): a limited caller sees, lists, watches and flies its sites' drones only."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text

from kuzet.common.caller import Caller
from kuzet.common.testing import free_port_number
from kuzet.common.timeutil import to_timestamp
from kuzet.common.v1 import common_pb2
from kuzet.drone.v1 import drone_pb2

from .conftest import ADMIN, AGENCY, HOME_ALT, HOME_LAT, HOME_LON, PILOT, Harness, md, square

PK = drone_pb2.PatrolKind
NORTH_ADMIN = Caller("admin-nora", AGENCY, frozenset({"admin"}), sites=frozenset({"north"}))
NORTH_PILOT = Caller("pilot-nils", AGENCY, frozenset({"pilot"}), sites=frozenset({"north"}))
NORTH_OPERATOR = Caller("operator-nell", AGENCY, frozenset({"operator"}), sites=frozenset({"north"}))
INGEST = Caller("service:ingest", "", frozenset({"service"}), sites=frozenset({"north"}))


async def _code(coro: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await coro  # type: ignore[misc]
    return err.value.code(), err.value.details() or ""


def _drone(drone_id: str, system_id: int, site_id: str) -> drone_pb2.Drone:
    return drone_pb2.Drone(
        drone_id=drone_id,
        agency_id=AGENCY,
        home=common_pb2.GeoPoint(latitude=HOME_LAT, longitude=HOME_LON, altitude_m=HOME_ALT),
        system_id=system_id,
        link_url=f"udpin:127.0.0.1:{free_port_number()}",
        site_id=site_id,
    )


async def _ids(harness: Harness, caller: Caller) -> list[str]:
    resp = await harness.stub.ListDrones(drone_pb2.ListDronesRequest(), metadata=md(caller))
    return [d.drone_id for d in resp.drones]


async def test_a_limited_admin_registers_drones_in_its_sites_only(harness: Harness) -> None:
    register = harness.stub.RegisterDrone
    resp = await register(
        drone_pb2.RegisterDroneRequest(drone=_drone("d-n", 1, "north")), metadata=md(NORTH_ADMIN)
    )
    assert resp.drone.site_id == "north"
    got = await harness.stub.GetDrone(drone_pb2.GetDroneRequest(drone_id="d-n"), metadata=md(ADMIN))
    assert got.drone.site_id == "north"

    for site in ("south", ""):
        code, details = await _code(
            register(drone_pb2.RegisterDroneRequest(drone=_drone("d-x", 2, site)), metadata=md(NORTH_ADMIN))
        )
        assert code == grpc.StatusCode.PERMISSION_DENIED
        assert "admin-nora's sites (north)" in details

    # Taking a drone of another site into one's own is a write at that other site.
    await register(drone_pb2.RegisterDroneRequest(drone=_drone("d-s", 3, "south")), metadata=md(ADMIN))
    code, details = await _code(
        register(
            drone_pb2.RegisterDroneRequest(drone=_drone("d-s", 3, "north"), update=True),
            metadata=md(NORTH_ADMIN),
        )
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED and "south" in details

    # An update carries the site like any other field; an unlimited admin places drones anywhere.
    moved = _drone("d-n", 1, "south")
    moved.link_url = got.drone.link_url
    resp = await register(drone_pb2.RegisterDroneRequest(drone=moved, update=True), metadata=md(ADMIN))
    assert resp.drone.site_id == "south"
    assert await _ids(harness, ADMIN) == ["d-n", "d-s"]
    assert await _ids(harness, NORTH_ADMIN) == []


async def test_drones_outside_the_callers_sites_read_as_missing(harness: Harness) -> None:
    await harness.add_drone_record("d-north", 1, free_port_number(), site_id="north")
    await harness.add_drone_record("d-south", 2, free_port_number(), site_id="south")
    await harness.add_drone_record("d-wide", 3, free_port_number())

    assert await _ids(harness, NORTH_PILOT) == ["d-north"]
    assert await _ids(harness, PILOT) == ["d-north", "d-south", "d-wide"]
    get = harness.stub.GetDrone
    assert (await get(drone_pb2.GetDroneRequest(drone_id="d-north"), metadata=md(NORTH_PILOT))).drone.drone_id
    # Another site's drone and an agency-wide one answer exactly as a drone that does not exist.
    for drone_id in ("d-south", "d-wide", "d-none"):
        code, details = await _code(
            get(drone_pb2.GetDroneRequest(drone_id=drone_id), metadata=md(NORTH_PILOT))
        )
        assert (code, details) == (grpc.StatusCode.NOT_FOUND, f"no such drone {drone_id}")
        code, details = await _code(
            harness.stub.GetDroneState(
                drone_pb2.GetDroneStateRequest(drone_id=drone_id), metadata=md(NORTH_PILOT)
            )
        )
        assert (code, details) == (grpc.StatusCode.NOT_FOUND, f"no such drone {drone_id}")
    code, _ = await _code(
        harness.stub.PlanPatrol(
            drone_pb2.PlanPatrolRequest(
                drone_id="d-south",
                kind=PK.PATROL_KIND_ROUTE_TO_POINT,
                target=square(0, 100, 1)[0],
                altitude_m=40,
            ),
            metadata=md(NORTH_PILOT),
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND

    # A plan made by an unlimited pilot for another site's drone is missing to a limited one.
    plan = await harness.plan(
        "d-south", kind=PK.PATROL_KIND_ROUTE_TO_POINT, target=square(0, 100, 1)[0], altitude_m=40
    )
    code, details = await _code(harness.dispatch(plan, NORTH_PILOT))
    assert (code, details) == (grpc.StatusCode.NOT_FOUND, f"plan {plan.plan_id} does not exist")

    # Services act for the whole agency whatever sites a token claims.
    resp = await get(drone_pb2.GetDroneRequest(drone_id="d-wide"), metadata=md(INGEST))
    assert resp.drone.drone_id == "d-wide"


async def test_suggestions_and_the_fleet_stream_hold_the_callers_sites_only(harness: Harness) -> None:
    await harness.add_drone("d-north", 1, east_m=50, site_id="north")
    await harness.add_drone("d-south", 2, east_m=20, site_id="south")
    await harness.add_drone("d-wide", 3, east_m=10)
    alert = square(40, 0, 1)[0]

    async def suggested(caller: Caller) -> list[str]:
        resp = await harness.stub.SuggestDrone(
            drone_pb2.SuggestDroneRequest(location=alert, max_results=5), metadata=md(caller)
        )
        return sorted(s.drone_id for s in resp.suggestions)

    assert await suggested(NORTH_OPERATOR) == ["d-north"]
    assert await suggested(PILOT) == ["d-north", "d-south", "d-wide"]

    seen: dict[str, set[str]] = {"limited": set(), "unlimited": set()}

    async def watch(name: str, caller: Caller) -> None:
        req = drone_pb2.WatchTelemetryRequest(max_batch=50)
        async for msg in harness.stub.WatchTelemetry(req, metadata=md(caller)):
            seen[name].update(t.drone_id for t in msg.batch)

    tasks = [
        asyncio.create_task(watch("limited", NORTH_OPERATOR)),
        asyncio.create_task(watch("unlimited", PILOT)),
    ]
    try:
        for _ in range(100):
            if len(seen["unlimited"]) == 3 and seen["limited"]:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # a few more samples of every drone
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await task
    assert seen == {"limited": {"d-north"}, "unlimited": {"d-north", "d-south", "d-wide"}}

    code, details = await _code(
        anext(
            aiter(
                harness.stub.WatchTelemetry(
                    drone_pb2.WatchTelemetryRequest(drone_ids=["d-south"]), metadata=md(NORTH_OPERATOR)
                )
            )
        )
    )
    assert (code, details) == (grpc.StatusCode.NOT_FOUND, "no such drone d-south")


async def test_drones_stored_before_sites_are_agency_wide(tmp_path: Path) -> None:
    from kuzet.common.db import Database, migrate
    from kuzet.drone.store import DroneStore

    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(database, "kuzet.drone.migrations", revision="0004")
    old = drone_pb2.Drone(drone_id="d-old", agency_id=AGENCY, system_id=1, link_url="tcp:127.0.0.1:5760")
    with database.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO drones (drone_id, agency_id, data) VALUES (:id, :agency, :data)"),
            {"id": "d-old", "agency": AGENCY, "data": old.SerializeToString()},
        )
    migrate(database, "kuzet.drone.migrations")
    store = DroneStore(database)
    await store.put_drone(drone_pb2.Drone(drone_id="d-new", agency_id=AGENCY, site_id="north"))
    assert [d.drone_id for d in await store.list_drones(AGENCY)] == ["d-new", "d-old"]
    assert [d.drone_id for d in await store.list_drones(AGENCY, frozenset({"north"}))] == ["d-new"]
    assert [d.drone_id for d in await store.list_drones(AGENCY, frozenset({""}))] == ["d-old"]
    database.dispose()


async def test_flight_statistics_count_the_callers_sites_drones_only(harness: Harness) -> None:
    store = harness.server.fleet.store
    at = datetime(2026, 1, 10, 8, tzinfo=UTC)
    for drone_id, site in (("d-north", "north"), ("d-south", "south"), ("d-wide", "")):
        await store.put_drone(drone_pb2.Drone(drone_id=drone_id, agency_id=AGENCY, site_id=site))
        await store.put_mission(
            drone_pb2.Mission(
                mission_id=f"m-{drone_id}",
                drone_id=drone_id,
                agency_id=AGENCY,
                state=drone_pb2.MISSION_STATE_COMPLETED,
                dispatched_at=to_timestamp(at),
            )
        )
    req = drone_pb2.GetFlightStatisticsRequest(
        since=to_timestamp(at - timedelta(days=1)), until=to_timestamp(at + timedelta(days=1))
    )

    async def drones(caller: Caller) -> list[str]:
        resp = await harness.stub.GetFlightStatistics(req, metadata=md(caller))
        return [f.drone_id for f in resp.figures]

    assert await drones(NORTH_PILOT) == ["d-north"]
    assert await drones(PILOT) == ["d-north", "d-south", "d-wide"]
