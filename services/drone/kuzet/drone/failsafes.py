"""The platform's failsafes on top of the autopilot's, for one drone.

At dispatch the autopilot's own failsafes are configured (link-loss, fence, return altitude);
per position sample while armed, the battery reserve and the zones are checked here: a return to
launch on the reserve, one ``drone_geofence_breach`` event per breach episode, and the service's
own return to launch when nothing on board enforces the fence. Link loss is the controller's
(``kuzet.drone.controller``): it is part of supervising the link.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as mav

from kuzet.common.v1 import common_pb2
from kuzet.drone import geo, planning
from kuzet.drone.mavlink.autopilot import RTL
from kuzet.drone.mavlink.link import DroneLink, LinkError
from kuzet.drone.v1 import drone_pb2

log = logging.getLogger(__name__)

MS = drone_pb2.MissionState

BREACH_CLEAR_S = 3.0


class Failsafes:
    """The failsafe part of ``DroneController`` (a mixin: the controller owns the state)."""

    drone: drone_pb2.Drone
    link: DroneLink | None
    mission: drone_pb2.Mission | None
    blocked: bool
    zones: Sequence[drone_pb2.Zone]
    frame: geo.LocalFrame
    breach: str
    _battery_rtl: bool
    _inside_since: float | None
    _commanded_mode: str | None
    _cmd_lock: asyncio.Lock

    if TYPE_CHECKING:

        @property
        def timeout_s(self) -> float: ...

        def _spawn(self, coro: Any) -> None: ...

        def _event(
            self,
            type_: str,
            summary: str,
            attrs: dict[str, Any],
            *,
            resolves: bool = False,
            location: common_pb2.GeoPoint | None = None,
        ) -> None: ...

        def _set_state(self, state: drone_pb2.MissionState, reason: str) -> None: ...

    @property
    def fence_on_board(self) -> bool:
        """The autopilot takes and enforces the uploaded fence (profile, and its capabilities if known)."""
        link = self.link
        if link is None or not link.state.autopilot.enforces_fence:
            return False
        caps = link.state.capabilities
        return caps is None or bool(caps & mav.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE)

    async def _configure_failsafes(self, link: DroneLink, plan: drone_pb2.PatrolPlan) -> None:
        ap = link.state.autopilot
        for name, value in ap.link_loss_params.items():
            await link.set_param(name, self.timeout_s if value == "timeout" else float(value))
        ceiling = min(
            [self.drone.limits.max_altitude_m]
            + [
                z.max_altitude_m
                for z in self.zones
                if z.kind == drone_pb2.ZONE_KIND_GEOFENCE and z.max_altitude_m > 0
            ]
        )
        if ap.name == "ardupilot":
            await link.set_param("FENCE_ALT_MAX", ceiling)
            await link.set_param("RTL_ALT", plan.altitude_m * 100.0)  # centimetres
        for param, setting in ap.fence_params.items():
            await link.set_param(param, setting)

    def _check_flight(self) -> None:
        """Per position sample while armed: battery reserve and zone breach."""
        link = self.link
        if link is None or not link.state.armed:
            if self.breach:
                self.breach = ""
            return
        s = link.state
        m = self.mission
        reserve = self.drone.limits.return_reserve_pct
        if (
            0 <= s.battery_pct < reserve
            and not self._battery_rtl
            and not self.blocked
            and m is not None
            and m.state in (MS.MISSION_STATE_IN_PROGRESS, MS.MISSION_STATE_PAUSED, MS.MISSION_STATE_LAUNCHING)
        ):
            self._battery_rtl = True
            reason = f"battery {s.battery_pct:.0f}% below the return reserve {reserve:.0f}%"
            m.reason = reason
            self._event(
                "drone_battery_return",
                f"drone {self.drone.drone_id} returns: {reason}",
                {"battery_pct": s.battery_pct, "reserve_pct": reserve},
            )
            self._spawn(self._failsafe_rtl(reason))
        if self.zones and s.have_position:
            why = planning.zone_breach(s.lat, s.lon, s.rel_alt, self.zones, self.frame)
            if why:
                self._inside_since = None
                if not self.breach:
                    self._on_breach(why)
            elif self.breach:
                # Re-arm the alert only after the drone has been back inside for a while, so GPS
                # jitter along the fence line does not flood the alert queue.
                now = time.monotonic()
                if self._inside_since is None:
                    self._inside_since = now
                elif now - self._inside_since > BREACH_CLEAR_S:
                    self.breach = ""

    def _on_breach(self, why: str) -> None:
        if self.breach:
            return
        self.breach = why
        self._inside_since = None
        if not self.fence_on_board and not self.blocked:
            # Nobody on board acts on the fence: the service brings the drone home itself.
            self._spawn(self._failsafe_rtl(f"geofence breach: {why}"))
        s = self.link.state if self.link else None
        attrs = {"reason": why}
        self._event(
            "drone_geofence_breach",
            f"drone {self.drone.drone_id} breached its geofence: {why}",
            attrs,
            location=common_pb2.GeoPoint(latitude=s.lat, longitude=s.lon, altitude_m=s.alt_msl)
            if s
            else None,
        )

    async def _failsafe_rtl(self, reason: str) -> None:
        try:
            async with self._cmd_lock:
                if self.blocked or self.link is None:
                    return
                self._commanded_mode = RTL
                await self.link.set_mode(RTL)
            if self.mission is not None:
                self._set_state(MS.MISSION_STATE_RETURNING, f"returning to launch: {reason}")
        except LinkError as exc:
            log.error(
                "drone %s: failsafe RTL not accepted: %s",
                self.drone.drone_id,
                exc,
                extra={"agency": self.drone.agency_id},
            )
            self._battery_rtl = False  # try again on the next sample
