"""Planning checks, roles, agency isolation, suggestions, persistence and leadership."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from kuzet.common.caller import Caller
from kuzet.common.v1 import audit_pb2, audit_pb2_grpc, common_pb2
from kuzet.drone import geo, planning
from kuzet.drone.config import DroneSettings
from kuzet.drone.leadership import InProcessLeadership
from kuzet.drone.server import build
from kuzet.drone.v1 import drone_pb2, drone_pb2_grpc

from .conftest import (
    ADMIN,
    HOME_LAT,
    HOME_LON,
    OPERATOR,
    OTHER_AGENCY_PILOT,
    PILOT,
    Harness,
    md,
    square,
    stop,
)

PK = drone_pb2.PatrolKind


async def _code(coro: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await coro  # type: ignore[misc]
    return err.value.code(), err.value.details() or ""


async def test_plan_across_a_no_fly_zone_is_refused_with_the_reason(harness: Harness) -> None:
    await harness.add_drone("d-nfz", 81)
    zone = (
        await harness.stub.CreateZone(
            drone_pb2.CreateZoneRequest(
                zone=drone_pb2.Zone(
                    name="hospital helipad", kind=drone_pb2.ZONE_KIND_NO_FLY, polygon=square(0, 150, 20)
                )
            ),
            metadata=md(PILOT),
        )
    ).zone
    plan = await harness.plan(
        "d-nfz", kind=PK.PATROL_KIND_ROUTE_TO_POINT, target=square(0, 300, 1)[0], altitude_m=40
    )
    assert not plan.ok
    [v] = plan.violations
    assert v.kind == drone_pb2.VIOLATION_KIND_NO_FLY_ZONE and v.zone_id == zone.zone_id
    assert v.message == "leg home -> waypoint 0 crosses no-fly zone 'hospital helipad'"
    code, details = await _code(harness.dispatch(plan))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "crosses no-fly zone 'hospital helipad'" in details
    assert not harness.vehicles["d-nfz"].armed and harness.vehicles["d-nfz"].mission == []
    # A route around it is fine.
    ok = await harness.plan(
        "d-nfz", kind=PK.PATROL_KIND_ROUTE_TO_POINT, target=square(100, 300, 1)[0], altitude_m=40
    )
    assert ok.ok, ok.violations


async def test_only_pilots_dispatch_and_only_with_confirmation(harness: Harness) -> None:
    v = await harness.add_drone("d-role", 82)
    plan = await harness.plan(
        "d-role", kind=PK.PATROL_KIND_PERIMETER, polygon=square(0, 100, 30), altitude_m=30
    )
    assert plan.ok
    for caller in (OPERATOR, ADMIN):
        code, details = await _code(harness.dispatch(plan, caller))
        assert code == grpc.StatusCode.PERMISSION_DENIED
        assert "pilot" in details
    code, _ = await _code(harness.dispatch(plan, OTHER_AGENCY_PILOT))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    code, details = await _code(
        harness.stub.Dispatch(drone_pb2.DispatchRequest(plan_id=plan.plan_id), metadata=md(PILOT))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "pilot_confirmed" in details
    code, _ = await _code(
        harness.stub.Dispatch(
            drone_pb2.DispatchRequest(plan_id="nope", pilot_confirmed=True), metadata=md(PILOT)
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND
    assert not v.armed and v.mission == []
    # Other agencies cannot see the drone or its telemetry.
    # Every refusal is in the audit trail an auditor can list and verify.
    auditor = Caller("auditor-dee", "prison-service", frozenset({"auditor"}))
    audit = audit_pb2_grpc.AuditServiceStub(harness.channel)
    records = (
        await audit.ListAudit(
            audit_pb2.ListAuditRequest(action_prefix="drone.dispatch"), metadata=md(auditor)
        )
    ).records
    outcomes = [(r.actor, r.outcome.split(":")[0]) for r in records]
    assert ("operator-bob", "denied") in outcomes and ("admin-carl", "denied") in outcomes
    assert ("pilot-anna", "refused") in outcomes  # without pilot_confirmed
    assert all(o != "ok" for _, o in outcomes)
    assert (await audit.VerifyAudit(audit_pb2.VerifyAuditRequest(), metadata=md(auditor))).ok
    # Answered as a drone nobody has: another agency's drone ids cannot be probed.
    for drone_id in ("d-role", "d-nobody"):
        answer = await _code(
            harness.stub.GetDroneState(
                drone_pb2.GetDroneStateRequest(drone_id=drone_id), metadata=md(OTHER_AGENCY_PILOT)
            )
        )
        assert answer == (grpc.StatusCode.NOT_FOUND, f"no such drone {drone_id}")


async def test_bad_input_is_invalid_argument(harness: Harness) -> None:
    await harness.add_drone("d-bad", 83)
    bad_drone = drone_pb2.Drone(
        drone_id="x",
        home=common_pb2.GeoPoint(latitude=HOME_LAT, longitude=HOME_LON),
        system_id=1,
        link_url="serial:/dev/ttyUSB0",
    )
    code, details = await _code(
        harness.stub.RegisterDrone(drone_pb2.RegisterDroneRequest(drone=bad_drone), metadata=md(PILOT))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "udpin" in details
    bad_drone.link_url, bad_drone.system_id = "udpin:127.0.0.1:1", 300
    code, details = await _code(
        harness.stub.RegisterDrone(drone_pb2.RegisterDroneRequest(drone=bad_drone), metadata=md(PILOT))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "system_id" in details
    bow_tie = square(0, 100, 30)
    bow_tie[1], bow_tie[2] = bow_tie[2], bow_tie[1]
    for kw, words in (
        (
            {"kind": PK.PATROL_KIND_PERIMETER, "polygon": square(0, 100, 30)[:2], "altitude_m": 30},
            "at least 3",
        ),
        ({"kind": PK.PATROL_KIND_PERIMETER, "polygon": bow_tie, "altitude_m": 30}, "crosses itself"),
        ({"kind": PK.PATROL_KIND_PERIMETER, "polygon": square(0, 100, 30), "altitude_m": 0}, "altitude_m"),
        ({"kind": PK.PATROL_KIND_ROUTE_TO_POINT, "altitude_m": 30}, "target"),
        ({"altitude_m": 30}, "kind"),
    ):
        code, details = await _code(
            harness.stub.PlanPatrol(drone_pb2.PlanPatrolRequest(drone_id="d-bad", **kw), metadata=md(PILOT))
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT and words in details, details
    code, _ = await _code(
        harness.stub.GetDrone(drone_pb2.GetDroneRequest(drone_id="ghost"), metadata=md(PILOT))
    )
    assert code == grpc.StatusCode.NOT_FOUND


async def test_range_altitude_and_battery_violations(harness: Harness) -> None:
    await harness.add_drone(
        "d-lim",
        84,
        battery=45,
        limits=drone_pb2.DroneLimits(
            max_range_m=500, max_altitude_m=100, min_launch_battery_pct=50, return_reserve_pct=25
        ),
    )
    plan = await harness.plan(
        "d-lim", kind=PK.PATROL_KIND_ROUTE_TO_POINT, target=square(0, 800, 1)[0], altitude_m=150
    )
    kinds = {v.kind for v in plan.violations}
    assert kinds == {
        drone_pb2.VIOLATION_KIND_MAX_RANGE,
        drone_pb2.VIOLATION_KIND_MAX_ALTITUDE,
        drone_pb2.VIOLATION_KIND_LAUNCH_BATTERY,
    }
    msgs = " | ".join(v.message for v in plan.violations)
    assert "beyond the max range 500 m" in msgs and "above the drone's limit 100 m" in msgs
    assert "below the launch minimum 50%" in msgs


async def test_suggest_drone_offers_nearest_available_and_never_dispatches(harness: Harness) -> None:
    near = await harness.add_drone("d-near", 91, east_m=200, battery=90)
    await harness.add_drone("d-far", 92, east_m=-300, battery=90)
    await harness.add_drone(
        "d-weak",
        93,
        east_m=210,
        battery=41,
        limits=drone_pb2.DroneLimits(min_launch_battery_pct=40, return_reserve_pct=39),
    )
    alert = square(250, 0, 1)[0]
    resp = await harness.stub.SuggestDrone(
        drone_pb2.SuggestDroneRequest(location=alert), metadata=md(OPERATOR)
    )
    ids = [s.drone_id for s in resp.suggestions]
    assert ids == ["d-near", "d-far"]
    assert resp.suggestions[0].distance_m < 100 and resp.suggestions[0].estimated_landing_battery_pct > 25
    assert not near.armed and near.mission == []


async def test_registry_persists_and_one_controller_per_drone(harness: Harness, tmp_path, db_path) -> None:  # type: ignore[no-untyped-def]
    await harness.add_drone("d-lease", 95)
    drones = (await harness.stub.ListDrones(drone_pb2.ListDronesRequest(), metadata=md(OPERATOR))).drones
    assert [d.drone_id for d in drones] == ["d-lease"]
    assert drones[0].limits.return_reserve_pct == 25 and drones[0].limits.max_altitude_m == 120
    # A second instance on the same database and lease table sees the drone but may not control it.
    table = harness.server.fleet.leadership.table
    settings = DroneSettings(port=0, data_dir=tmp_path, database_url=db_path)
    other = await build(
        settings, leadership=InProcessLeadership("test-drone-1", table=table), publish_event=lambda e: None
    )
    try:
        assert "d-lease" in other.fleet.drones and other.fleet.controller("d-lease") is None
        servicer_state = await other.fleet.store.get_drone("d-lease")
        assert servicer_state is not None and servicer_state.system_id == 95
    finally:
        await other.fleet.stop()
    st = await harness.state("d-lease")
    assert st.controller == "test-drone-0"


def test_sweep_geometry_covers_the_area() -> None:
    frame = geo.LocalFrame(HOME_LAT, HOME_LON)
    drone = drone_pb2.Drone(
        drone_id="g",
        home=common_pb2.GeoPoint(latitude=HOME_LAT, longitude=HOME_LON),
        camera=drone_pb2.CameraSpec(horizontal_fov_deg=90, side_overlap=0.5),
        limits=drone_pb2.DroneLimits(
            max_altitude_m=120, max_range_m=5000, endurance_s=1500, cruise_speed_mps=8, return_reserve_pct=20
        ),
    )
    # 2 * 40 m * tan(45 deg) * (1 - 0.5) = 40 m between lines.
    assert planning.sweep_spacing(drone, 40) == pytest.approx(40.0)
    req = drone_pb2.PlanPatrolRequest(
        drone_id="g", kind=PK.PATROL_KIND_AREA_SWEEP, polygon=square(0, 0, 100), altitude_m=40
    )
    plan = planning.plan_patrol(drone, req, [], 100.0, [])
    assert plan.ok and plan.sweep_spacing_m == pytest.approx(40.0)
    pts = [frame.to_xy(w.latitude, w.longitude) for w in plan.waypoints]
    assert len(pts) == 10  # 5 lines of 2 ends across a 200 m square
    # Lines run along one side of the square: their offsets are -80..80 (half a spacing in from the
    # edge), their ends are on the opposite sides (+-100).
    xs, ys = sorted({round(p[0]) for p in pts}), sorted({round(p[1]) for p in pts})
    offsets, ends = (xs, ys) if len(xs) > len(ys) else (ys, xs)
    assert offsets == pytest.approx([-80, -40, 0, 40, 80], abs=1)
    assert ends == pytest.approx([-100, 100], abs=1)
    # Distances: the local frame agrees with the great-circle distance to well under 0.1 %.
    lat2, lon2 = frame.to_latlon(3000, 4000)
    assert geo.haversine_m(HOME_LAT, HOME_LON, lat2, lon2) == pytest.approx(5000, rel=1e-3)


def test_concave_fence_legs() -> None:
    u_shape = [
        (0.0, 0.0),
        (30.0, 0.0),
        (30.0, 30.0),
        (20.0, 30.0),
        (20.0, 10.0),
        (10.0, 10.0),
        (10.0, 30.0),
        (0.0, 30.0),
    ]
    assert not geo.segment_leaves_polygon((5, 5), (25, 5), u_shape)
    assert geo.segment_leaves_polygon((5, 25), (25, 25), u_shape)  # crosses the notch
    assert geo.segment_crosses_polygon((-5, 15), (5, 15), u_shape)
    assert not geo.segment_crosses_polygon((-5, -5), (-1, 40), u_shape)


_ = drone_pb2_grpc


async def test_store_round_trip_on_both_engines(db_url: str) -> None:
    from kuzet.common.db import Database, migrate
    from kuzet.drone.store import DroneStore

    database = Database(db_url)
    migrate(database, "kuzet.drone.migrations")
    store = DroneStore(database)
    drone = drone_pb2.Drone(drone_id="d-db", agency_id="a1", system_id=3, link_url="tcp:127.0.0.1:5760")
    await store.put_drone(drone)
    await store.put_zone(drone_pb2.Zone(zone_id="z1", agency_id="a1", kind=drone_pb2.ZONE_KIND_NO_FLY))
    plan = drone_pb2.PatrolPlan(plan_id="p1", drone_id="d-db", agency_id="a1", ok=True)
    plan.created_at.GetCurrentTime()
    await store.put_plan(plan)
    first = drone_pb2.Mission(
        mission_id="m1", drone_id="d-db", agency_id="a1", state=drone_pb2.MISSION_STATE_COMPLETED
    )
    first.dispatched_at.FromSeconds(1000)
    second = drone_pb2.Mission(mission_id="m2", drone_id="d-db", agency_id="a1")
    second.dispatched_at.FromSeconds(2000)
    await store.put_mission(first)
    await store.put_mission(second)
    assert await store.get_drone("d-db") == drone
    assert [z.zone_id for z in await store.list_zones("a1")] == ["z1"]
    assert (await store.get_plan("p1")) == plan
    last = await store.last_mission("d-db")
    assert last is not None and last.mission_id == "m2"
    await store.delete_zone("z1")
    assert await store.list_zones("a1") == []
    database.dispose()


async def test_many_subscribers_per_drone_and_batched_streams(harness: Harness) -> None:
    await harness.add_drone("d-w1", 101)
    await harness.add_drone("d-w2", 102, east_m=50)
    got: dict[str, list[tuple[int, str]]] = {"single": [], "batched": [], "fleet": []}

    async def watch(name: str, ids: list[str], batch: int) -> None:
        req = drone_pb2.WatchTelemetryRequest(drone_ids=ids, max_batch=batch)
        async for msg in harness.stub.WatchTelemetry(req, metadata=md(OPERATOR)):
            samples = list(msg.batch) if batch > 1 else [msg.telemetry]
            got[name].extend((len(samples), t.drone_id) for t in samples)

    tasks = [
        asyncio.create_task(watch("single", ["d-w1"], 0)),
        asyncio.create_task(watch("batched", ["d-w1"], 50)),
        asyncio.create_task(watch("fleet", [], 500)),
    ]
    await asyncio.sleep(2.0)
    for t in tasks:
        await stop(t)
    # 10 Hz each (a loaded machine may deliver fewer; none are lost inside the service).
    assert len(got["single"]) >= 8 and {d for _, d in got["single"]} == {"d-w1"}
    assert len(got["batched"]) >= 8 and {d for _, d in got["batched"]} == {"d-w1"}
    assert {d for _, d in got["fleet"]} == {"d-w1", "d-w2"}
    assert all(n == 1 for n, _ in got["single"])
    code, _ = await _code(
        harness.stub.WatchTelemetry(
            drone_pb2.WatchTelemetryRequest(drone_ids=["d-w1"]), metadata=md(OTHER_AGENCY_PILOT)
        ).read()
    )
    assert code == grpc.StatusCode.NOT_FOUND
