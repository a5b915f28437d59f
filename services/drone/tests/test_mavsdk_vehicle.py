"""The service against an independent vehicle-side MAVLink implementation: MAVSDK's server plugins.

MAVSDK (the `mavsdk` wheel bundles the C++ library) provides MissionRawServer, ActionServer and
TelemetryServer for building a vehicle. The small glue below flies what it is given the way a
vehicle built on MAVSDK would; everything on the wire is MAVSDK's, not ours.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from kuzet.common.testing import free_port_number
from kuzet.drone.v1 import drone_pb2

from .conftest import HOME_ALT, HOME_LAT, HOME_LON, Harness, square

mavsdk = pytest.importorskip("mavsdk", reason="pip install mavsdk (services/drone test extra)")

from mavsdk.component_type import ComponentType  # noqa: E402
from mavsdk.mavsdk import Configuration, Mavsdk  # noqa: E402
from mavsdk.plugins.action_server import ActionServer, AllowableFlightModes, FlightMode  # noqa: E402
from mavsdk.plugins.mission_raw_server import MissionRawServer  # noqa: E402
from mavsdk.plugins.telemetry_server import (  # noqa: E402
    Battery,
    FixType,
    GpsInfo,
    Heading,
    Position,
    RawGps,
    TelemetryServer,
    VelocityNed,
)

MS = drone_pb2.MissionState


class MavsdkVehicle:
    def __init__(self, port: int) -> None:
        self.mavsdk = Mavsdk(Configuration.create_with_component_type(ComponentType.AUTOPILOT))
        self.mavsdk.add_any_connection(f"udpout://127.0.0.1:{port}")
        comp = self.mavsdk.server_component()
        self.mission = MissionRawServer(comp)
        self.action = ActionServer(comp)
        self.telemetry = TelemetryServer(comp)
        self.lock = threading.Lock()
        self.items: list[Any] = []
        self.mode: Any = None
        self.modes_seen: list[Any] = []
        self.armed = False
        self.lat, self.lon, self.rel_alt = HOME_LAT, HOME_LON, 0.0
        self.action.set_armable(True, True)
        self.action.set_disarmable(True, True)
        self.action.set_allow_takeoff(True)
        self.action.set_allowable_flight_modes(
            AllowableFlightModes(
                can_auto_mode=True,
                can_guided_mode=True,
                can_stabilize_mode=True,
                can_auto_rtl_mode=True,
                can_auto_takeoff_mode=True,
                can_auto_land_mode=True,
                can_auto_loiter_mode=True,
            )
        )
        self._handles = [
            self.mission.subscribe_incoming_mission(self._on_mission),
            self.action.subscribe_flight_mode_change(self._on_mode),
            self.action.subscribe_arm_disarm(self._on_arm),
        ]

    def _on_mission(self, result: Any, plan: Any, *_: Any) -> None:
        with self.lock:
            self.items = list(plan.mission_items)

    def _on_mode(self, result: Any, mode: Any, *_: Any) -> None:
        with self.lock:
            self.mode = mode
            self.modes_seen.append(mode)

    def _on_arm(self, result: Any, arm: Any, *_: Any) -> None:
        with self.lock:
            self.armed = bool(arm.arm)

    def publish(self) -> None:
        self.telemetry.publish_position(
            Position(self.lat, self.lon, HOME_ALT + self.rel_alt, self.rel_alt),
            VelocityNed(0.0, 0.0, 0.0),
            Heading(0.0),
        )
        self.telemetry.publish_battery(Battery(16.0, 90.0))
        self.telemetry.publish_raw_gps(
            RawGps(0, self.lat, self.lon, HOME_ALT, 0.8, 1.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
            GpsInfo(12, FixType.FIX_3D),
        )

    async def fly(self) -> None:
        """20 Hz: publish telemetry; in mission mode complete one item per tick, then land."""
        seq = 0
        while True:
            self.publish()
            with self.lock:
                flying = self.armed and self.mode == FlightMode.MISSION
                items = list(self.items)
            if flying and seq < len(items):
                it = items[seq]
                if it.x or it.y:
                    self.lat, self.lon, self.rel_alt = it.x / 1e7, it.y / 1e7, 30.0
                self.mission.set_current_item_complete()
                seq += 1
                if seq == len(items):  # the last item is RTL: home, landed, disarmed
                    self.lat, self.lon, self.rel_alt = HOME_LAT, HOME_LON, 0.0
                    self.action.set_armed_state(False)
                    with self.lock:
                        self.armed = False
            await asyncio.sleep(0.05)

    def close(self) -> None:
        self.mavsdk.destroy()


async def test_dispatch_to_a_vehicle_built_on_mavsdk_server_plugins(harness: Harness) -> None:
    port = free_port_number()
    vehicle = MavsdkVehicle(port)
    flying = asyncio.create_task(vehicle.fly())
    try:
        await harness.add_drone_record("mavsdk-1", 1, port)
        st = await harness.wait_state(
            "mavsdk-1",
            lambda s: (
                s.telemetry.link_state == drone_pb2.LINK_STATE_UP
                and s.telemetry.battery_pct >= 0
                and s.telemetry.gps_fix == drone_pb2.GPS_FIX_3D
            ),
            15,
            "link up with MAVSDK telemetry",
        )
        assert abs(st.telemetry.position.latitude - HOME_LAT) < 1e-6
        plan = await harness.plan(
            "mavsdk-1", kind=drone_pb2.PATROL_KIND_PERIMETER, polygon=square(0, 120, 40), altitude_m=30
        )
        assert plan.ok, plan.violations
        mission = await harness.dispatch(plan)
        assert mission.state == MS.MISSION_STATE_IN_PROGRESS
        # MAVSDK received exactly the mission: takeoff, speed, the waypoints, RTL (no home item).
        with vehicle.lock:
            items = list(vehicle.items)
        assert [it.command for it in items] == [22, 178] + [16] * len(plan.waypoints) + [20]
        assert [round(it.x / 1e7, 6) for it in items[2:-1]] == [round(w.latitude, 6) for w in plan.waypoints]
        st = await harness.wait_state(
            "mavsdk-1", lambda s: s.mission.state == MS.MISSION_STATE_COMPLETED, 20, "completed"
        )
        assert st.mission.progress.reached_seq == len(plan.waypoints) - 1
        assert FlightMode.MISSION in vehicle.modes_seen
        # Pilot controls map to MAVSDK's (PX4) modes.
        vehicle.action.set_armed_state(True)
        await harness.wait_state("mavsdk-1", lambda s: s.telemetry.armed, 5, "armed again")
        ctl = harness.server.fleet.controller("mavsdk-1")
        await ctl.link.set_mode("rtl")
        await asyncio.sleep(0.2)
        assert vehicle.modes_seen[-1] == FlightMode.RETURN_TO_LAUNCH
    finally:
        flying.cancel()
        vehicle.close()
