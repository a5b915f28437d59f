"""Coverage planning and the coverage report over the real gRPC server, flown by the simulator."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import pytest

from kuzet.common.caller import Caller
from kuzet.drone.v1 import drone_pb2

from .conftest import ADMIN, OPERATOR, OTHER_AGENCY_PILOT, PILOT, Harness, md, square

MS = drone_pb2.MissionState
ALTITUDE = 40.0
# 300 m x 300 m, 100 m north of the test home, with an 80 m hole in the middle.
OUTLINE = square(0, 250, 150)
HOLE = drone_pb2.GeoRing(points=square(0, 250, 40))


@pytest.fixture
def db_path(db_url: str) -> str:
    """Every test here on SQLite and on PostgreSQL (the conftest harness reads this fixture)."""
    return db_url


def request(drone_ids: list[str], **kw: Any) -> drone_pb2.PlanCoverageRequest:
    fields: dict[str, Any] = {"outline": OUTLINE, "holes": [HOLE], "altitude_m": ALTITUDE}
    fields.update(kw)
    return drone_pb2.PlanCoverageRequest(drone_ids=drone_ids, name="test reserve", **fields)


async def plan(
    h: Harness, req: drone_pb2.PlanCoverageRequest, caller: Caller = PILOT
) -> drone_pb2.CoveragePlan:
    return (await h.stub.PlanCoverage(req, metadata=md(caller))).plan


async def refused(
    h: Harness, req: drone_pb2.PlanCoverageRequest, caller: Caller = PILOT
) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await h.stub.PlanCoverage(req, metadata=md(caller))
    return err.value


async def report(h: Harness, caller: Caller = PILOT, **kw: Any) -> drone_pb2.CoverageReport:
    resp = await h.stub.GetCoverageReport(drone_pb2.GetCoverageReportRequest(**kw), metadata=md(caller))
    return resp.report


def in_hole(lat: float, lon: float, margin_m: float = 3.0) -> bool:
    """More than margin_m inside the hole (a sweep line ends on its edge)."""
    dlat, dlon = margin_m / 111_195.0, margin_m / 69_230.0
    lats = [p.latitude for p in HOLE.points]
    lons = [p.longitude for p in HOLE.points]
    return min(lats) + dlat < lat < max(lats) - dlat and min(lons) + dlon < lon < max(lons) - dlon


async def test_plan_for_two_drones_over_an_area_with_a_hole(harness: Harness) -> None:
    await harness.add_drone("cov-a", 21)
    await harness.add_drone("cov-b", 22, east_m=80)
    cp = await plan(harness, request(["cov-a", "cov-b"]), OPERATOR)

    assert cp.coverage_plan_id and cp.agency_id == "prison-service" and cp.created_by == "operator-bob"
    assert [d.drone_id for d in cp.drones] == ["cov-a", "cov-b"]
    assert cp.asked_m2 == pytest.approx(300 * 300 - 80 * 80, rel=0.01)
    assert cp.coverage_ratio > 0.95
    for d in cp.drones:
        # 70 deg camera at 40 m: 56 m footprint, 20 % side overlap.
        assert d.spacing_m == pytest.approx(2 * 40 * 0.7002 * 0.8, rel=0.01)
        assert d.legs and 0.3 < d.coverage_ratio < 0.7
        for k, leg in enumerate(d.legs, start=1):
            assert leg.ok and leg.coverage_plan_id == cp.coverage_plan_id and leg.coverage_leg == k
            assert leg.kind == drone_pb2.PATROL_KIND_AREA_SWEEP and leg.altitude_m == ALTITUDE
            assert 0 < leg.estimated_battery_pct < 75
            # Lines stop at the hole (a transit may still cross it: it is not a no-fly zone).
            assert not any(in_hole(w.latitude, w.longitude) for w in leg.waypoints)
    assert sum(d.strip_m2 for d in cp.drones) == pytest.approx(cp.allowed_m2 - cp.unflyable_m2, rel=0.02)


async def test_bad_input_is_refused_before_anything_flies(harness: Harness) -> None:
    await harness.add_drone("cov-a", 21)
    await harness.add_drone("weak", 23, limits=drone_pb2.DroneLimits(endurance_s=60, link_loss_timeout_s=2.0))
    bow_tie = [OUTLINE[0], OUTLINE[2], OUTLINE[1], OUTLINE[3]]
    cases = {
        "crosses itself": request(["cov-a"], outline=bow_tie),
        "above the legal limit of 120 m": request(["cov-a"], altitude_m=150),
        "cannot": request(["cov-a", "weak"]),
        "drone_ids is required": request([]),
        "side_overlap 0.95 is outside": request(["cov-a"], side_overlap=0.95),
    }
    for words, req in cases.items():
        err = await refused(harness, req)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (words, err.details())
        assert words in err.details(), err.details()
    weak = await refused(harness, request(["weak"]))
    assert "drone 'weak'" in weak.details() and "return" in weak.details()
    # Nothing was stored: no leg of a refused plan can be dispatched.
    assert (await harness.state("cov-a")).mission.mission_id == ""


async def test_roles_and_agency_isolation(harness: Harness) -> None:
    await harness.add_drone("cov-a", 21)
    cp = await plan(harness, request(["cov-a"]))
    for caller, req, code in (
        (OTHER_AGENCY_PILOT, request(["cov-a"]), grpc.StatusCode.NOT_FOUND),
        (ADMIN, request(["cov-a"]), grpc.StatusCode.PERMISSION_DENIED),
        (PILOT, request(["no-such-drone"]), grpc.StatusCode.NOT_FOUND),
    ):
        assert (await refused(harness, req, caller)).code() == code
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await report(harness, OTHER_AGENCY_PILOT, coverage_plan_id=cp.coverage_plan_id)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await report(harness, coverage_plan_id="no-such-plan")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # Another agency's pilot cannot dispatch a leg either: legs are plans of the owner's agency.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await harness.dispatch(cp.drones[0].legs[0], OTHER_AGENCY_PILOT)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # Before any flight the report is all gap.
    empty = await report(harness, coverage_plan_id=cp.coverage_plan_id)
    assert (
        empty.seen_m2 == 0
        and empty.legs_flown == 0
        and empty.gaps_m2 == pytest.approx(cp.allowed_m2, rel=0.01)
    )


async def test_report_from_flown_legs_with_one_cut_short(harness: Harness) -> None:
    await harness.add_drone("cov-a", 21)
    await harness.add_drone("cov-b", 22, east_m=80)
    cp = await plan(harness, request(["cov-a", "cov-b"]))
    leg_a, leg_b = cp.drones[0].legs[0], cp.drones[1].legs[0]
    started = time.monotonic()
    m_a, m_b = await asyncio.gather(harness.dispatch(leg_a), harness.dispatch(leg_b))
    # The pilot brings cov-b home a third of the way through its sweep: the rest is a gap.
    third = len(leg_b.waypoints) // 3
    await harness.wait_state(
        "cov-b", lambda s: s.mission.progress.reached_seq >= third, 60, "cov-b a third through"
    )
    await harness.stub.Control(
        drone_pb2.ControlRequest(
            drone_id="cov-b", action=drone_pb2.CONTROL_ACTION_RETURN_TO_LAUNCH, reason="weather"
        ),
        metadata=md(PILOT),
    )
    for drone_id, state in (("cov-a", MS.MISSION_STATE_COMPLETED), ("cov-b", MS.MISSION_STATE_ABORTED)):
        await harness.wait_state(
            drone_id, lambda s, st=state: s.mission.state == st, 90, f"{drone_id} landed"
        )
    flown_s = time.monotonic() - started

    # Stored when the missions ended, without asking for a recompute.
    deadline = time.monotonic() + 20
    while True:
        stored = await report(harness, coverage_plan_id=cp.coverage_plan_id)
        if stored.legs_flown == 2 and {m.state for m in stored.missions} == {
            MS.MISSION_STATE_COMPLETED,
            MS.MISSION_STATE_ABORTED,
        }:
            break
        assert time.monotonic() < deadline, stored
        await asyncio.sleep(0.1)

    by_drone = {m.drone_id: m for m in stored.missions}
    assert by_drone["cov-a"].mission_id == m_a.mission_id and by_drone["cov-b"].mission_id == m_b.mission_id
    assert by_drone["cov-b"].reason.startswith("returning to launch: pilot")
    assert all(m.track_points > 10 and 0 < m.flight_time_s <= flown_s for m in stored.missions)
    assert stored.flight_time_s == pytest.approx(sum(m.flight_time_s for m in stored.missions))
    # cov-a swept its whole strip; cov-b a third of its own, and what it saw flying home.
    assert by_drone["cov-a"].seen_m2 > 1.4 * by_drone["cov-b"].seen_m2 > 0
    assert 0.4 < stored.coverage_ratio < 0.9
    assert stored.seen_m2 + stored.gaps_m2 == pytest.approx(stored.allowed_m2, rel=0.02)
    assert stored.gaps and stored.gaps[0].area_m2 > 0.1 * stored.asked_m2
    assert stored.detections == 0 and stored.legs_planned == sum(len(d.legs) for d in cp.drones)
    # The seen ground never includes the hole.
    for poly in stored.seen:
        assert not any(in_hole(p.latitude, p.longitude) for p in poly.outline)

    # Read back by a mission's id, and recomputed from the stored tracks: the same figures.
    by_mission = await report(harness, mission_id=m_b.mission_id)
    assert by_mission == stored
    again = await report(harness, OPERATOR, coverage_plan_id=cp.coverage_plan_id, recompute=True)
    assert again.computed_at != stored.computed_at
    assert again.seen_m2 == pytest.approx(stored.seen_m2, rel=1e-6)
