"""Flights end to end: gRPC -> service -> MAVLink over UDP -> simulated vehicles."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from kuzet.common.grpcclient import open_channel
from kuzet.common.testing import free_port_number
from kuzet.drone.config import DroneSettings
from kuzet.drone.leadership import InProcessLeadership, LeaseTable
from kuzet.drone.server import build
from kuzet.drone.sim import DropRule
from kuzet.drone.v1 import drone_pb2, drone_pb2_grpc

from .conftest import OPERATOR, PILOT, Harness, md, square, stop

MS = drone_pb2.MissionState


async def test_perimeter_patrol_on_two_drones_at_once(harness: Harness) -> None:
    v1 = await harness.add_drone("north-1", 11)
    v2 = await harness.add_drone("north-2", 12, east_m=60)
    plan1 = await harness.plan(
        "north-1",
        kind=drone_pb2.PATROL_KIND_PERIMETER,
        polygon=square(0, 150, 60),
        altitude_m=30,
        speed_mps=10,
    )
    plan2 = await harness.plan(
        "north-2",
        kind=drone_pb2.PATROL_KIND_PERIMETER,
        polygon=square(80, -120, 50),
        altitude_m=40,
        speed_mps=12,
        loops=2,
    )
    assert plan1.ok and plan2.ok, (plan1.violations, plan2.violations)
    assert len(plan1.waypoints) == 5 and len(plan2.waypoints) == 9
    assert plan1.estimated_duration_s > 0 and 0 < plan1.estimated_battery_pct < 10

    seen: dict[str, set[int]] = {"north-1": set(), "north-2": set()}
    armed_seen: set[str] = set()

    async def watch() -> None:
        stream = harness.stub.WatchTelemetry(
            drone_pb2.WatchTelemetryRequest(drone_ids=["north-1", "north-2"]), metadata=md(OPERATOR)
        )
        async for msg in stream:
            t = msg.telemetry
            seen[t.drone_id].add(t.progress.reached_seq)
            if t.armed:
                armed_seen.add(t.drone_id)

    watcher = asyncio.create_task(watch())
    m1, m2 = await asyncio.gather(harness.dispatch(plan1), harness.dispatch(plan2))
    assert m1.state == MS.MISSION_STATE_IN_PROGRESS and m2.state == MS.MISSION_STATE_IN_PROGRESS
    assert m1.dispatched_by == "pilot-anna"

    # What the vehicles hold is what was planned: home, takeoff, speed, waypoints, RTL.
    assert len(v1.mission) == 3 + len(plan1.waypoints) + 1
    assert [round(it.x / 1e7, 6) for it in v1.mission[3:-1]] == [
        round(w.latitude, 6) for w in plan1.waypoints
    ]
    assert v2.params["FS_GCS_ENABLE"] == 1 and v2.params["FS_GCS_TIMEOUT"] == 2.0

    for drone_id, plan in (("north-1", plan1), ("north-2", plan2)):
        st = await harness.wait_state(
            drone_id, lambda s: s.mission.state == MS.MISSION_STATE_COMPLETED, 60, f"{drone_id} completed"
        )
        assert st.mission.progress.reached_seq == len(plan.waypoints) - 1
        assert st.mission.ended_at.seconds > 0
        assert not st.telemetry.armed
        assert st.available
    await stop(watcher)
    assert armed_seen == {"north-1", "north-2"}
    assert max(seen["north-1"]) == len(plan1.waypoints) - 1
    assert max(seen["north-2"]) == len(plan2.waypoints) - 1
    # Back home.
    for v in (v1, v2):
        assert abs(v.x) < 1 and abs(v.y) < 1 and v.z == 0 and not v.armed


async def test_mission_upload_recovers_from_dropped_packets(harness: Harness) -> None:
    v = await harness.add_drone("d-drop", 21)
    # Lose one item on its way to the vehicle, one request on its way back, and the final ACK.
    item = v.drop(DropRule("in", "MISSION_ITEM_INT", predicate=lambda m: m.seq == 3 and m.mission_type == 0))
    req = v.drop(
        DropRule("out", "MISSION_REQUEST_INT", predicate=lambda m: m.seq == 5 and m.mission_type == 0)
    )
    ack = v.drop(DropRule("out", "MISSION_ACK", predicate=lambda m: m.mission_type == 0))
    plan = await harness.plan(
        "d-drop",
        kind=drone_pb2.PATROL_KIND_AREA_SWEEP,
        polygon=square(0, 100, 40),
        altitude_m=25,
        speed_mps=10,
    )
    assert plan.ok and plan.sweep_spacing_m > 0 and len(plan.waypoints) >= 4
    mission = await harness.dispatch(plan)
    assert mission.state == MS.MISSION_STATE_IN_PROGRESS
    assert item.dropped == 1 and req.dropped == 1 and ack.dropped == 1
    assert [(it.seq, round(it.x / 1e7, 6)) for it in v.mission[3:-1]] == [
        (i + 3, round(w.latitude, 6)) for i, w in enumerate(plan.waypoints)
    ]
    await harness.wait_state(
        "d-drop", lambda s: s.mission.state == MS.MISSION_STATE_COMPLETED, 60, "completed"
    )


async def test_battery_reserve_forces_return(harness: Harness) -> None:
    # The pack drains much faster than the registered endurance says (cold, old battery).
    v = await harness.add_drone(
        "d-batt",
        31,
        battery=70,
        sim_endurance_s=120,
        limits=drone_pb2.DroneLimits(min_launch_battery_pct=50, return_reserve_pct=40, link_loss_timeout_s=2),
    )
    plan = await harness.plan(
        "d-batt",
        kind=drone_pb2.PATROL_KIND_PERIMETER,
        polygon=square(0, 200, 80),
        altitude_m=30,
        speed_mps=8,
        loops=2,
    )
    assert plan.ok, plan.violations
    await harness.dispatch(plan)
    st = await harness.wait_state(
        "d-batt", lambda s: s.mission.state == MS.MISSION_STATE_RETURNING, 30, "returning"
    )
    assert "battery" in st.mission.reason and "return reserve" in st.mission.reason
    assert v.mode == 6  # RTL
    events = harness.events_of("drone_battery_return")
    assert len(events) == 1 and events[0].source.id == "d-batt" and events[0].agency_id == "prison-service"
    st = await harness.wait_state(
        "d-batt", lambda s: s.mission.state == MS.MISSION_STATE_ABORTED, 60, "landed"
    )
    assert st.mission.progress.reached_seq < len(plan.waypoints) - 1
    assert abs(v.x) < 1 and abs(v.y) < 1 and not v.armed and not v.crashed


async def test_link_loss_is_detected_and_reported(harness: Harness) -> None:
    v = await harness.add_drone("d-link", 41)
    plan = await harness.plan(
        "d-link",
        kind=drone_pb2.PATROL_KIND_PERIMETER,
        polygon=square(0, 900, 100),
        altitude_m=30,
        speed_mps=3,
    )
    await harness.dispatch(plan)
    states: list[int] = []

    async def watch() -> None:
        async for msg in harness.stub.WatchTelemetry(
            drone_pb2.WatchTelemetryRequest(drone_ids=["d-link"]), metadata=md(OPERATOR)
        ):
            if not states or states[-1] != msg.telemetry.link_state:
                states.append(msg.telemetry.link_state)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.5)
    v.set_link(False)
    st = await harness.wait_state(
        "d-link", lambda s: s.telemetry.link_state == drone_pb2.LINK_STATE_LOST, 5, "link lost"
    )
    assert not st.available
    assert len(harness.events_of("drone_link_lost")) == 1
    # The autopilot's own failsafe (configured at dispatch) brings it home: FS_GCS_TIMEOUT = 2 s.
    await asyncio.sleep(2.5)
    assert v.gcs_failsafe and v.mode == 6
    v.set_link(True)
    st = await harness.wait_state(
        "d-link", lambda s: s.telemetry.link_state == drone_pb2.LINK_STATE_UP, 5, "link back"
    )
    # Still on its way home (or, on a slow machine, already down); the autopilot's STATUSTEXT went
    # out while the link was down, and the service still says why.
    assert st.mission.state in (MS.MISSION_STATE_RETURNING, MS.MISSION_STATE_ABORTED)
    assert "link-loss failsafe" in st.mission.reason
    await stop(watcher)
    assert drone_pb2.LINK_STATE_LOST in states and states[-1] == drone_pb2.LINK_STATE_UP
    resolved = [e for e in harness.events_of("drone_link_lost") if e.resolves]
    assert len(resolved) == 1


async def test_emergency_stop_blocks_commands_until_a_pilot_reenables(harness: Harness) -> None:
    v = await harness.add_drone("d-stop", 51)
    plan = await harness.plan(
        "d-stop",
        kind=drone_pb2.PATROL_KIND_ROUTE_TO_POINT,
        target=square(0, 200, 1)[0],
        altitude_m=30,
        hold_s=60,
    )
    await harness.dispatch(plan)
    await harness.wait_state("d-stop", lambda s: s.telemetry.relative_altitude_m > 5, 10, "airborne")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await harness.stub.Control(
            drone_pb2.ControlRequest(drone_id="d-stop", action=drone_pb2.CONTROL_ACTION_EMERGENCY_STOP),
            metadata=md(OPERATOR),
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    resp = await harness.stub.Control(
        drone_pb2.ControlRequest(
            drone_id="d-stop", reason="bird strike", action=drone_pb2.CONTROL_ACTION_EMERGENCY_STOP
        ),
        metadata=md(PILOT),
    )
    assert (
        resp.state.commands_blocked
        and "emergency stop by pilot-anna: bird strike" in resp.state.blocked_reason
    )
    assert not v.armed and v.crashed
    assert resp.state.mission.state == MS.MISSION_STATE_ABORTED
    for action in (drone_pb2.CONTROL_ACTION_RETURN_TO_LAUNCH, drone_pb2.CONTROL_ACTION_LAND):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await harness.stub.Control(
                drone_pb2.ControlRequest(drone_id="d-stop", action=action), metadata=md(PILOT)
            )
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "blocked" in (err.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await harness.dispatch(plan)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await harness.stub.ReenableCommands(
            drone_pb2.ReenableCommandsRequest(drone_id="d-stop", reason="ok"), metadata=md(OPERATOR)
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    resp2 = await harness.stub.ReenableCommands(
        drone_pb2.ReenableCommandsRequest(drone_id="d-stop", reason="inspected, recovered"),
        metadata=md(PILOT),
    )
    assert not resp2.state.commands_blocked
    await harness.stub.Control(
        drone_pb2.ControlRequest(drone_id="d-stop", action=drone_pb2.CONTROL_ACTION_LAND), metadata=md(PILOT)
    )
    assert v.mode == 9


async def test_hold_resume_and_return(harness: Harness) -> None:
    v = await harness.add_drone("d-ctl", 61)
    plan = await harness.plan(
        "d-ctl", kind=drone_pb2.PATROL_KIND_PERIMETER, polygon=square(0, 300, 100), altitude_m=30, speed_mps=5
    )
    await harness.dispatch(plan)
    await harness.wait_state("d-ctl", lambda s: s.telemetry.relative_altitude_m > 25, 10, "at altitude")
    hold = drone_pb2.ControlRequest(drone_id="d-ctl", action=drone_pb2.CONTROL_ACTION_HOLD)
    st = (await harness.stub.Control(hold, metadata=md(OPERATOR))).state
    assert st.mission.state == MS.MISSION_STATE_PAUSED and v.mode == 5
    x, y = v.x, v.y
    await asyncio.sleep(0.3)
    assert abs(v.x - x) < 0.01 and abs(v.y - y) < 0.01
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await harness.stub.Control(
            drone_pb2.ControlRequest(drone_id="d-ctl", action=drone_pb2.CONTROL_ACTION_RESUME),
            metadata=md(OPERATOR),
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    st = (
        await harness.stub.Control(
            drone_pb2.ControlRequest(drone_id="d-ctl", action=drone_pb2.CONTROL_ACTION_RESUME),
            metadata=md(PILOT),
        )
    ).state
    assert st.mission.state == MS.MISSION_STATE_IN_PROGRESS and v.mode == 3
    st = (
        await harness.stub.Control(
            drone_pb2.ControlRequest(drone_id="d-ctl", action=drone_pb2.CONTROL_ACTION_RETURN_TO_LAUNCH),
            metadata=md(OPERATOR),
        )
    ).state
    assert st.mission.state == MS.MISSION_STATE_RETURNING and v.mode == 6
    st = await harness.wait_state(
        "d-ctl", lambda s: s.mission.state == MS.MISSION_STATE_ABORTED, 30, "landed"
    )
    assert "operator-bob" in st.mission.reason


async def test_geofence_breach_raises_an_alert(harness: Harness) -> None:
    fence = await harness.stub.CreateZone(
        drone_pb2.CreateZoneRequest(
            zone=drone_pb2.Zone(
                name="prison grounds",
                kind=drone_pb2.ZONE_KIND_GEOFENCE,
                polygon=square(0, 100, 250),
                max_altitude_m=80,
            )
        ),
        metadata=md(PILOT),
    )
    v = await harness.add_drone("d-fence", 71)
    plan = await harness.plan(
        "d-fence",
        kind=drone_pb2.PATROL_KIND_PERIMETER,
        polygon=square(0, 100, 100),
        altitude_m=30,
        speed_mps=5,
        loops=2,
    )
    assert plan.ok, plan.violations
    await harness.dispatch(plan)
    assert len(v.fence) == 4 and v.params["FENCE_ENABLE"] == 1 and v.params["FENCE_ALT_MAX"] == 80
    # The simulator reported MISSION_FENCE in AUTOPILOT_VERSION (asked with REQUEST_MESSAGE).
    ctl = harness.server.fleet.controller("d-fence")
    assert ctl is not None and ctl.fence_on_board and ctl.link is not None and ctl.link.state.capabilities
    await harness.wait_state("d-fence", lambda s: s.telemetry.relative_altitude_m > 25, 10, "at altitude")
    v.push(600, 0)  # a gust (or a GPS glitch) carries it out of the fence
    st = await harness.wait_state(
        "d-fence", lambda s: s.mission.state == MS.MISSION_STATE_RETURNING, 10, "fence RTL"
    )
    events = harness.events_of("drone_geofence_breach")
    assert len(events) == 1 and events[0].severity >= 4, [e.summary for e in events]
    assert events[0].location.latitude != 0
    assert "Fence breach" in st.mission.reason or "returning" in st.mission.reason
    assert fence.zone.zone_id


async def test_a_restarted_service_follows_the_flight_to_completion(
    harness: Harness, tmp_path: Path, db_path: str
) -> None:
    v = await harness.add_drone("d-restart", 91, limits=drone_pb2.DroneLimits(link_loss_timeout_s=6))
    plan = await harness.plan(
        "d-restart",
        kind=drone_pb2.PATROL_KIND_PERIMETER,
        polygon=square(0, 200, 60),
        altitude_m=30,
        speed_mps=4,
    )
    await harness.dispatch(plan)
    await harness.wait_state("d-restart", lambda s: s.telemetry.relative_altitude_m > 20, 10, "climbing")
    await harness.server.stop(0)  # the pod is replaced mid-flight
    settings = DroneSettings(port=free_port_number(), data_dir=tmp_path, database_url=db_path)
    server = await build(
        settings,
        leadership=InProcessLeadership("test-drone-2", table=LeaseTable()),
        publish_event=lambda e: None,
    )
    await server.start()
    channel = open_channel(server.address, audience="drone")
    try:
        harness.stub = drone_pb2_grpc.DroneServiceStub(channel)
        st = await harness.wait_state(
            "d-restart",
            lambda s: s.mission.state == MS.MISSION_STATE_COMPLETED,
            60,
            "completed after restart",
        )
        assert st.mission.progress.reached_seq == len(plan.waypoints) - 1
        assert st.controller == "test-drone-2" and not v.armed and not v.gcs_failsafe
    finally:
        await channel.close()
        await server.stop(0)
