"""The controller of one drone: its link, telemetry, mission state machine and controls.

The autopilot stays in charge of flying; this controller tells it what to fly (the mission items
are ``kuzet.drone.mavlink.mission``'s), configures its own failsafes, and adds the platform's:
return on the battery reserve and geofence breach alerts (``kuzet.drone.failsafes``),
operator-visible link loss, and the emergency-stop command block.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, cast

from pymavlink.dialects.v20 import ardupilotmega as mav

from kuzet.common.errors import FailedPrecondition, Unavailable
from kuzet.common.events import new_event
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import common_pb2
from kuzet.drone import geo, planning
from kuzet.drone.failsafes import Failsafes
from kuzet.drone.flighttrack import Track
from kuzet.drone.hub import TelemetryHub
from kuzet.drone.mavlink.autopilot import AUTO, HOLD, LAND, RTL
from kuzet.drone.mavlink.link import DroneLink, LinkError
from kuzet.drone.mavlink.mission import fence_items, first_waypoint_seq, mission_items, upload_with_retries
from kuzet.drone.v1 import drone_pb2

log = logging.getLogger(__name__)

MS = drone_pb2.MissionState
LS = drone_pb2.LinkState
FM = drone_pb2.FlightMode
ACTIVE = (
    MS.MISSION_STATE_UPLOADING,
    MS.MISSION_STATE_LAUNCHING,
    MS.MISSION_STATE_IN_PROGRESS,
    MS.MISSION_STATE_PAUSED,
    MS.MISSION_STATE_RETURNING,
    MS.MISSION_STATE_LANDING,
)
FLYING = ACTIVE[1:]

# Telemetry the service asks each vehicle for (Hz). Position drives the console's 10 Hz and
# already carries heading and velocity, so VFR_HUD and BATTERY_STATUS (a repeat of SYS_STATUS's
# battery) are kept slow: every message costs parsing time across hundreds of links.
STREAMS = {
    mav.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: None,  # the configured telemetry rate
    mav.MAVLINK_MSG_ID_SYS_STATUS: 1.0,
    mav.MAVLINK_MSG_ID_GPS_RAW_INT: 1.0,
    mav.MAVLINK_MSG_ID_MISSION_CURRENT: 1.0,
    mav.MAVLINK_MSG_ID_VFR_HUD: 0.5,
    mav.MAVLINK_MSG_ID_BATTERY_STATUS: 0.2,
}

Publish = Callable[[common_pb2.Event], None]


def _source(drone: drone_pb2.Drone) -> common_pb2.Source:
    return common_pb2.Source(
        kind=common_pb2.SOURCE_KIND_DRONE, id=drone.drone_id, name=drone.name or drone.drone_id
    )


class DroneController(Failsafes):
    def __init__(
        self,
        drone: drone_pb2.Drone,
        hub: TelemetryHub,
        publish_event: Publish,
        save_mission: Callable[[drone_pb2.Mission], None],
        *,
        telemetry_hz: float = 10.0,
        controller_id: str = "",
    ) -> None:
        self.drone = drone
        self.hub = hub
        self.publish_event = publish_event
        self.save_mission = save_mission
        self.telemetry_hz = telemetry_hz
        self.controller_id = controller_id
        self.link: DroneLink | None = None
        self.link_state = LS.LINK_STATE_CLOSED
        self.mission: drone_pb2.Mission | None = None
        # The positions flown by the mission this controller dispatched (not one it took over).
        self.track: Track | None = None
        self.blocked = False
        self.blocked_reason = ""
        self.zones: Sequence[drone_pb2.Zone] = []
        self.frame = geo.LocalFrame(drone.home.latitude, drone.home.longitude)
        self.breach = ""
        self._battery_rtl = False
        self._commanded_mode: str | None = None
        self._cmd_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_mode = -1
        self._last_armed = False
        self._streams_requested_at = 0.0
        self._lost_in_flight = False
        self._inside_since: float | None = None
        self._gcs_heartbeat_at = 0.0
        self.samples = 0

    # ----- link lifecycle -----------------------------------------------------------------

    async def open(self) -> None:
        self.link = DroneLink(
            self.drone.link_url,
            self.drone.system_id,
            self.drone.component_id or 1,
            on_message=self._on_message,
        )
        await self.link.open()
        self.link_state = LS.LINK_STATE_CONNECTING
        self.link.send_heartbeat()

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        if self.link is not None:
            await self.link.close()
        self.link = None
        self.link_state = LS.LINK_STATE_CLOSED
        self._publish()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def timeout_s(self) -> float:
        return self.drone.limits.link_loss_timeout_s

    def supervise(self, now: float) -> None:
        """Called about twice a second: GCS heartbeat out, link-loss detection in."""
        link = self.link
        if link is None:
            return
        if now - self._gcs_heartbeat_at >= 1.0:  # MAVLink GCS heartbeat: 1 Hz
            self._gcs_heartbeat_at = now
            link.send_heartbeat()
        last = link.state.last_heartbeat
        if self.link_state == LS.LINK_STATE_UP and now - last > self.timeout_s:
            self.link_state = LS.LINK_STATE_LOST
            flying = link.state.armed or (self.mission is not None and self.mission.state in FLYING)
            log.warning(
                "link to drone %s lost (%.1fs without heartbeat)",
                self.drone.drone_id,
                now - last,
                extra={"agency": self.drone.agency_id},
            )
            if flying:
                self._lost_in_flight = True
                self._event(
                    "drone_link_lost",
                    f"link to drone {self.drone.drone_id} lost for {now - last:.0f}s; the autopilot's "
                    f"link-loss failsafe returns it after {self.timeout_s:.0f}s",
                    {"seconds_without_heartbeat": round(now - last, 1)},
                )
            self._publish()
        elif self.link_state == LS.LINK_STATE_UP and now - self._streams_requested_at > 30:
            # Re-assert stream rates now and then: an autopilot reboot resets them silently.
            self._streams_requested_at = now
            self._spawn(self._request_streams())

    def _link_up(self) -> None:
        was = self.link_state
        self.link_state = LS.LINK_STATE_UP
        self._streams_requested_at = time.monotonic()
        self._spawn(self._request_streams())
        if was == LS.LINK_STATE_LOST:
            log.info("link to drone %s back", self.drone.drone_id, extra={"agency": self.drone.agency_id})
            if self.mission is not None and self.mission.state in FLYING:
                self._event(
                    "drone_link_lost", f"link to drone {self.drone.drone_id} is back", {}, resolves=True
                )
        self._publish()

    async def _request_streams(self) -> None:
        link = self.link
        if link is None:
            return
        if link.state.capabilities is None:
            # What the autopilot can do (MISSION_FENCE above all) decides whether it gets a fence.
            # Older autopilots do not answer: the profile's defaults stand.
            with contextlib.suppress(LinkError):
                await link.command(
                    mav.MAV_CMD_REQUEST_MESSAGE, mav.MAVLINK_MSG_ID_AUTOPILOT_VERSION, retries=1
                )
        for msg_id, hz in STREAMS.items():
            try:
                await link.set_message_interval(msg_id, hz or self.telemetry_hz)
            except LinkError as exc:
                log.info(
                    "drone %s: stream %d not set: %s",
                    self.drone.drone_id,
                    msg_id,
                    exc,
                    extra={"agency": self.drone.agency_id},
                )

    # ----- incoming -----------------------------------------------------------------------

    def _on_message(self, link: DroneLink, msg: Any) -> None:
        t = msg.get_type()
        if t == "GLOBAL_POSITION_INT":
            self.samples += 1
            self._record_position(link)
            self._check_flight()
            self._publish()
        elif t == "HEARTBEAT":
            if self.link_state != LS.LINK_STATE_UP and link.state.last_heartbeat:
                self._link_up()
            s = link.state
            if s.custom_mode != self._last_mode or s.armed != self._last_armed:
                self._last_mode, self._last_armed = s.custom_mode, s.armed
                self._on_mode_change()
                self._publish()
        elif t in ("MISSION_ITEM_REACHED", "MISSION_CURRENT"):
            self._on_progress()
        elif t == "FENCE_STATUS" and msg.breach_status:
            self._on_breach("the autopilot reports a fence breach")

    def _record_position(self, link: DroneLink) -> None:
        m, track, s = self.mission, self.track, link.state
        if m is not None and track is not None and m.state in FLYING and s.have_position:
            track.add(time.time(), s.lat, s.lon, s.rel_alt)

    @property
    def first_wp_seq(self) -> int:
        """Mission seq of the plan's first waypoint (``mission.first_waypoint_seq``)."""
        return first_waypoint_seq(self.link is not None and self.link.state.autopilot.home_is_item_zero)

    @property
    def n_waypoints(self) -> int:
        # Derived from the mission so that a restarted service follows a flight already under way.
        return self.mission.progress.total if self.mission is not None else 0

    def _plan_index(self, seq: int) -> int:
        return max(-1, min(self.n_waypoints - 1, seq - self.first_wp_seq))

    def _on_progress(self) -> None:
        m, link = self.mission, self.link
        if m is None or link is None or m.state not in FLYING:
            return
        cur = self._plan_index(link.state.mission_current)
        reached = (
            self._plan_index(link.state.mission_reached)
            if link.state.mission_reached >= self.first_wp_seq
            else -1
        )
        if cur != m.progress.current_seq or reached != m.progress.reached_seq:
            m.progress.current_seq = max(cur, 0)
            m.progress.reached_seq = max(reached, m.progress.reached_seq)
            if (
                m.state == MS.MISSION_STATE_IN_PROGRESS
                and link.state.mission_current >= self.first_wp_seq + self.n_waypoints
            ):
                self._set_state(MS.MISSION_STATE_RETURNING, "patrol flown, returning to launch")

    def _on_mode_change(self) -> None:
        m, link = self.mission, self.link
        if m is None or link is None or m.state not in FLYING:
            return
        s = link.state
        mode, _ = s.autopilot.flight_mode(s.custom_mode)
        if not s.armed:
            if m.state == MS.MISSION_STATE_LAUNCHING:
                return  # still arming
            done = m.progress.reached_seq >= self.n_waypoints - 1
            if not done and self._lost_in_flight and not m.reason:
                m.reason = "landed by the autopilot's link-loss failsafe while the link was lost"
            self._end(
                MS.MISSION_STATE_COMPLETED if done else MS.MISSION_STATE_ABORTED,
                "landed after the patrol" if done else m.reason or "landed before the patrol was flown",
            )
            return
        commanded = self._commanded_mode
        if mode == FM.FLIGHT_MODE_RTL and m.state != MS.MISSION_STATE_RETURNING:
            reason = (
                "pilot"
                if commanded == RTL
                else self._autopilot_reason(
                    "autopilot link-loss failsafe" if self._lost_in_flight else "autopilot failsafe"
                )
            )
            self._set_state(MS.MISSION_STATE_RETURNING, f"returning to launch: {reason}")
        elif mode == FM.FLIGHT_MODE_LAND and m.state != MS.MISSION_STATE_LANDING:
            reason = "pilot" if commanded == LAND else self._autopilot_reason("autopilot failsafe")
            self._set_state(MS.MISSION_STATE_LANDING, f"landing: {reason}")
        elif mode == FM.FLIGHT_MODE_LOITER and m.state == MS.MISSION_STATE_IN_PROGRESS:
            self._set_state(MS.MISSION_STATE_PAUSED, "holding" + ("" if commanded == HOLD else ": autopilot"))
        elif mode == FM.FLIGHT_MODE_AUTO and m.state in (MS.MISSION_STATE_PAUSED, MS.MISSION_STATE_LAUNCHING):
            self._set_state(MS.MISSION_STATE_IN_PROGRESS, "")

    def _autopilot_reason(self, default: str) -> str:
        texts = self.link.state.statustexts if self.link else []
        return texts[-1] if texts else default

    # ----- outgoing -----------------------------------------------------------------------

    def _event(
        self,
        type_: str,
        summary: str,
        attrs: dict[str, Any],
        *,
        resolves: bool = False,
        location: common_pb2.GeoPoint | None = None,
    ) -> None:
        s = self.link.state if self.link else None
        if location is None and s is not None and s.have_position:
            location = common_pb2.GeoPoint(latitude=s.lat, longitude=s.lon, altitude_m=s.alt_msl)
        fields: dict[str, Any] = {"summary": summary}
        if location is not None:
            fields["location"] = location
        if resolves:
            fields["resolves"] = True
        if self.mission is not None:
            attrs = {**attrs, "mission_id": self.mission.mission_id}
        event = new_event(self.drone.agency_id, type_, _source(self.drone), attributes=attrs, **fields)
        try:
            self.publish_event(event)
        except Exception:  # an alert path failure must not stop the failsafe itself
            log.exception(
                "drone %s: could not queue %s event",
                self.drone.drone_id,
                type_,
                extra={"agency": self.drone.agency_id},
            )

    def _set_state(self, state: drone_pb2.MissionState, reason: str) -> None:
        m = self.mission
        if m is None or m.state == state:
            return
        m.state = state
        if reason:
            m.reason = reason
        log.info(
            "drone %s mission %s: %s %s",
            self.drone.drone_id,
            m.mission_id,
            MS.Name(state),
            reason,
            extra={"agency": self.drone.agency_id},
        )
        self.save_mission(drone_pb2.Mission.FromString(m.SerializeToString()))
        self._publish()

    def _end(self, state: drone_pb2.MissionState, reason: str) -> None:
        m = self.mission
        if m is None:
            return
        m.ended_at.CopyFrom(to_timestamp(utcnow()))
        self._commanded_mode = None
        self._set_state(state, reason)

    def telemetry(self) -> drone_pb2.Telemetry:
        d = self.drone
        t = drone_pb2.Telemetry(
            drone_id=d.drone_id,
            agency_id=d.agency_id,
            link_state=self.link_state,
            commands_blocked=self.blocked,
            geofence_breached=bool(self.breach),
        )
        t.time.FromNanoseconds(time.time_ns())  # GetCurrentTime() goes through datetime: slower
        link = self.link
        if link is None:
            return t
        s = link.state
        if s.have_position:
            t.position.latitude, t.position.longitude, t.position.altitude_m = s.lat, s.lon, s.alt_msl
        t.relative_altitude_m = s.rel_alt
        t.heading_deg = s.heading
        t.ground_speed_mps = s.ground_speed
        t.climb_rate_mps = s.climb
        t.battery_pct = s.battery_pct
        t.battery_voltage_v = s.voltage
        t.gps_fix = cast(drone_pb2.GpsFix, s.gps_fix + 1) if s.gps_fix <= 6 else drone_pb2.GPS_FIX_RTK_FIXED
        t.satellites_visible = s.satellites
        if s.custom_mode >= 0:
            mode, name = s.autopilot.flight_mode(s.custom_mode)
            t.mode, t.autopilot_mode = cast(drone_pb2.FlightMode, mode), name
        t.armed = s.armed
        if s.last_heartbeat_wall:
            t.last_heartbeat_at.FromMilliseconds(int(s.last_heartbeat_wall * 1000))
        if s.fence_breached:
            t.geofence_breached = True
        if self.mission is not None:
            t.progress.CopyFrom(self.mission.progress)
        return t

    def _publish(self) -> None:
        if self.hub.has_subscribers(self.drone.drone_id, self.drone.agency_id):
            self.hub.publish(self.drone.drone_id, self.drone.agency_id, self.telemetry())

    # ----- state for the API --------------------------------------------------------------

    def not_ready(self) -> list[str]:
        """Why a new dispatch cannot start now (empty when it can)."""
        reasons = []
        if self.blocked:
            reasons.append(f"commands are blocked: {self.blocked_reason}")
        link = self.link
        if link is None or self.link_state != LS.LINK_STATE_UP:
            state = LS.Name(self.link_state).removeprefix("LINK_STATE_").lower()
            reasons.append(f"link to the drone is {state}")
            return reasons
        s = link.state
        if s.armed:
            reasons.append("the drone is armed (flying)")
        if self.mission is not None and self.mission.state in ACTIVE:
            reasons.append(f"mission {self.mission.mission_id} is still {MS.Name(self.mission.state)}")
        if s.gps_fix < mav.GPS_FIX_TYPE_3D_FIX:
            reasons.append("no 3D GPS fix")
        if s.battery_pct < 0:
            reasons.append("battery level unknown")
        return reasons

    def battery(self) -> float | None:
        if self.link is None or self.link.state.battery_pct < 0:
            return None
        return self.link.state.battery_pct

    def available(self) -> bool:
        b = self.battery()
        return not self.not_ready() and b is not None and b >= self.drone.limits.min_launch_battery_pct

    def state(self) -> drone_pb2.DroneState:
        st = drone_pb2.DroneState(
            drone=self.drone,
            telemetry=self.telemetry(),
            commands_blocked=self.blocked,
            blocked_reason=self.blocked_reason,
            controller=self.controller_id,
            available=self.available(),
        )
        if self.mission is not None:
            st.mission.CopyFrom(self.mission)
        return st

    # ----- dispatch and controls ----------------------------------------------------------

    def _require_link(self) -> DroneLink:
        if self.link is None or self.link_state != LS.LINK_STATE_UP:
            raise Unavailable(
                f"no link to drone {self.drone.drone_id} "
                f"({LS.Name(self.link_state).removeprefix('LINK_STATE_').lower()})"
            )
        return self.link

    def _require_unblocked(self) -> None:
        if self.blocked:
            raise FailedPrecondition(
                f"commands to drone {self.drone.drone_id} are blocked: {self.blocked_reason}; "
                "a pilot must re-enable them"
            )

    async def dispatch(self, plan: drone_pb2.PatrolPlan, pilot: str) -> drone_pb2.Mission:
        self._require_unblocked()
        async with self._cmd_lock:
            self._require_unblocked()
            link = self._require_link()
            problems = self.not_ready()
            if problems:
                raise FailedPrecondition(f"drone {self.drone.drone_id} is not ready: " + "; ".join(problems))
            battery = self.battery()
            limits = self.drone.limits
            assert battery is not None
            if battery < limits.min_launch_battery_pct:
                raise FailedPrecondition(
                    f"battery {battery:.0f}% is below the launch minimum {limits.min_launch_battery_pct:.0f}%"
                )
            if battery - plan.estimated_battery_pct < limits.return_reserve_pct:
                raise FailedPrecondition(
                    f"battery {battery:.0f}% is not enough for this plan (needs "
                    f"{plan.estimated_battery_pct:.0f}% + {limits.return_reserve_pct:.0f}% reserve)"
                )
            frame = self.frame
            route = [frame.to_xy(w.latitude, w.longitude) for w in plan.waypoints]
            now_violations = planning.check_route(route, plan.altitude_m, self.drone, self.zones, frame)
            if now_violations:
                raise FailedPrecondition(
                    "the plan no longer passes its checks: " + "; ".join(v.message for v in now_violations)
                )
            mission = drone_pb2.Mission(
                mission_id=str(uuid.uuid4()),
                plan_id=plan.plan_id,
                drone_id=self.drone.drone_id,
                agency_id=self.drone.agency_id,
                state=MS.MISSION_STATE_UPLOADING,
                dispatched_by=pilot,
                dispatched_at=to_timestamp(utcnow()),
                alert_id=plan.alert_id,
            )
            mission.progress.total = len(plan.waypoints)
            mission.progress.reached_seq = -1
            self.mission = mission
            self.track = Track(mission.mission_id)
            self._battery_rtl = False
            self._lost_in_flight = False
            self._commanded_mode = None
            self.save_mission(drone_pb2.Mission.FromString(mission.SerializeToString()))
            self._publish()
            armed = False
            try:
                await self._configure_failsafes(link, plan)
                ap = link.state.autopilot
                d = self.drone
                if self.fence_on_board:
                    fence = fence_items(link, self.zones)
                    await upload_with_retries(
                        link, fence, mav.MAV_MISSION_TYPE_FENCE, drone_id=d.drone_id, agency_id=d.agency_id
                    )
                items = mission_items(link, plan, d.home)
                await upload_with_retries(
                    link, items, mav.MAV_MISSION_TYPE_MISSION, drone_id=d.drone_id, agency_id=d.agency_id
                )
                self._set_state(MS.MISSION_STATE_LAUNCHING, "")
                if ap.takeoff_mode is not None:
                    await link.set_mode(ap.takeoff_mode)
                await link.command(mav.MAV_CMD_COMPONENT_ARM_DISARM, 1)
                # The accepted ACK is news before the next 1 Hz heartbeat says so.
                link.state.armed = armed = True
                await link.command(mav.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, plan.altitude_m)
                self._commanded_mode = AUTO
                if ap.start_with_command:
                    await link.command(mav.MAV_CMD_MISSION_START, 0, 0)
                else:
                    await link.set_mode(AUTO)
            except LinkError as exc:
                if armed and self.link is not None and not self.link.state.armed:
                    armed = False
                if armed:
                    # Airborne or about to be: never leave it without a plan. Bring it home.
                    with contextlib.suppress(LinkError):
                        await link.set_mode(RTL)
                self._end(MS.MISSION_STATE_ABORTED, f"dispatch failed: {exc}")
                raise FailedPrecondition(f"dispatch of drone {self.drone.drone_id} failed: {exc}") from None
            self._set_state(MS.MISSION_STATE_IN_PROGRESS, "")
            return drone_pb2.Mission.FromString(mission.SerializeToString())

    async def control(self, action: int, actor: str, reason: str) -> None:
        CA = drone_pb2.ControlAction
        if action == CA.CONTROL_ACTION_EMERGENCY_STOP:
            await self.emergency_stop(actor, reason)
            return
        self._require_unblocked()
        async with self._cmd_lock:
            self._require_unblocked()
            link = self._require_link()
            m = self.mission
            try:
                if action == CA.CONTROL_ACTION_HOLD:
                    self._commanded_mode = HOLD
                    await link.set_mode(HOLD)
                    self._set_state(MS.MISSION_STATE_PAUSED, f"held by {actor}")
                elif action == CA.CONTROL_ACTION_RESUME:
                    if m is None or m.state != MS.MISSION_STATE_PAUSED:
                        raise FailedPrecondition("there is no held mission to resume")
                    self._commanded_mode = AUTO
                    await link.set_mode(AUTO)
                    self._set_state(MS.MISSION_STATE_IN_PROGRESS, "")
                elif action == CA.CONTROL_ACTION_RETURN_TO_LAUNCH:
                    self._commanded_mode = RTL
                    await link.set_mode(RTL)
                    self._set_state(MS.MISSION_STATE_RETURNING, f"returning to launch: {actor}")
                elif action == CA.CONTROL_ACTION_LAND:
                    self._commanded_mode = LAND
                    await link.set_mode(LAND)
                    self._set_state(MS.MISSION_STATE_LANDING, f"landing: {actor}")
                else:
                    raise FailedPrecondition("unknown control action")
            except LinkError as exc:
                raise FailedPrecondition(f"drone {self.drone.drone_id} refused: {exc}") from None

    async def emergency_stop(self, actor: str, reason: str) -> None:
        # Block first: nothing (pilot, failsafe, queued dispatch) may command it after this.
        self.blocked = True
        self.blocked_reason = f"emergency stop by {actor}" + (f": {reason}" if reason else "")
        self._publish()
        link = self._require_link()
        try:
            await link.command(mav.MAV_CMD_COMPONENT_ARM_DISARM, 0, 21196, wait_s=0.5, retries=5)
            link.state.armed = False
        except LinkError as exc:
            raise Unavailable(
                f"emergency stop not confirmed by drone {self.drone.drone_id}: {exc}; commands stay blocked"
            ) from None
        finally:
            if self.mission is not None and self.mission.state in ACTIVE:
                self._end(MS.MISSION_STATE_ABORTED, self.blocked_reason)

    def reenable(self, actor: str, reason: str) -> None:
        if not self.blocked:
            raise FailedPrecondition(f"commands to drone {self.drone.drone_id} are not blocked")
        log.warning(
            "drone %s: commands re-enabled by %s (%s)",
            self.drone.drone_id,
            actor,
            reason,
            extra={"agency": self.drone.agency_id},
        )
        self.blocked = False
        self.blocked_reason = ""
        self._publish()
