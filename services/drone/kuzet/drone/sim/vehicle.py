"""One simulated vehicle: ArduCopter's MAVLink behaviour over simple kinematics.

What it follows (ArduPilot Copter 4.x documentation and the MAVLink spec):
- HEARTBEAT at 1 Hz (MAV_TYPE_QUADROTOR, MAV_AUTOPILOT_ARDUPILOTMEGA, custom_mode = Copter mode
  number, base_mode with CUSTOM_MODE_ENABLED and SAFETY_ARMED).
- Telemetry streams with default rates, changed by MAV_CMD_SET_MESSAGE_INTERVAL and sent once by
  MAV_CMD_REQUEST_MESSAGE: SYS_STATUS, BATTERY_STATUS, GLOBAL_POSITION_INT, GPS_RAW_INT, VFR_HUD,
  MISSION_CURRENT; MISSION_ITEM_REACHED when a waypoint is reached; FENCE_STATUS on breach.
- Mission protocol (vehicle side of an upload): MISSION_COUNT -> MISSION_REQUEST_INT (re-sent on
  timeout) -> MISSION_ITEM_INT -> MISSION_ACK; the final ACK is repeated if the last item comes
  again; mission_type MISSION and FENCE; download (MISSION_REQUEST_LIST) and MISSION_CLEAR_ALL.
  Mission item 0 is home, as on ArduPilot; AUTO starts at item 1.
- COMMAND_LONG / COMMAND_INT answered with COMMAND_ACK: ARM/DISARM (pre-arm checks with a
  "PreArm: ..." STATUSTEXT; force disarm with param2 = 21196), NAV_TAKEOFF (GUIDED, armed, on the
  ground), DO_SET_MODE, MISSION_START, DO_PAUSE_CONTINUE, NAV_RETURN_TO_LAUNCH, NAV_LAND; the
  legacy SET_MODE message.
- Parameters: PARAM_SET / PARAM_REQUEST_READ / PARAM_REQUEST_LIST -> PARAM_VALUE, including
  FS_GCS_ENABLE / FS_GCS_TIMEOUT (GCS heartbeat loss -> RTL or LAND), FENCE_ENABLE /
  FENCE_ACTION / FENCE_ALT_MAX, BATT_LOW_VOLT-style battery failsafe via BATT_FS_LOW_ACT with
  BATT_LOW_PCT (a simplification: ArduPilot uses voltage or mAh), RTL_ALT, WPNAV_SPEED.
- Auto-disarm on landing in AUTO, RTL and LAND.

Time: kinematics and battery run `speedup` times faster than the wall clock so tests are fast;
everything about the link (stream rates, protocol and failsafe timeouts) stays in wall time,
because that is what the ground station sees.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mav

from kuzet.common.geometry import point_in_polygon
from kuzet.drone.geo import LocalFrame

# ArduCopter flight mode numbers (custom_mode).
STABILIZE, ALT_HOLD, AUTO, GUIDED, LOITER, RTL, LAND, BRAKE = 0, 2, 3, 4, 5, 6, 9, 17
MODE_NAMES = {
    STABILIZE: "STABILIZE",
    ALT_HOLD: "ALT_HOLD",
    AUTO: "AUTO",
    GUIDED: "GUIDED",
    LOITER: "LOITER",
    RTL: "RTL",
    LAND: "LAND",
    BRAKE: "BRAKE",
}
FORCE_DISARM_MAGIC = 21196
# Seconds (wall) the vehicle waits for the next item before re-requesting it, and how many times.
MISSION_ITEM_TIMEOUT_S = 0.5
MISSION_ITEM_RETRIES = 8

DEFAULT_PARAMS: dict[str, float] = {
    "FS_GCS_ENABLE": 0.0,  # ArduCopter default: GCS failsafe disabled
    "FS_GCS_TIMEOUT": 5.0,
    "FENCE_ENABLE": 0.0,
    "FENCE_ACTION": 1.0,  # RTL or land
    "FENCE_ALT_MAX": 100.0,
    "FENCE_TYPE": 7.0,
    "BATT_FS_LOW_ACT": 0.0,
    "BATT_LOW_PCT": 0.0,
    "RTL_ALT": 1500.0,  # centimetres, as ArduCopter
    "WPNAV_SPEED": 500.0,  # cm/s
    "WPNAV_SPEED_UP": 250.0,
    "WPNAV_SPEED_DN": 150.0,
    "LAND_SPEED": 50.0,
    "WPNAV_RADIUS": 200.0,
    "SYSID_MYGCS": 255.0,
}

# Default stream intervals (seconds) before a GCS asks for others.
DEFAULT_STREAMS: dict[int, float] = {
    mav.MAVLINK_MSG_ID_SYS_STATUS: 1.0,
    mav.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: 0.5,
    mav.MAVLINK_MSG_ID_GPS_RAW_INT: 1.0,
    mav.MAVLINK_MSG_ID_VFR_HUD: 0.5,
    mav.MAVLINK_MSG_ID_MISSION_CURRENT: 1.0,
    mav.MAVLINK_MSG_ID_BATTERY_STATUS: 1.0,
}


@dataclass
class VehicleConfig:
    system_id: int
    home_lat: float
    home_lon: float
    home_alt_msl: float = 0.0
    component_id: int = 1
    battery_pct: float = 100.0
    # Flight time on a full battery, simulated seconds.
    endurance_s: float = 1500.0
    speedup: float = 1.0
    gps_fix: int = mav.GPS_FIX_TYPE_3D_FIX
    satellites: int = 14
    seed: int = 0


@dataclass
class DropRule:
    """Drop messages matching a type (and predicate), `count` times (None: forever)."""

    direction: str  # "in" (to the vehicle) or "out" (from it)
    msg_type: str | None = None
    count: int | None = 1
    predicate: Callable[[Any], bool] | None = None
    probability: float = 1.0
    dropped: int = 0

    def matches(self, msg: Any, rng: random.Random) -> bool:
        if self.count is not None and self.dropped >= self.count:
            return False
        if self.msg_type is not None and msg.get_type() != self.msg_type:
            return False
        if self.predicate is not None and not self.predicate(msg):
            return False
        if self.probability < 1.0 and rng.random() >= self.probability:
            return False
        self.dropped += 1
        return True


@dataclass
class _Upload:
    mission_type: int
    count: int
    items: list[Any] = field(default_factory=list)
    last_request_at: float = 0.0
    retries: int = 0


class SimVehicle:
    """Vehicle state and behaviour; the host owns its socket and clock."""

    def __init__(self, config: VehicleConfig, send_bytes: Callable[[bytes], None]) -> None:
        self.config = config
        self._send_bytes = send_bytes
        self.frame = LocalFrame(config.home_lat, config.home_lon)
        self.mav = mav.MAVLink(self, config.system_id, config.component_id)
        self.mav.robust_parsing = True
        self.rng = random.Random(config.seed or config.system_id)
        self.lock = threading.RLock()
        self.boot = time.monotonic()
        self.params: dict[str, float] = dict(DEFAULT_PARAMS)
        self.streams: dict[int, float] = dict(DEFAULT_STREAMS)
        self.next_due: dict[int, float] = {}
        self.drop_rules: list[DropRule] = []
        self.link_up = True
        self.gcs_seen_at: float | None = None
        self.gcs_failsafe = False
        self.statustexts: list[str] = []
        # Kinematic state, ENU metres relative to home.
        self.x = self.y = self.z = 0.0
        self.vx = self.vy = self.vz = 0.0
        self.heading = 0.0
        self.armed = False
        self.landed = True
        self.crashed = False
        self.mode = STABILIZE
        self.battery = config.battery_pct
        self.battery_fs = False
        self.mission: list[Any] = []
        self.fence: list[Any] = []
        self.current_seq = 0
        self.reached_seq = -1
        self.hold_until: float | None = None
        self.paused = False
        self.takeoff_alt: float | None = None
        self.speed_override: float | None = None
        self.fence_breached = False
        self.fence_breach_count = 0
        self.upload: _Upload | None = None
        self.heartbeats_sent = 0
        self.positions_sent = 0
        self.messages_in = 0
        self.wake = 0.0  # wall time of the next telemetry due (the host skips the vehicle before)
        self._producer_table = self._producers()

    # ----- byte I/O -----------------------------------------------------------------------

    def write(self, data: bytes) -> None:  # pymavlink's MAVLink object writes here
        if self.link_up:
            self._send_bytes(data)

    def send(self, msg: Any) -> None:
        if not self.link_up:
            return
        for rule in self.drop_rules:
            if rule.direction == "out" and rule.matches(msg, self.rng):
                return
        self.mav.send(msg)

    def receive(self, data: bytes) -> None:
        if not self.link_up:
            return
        try:
            msgs = self.mav.parse_buffer(data) or []
        except mav.MAVError:
            return
        for msg in msgs:
            if msg.get_type() == "BAD_DATA":
                continue
            if any(r.direction == "in" and r.matches(msg, self.rng) for r in self.drop_rules):
                continue
            self.messages_in += 1
            with self.lock:
                self._handle(msg)

    # ----- helpers ------------------------------------------------------------------------

    def now_wall(self) -> float:
        return time.monotonic()

    def time_boot_ms(self) -> int:
        return int((time.monotonic() - self.boot) * 1000) & 0xFFFFFFFF

    def latlon(self) -> tuple[float, float]:
        return self.frame.to_latlon(self.x, self.y)

    def text(self, severity: int, s: str) -> None:
        self.statustexts.append(s)
        self.send(self.mav.statustext_encode(severity, s.encode()[:50]))

    def _ack(self, command: int, result: int) -> None:
        self.send(self.mav.command_ack_encode(command, result))

    def _for_me(self, msg: Any) -> bool:
        ts = getattr(msg, "target_system", 0)
        tc = getattr(msg, "target_component", 0)
        return ts in (0, self.config.system_id) and tc in (0, self.config.component_id)

    def _set_mode(self, mode: int) -> bool:
        if mode not in MODE_NAMES:
            return False
        if mode == AUTO and len(self.mission) <= 1:
            self.text(mav.MAV_SEVERITY_WARNING, "Mode change failed: no mission")
            return False
        if mode == AUTO and self.mode != AUTO and not self.landed:
            # Re-entering AUTO continues the current item (MIS_RESTART=0).
            self.current_seq = max(self.current_seq, 1)
        self.mode = mode
        self.paused = False
        self.hold_until = None
        if mode in (RTL, LAND, LOITER, BRAKE):
            self.takeoff_alt = None
        return True

    # ----- message handling ---------------------------------------------------------------

    def _handle(self, msg: Any) -> None:
        t = msg.get_type()
        if t == "HEARTBEAT":
            if msg.type == mav.MAV_TYPE_GCS:
                self.gcs_seen_at = self.now_wall()
            return
        if not self._for_me(msg):
            return
        handler = getattr(self, "_on_" + t.lower(), None)
        if handler is not None:
            handler(msg)

    def _on_param_set(self, msg: Any) -> None:
        name = msg.param_id if isinstance(msg.param_id, str) else msg.param_id.decode()
        name = name.rstrip("\x00")
        if name in self.params:
            self.params[name] = float(msg.param_value)
            self._send_param(name)
        # ArduPilot silently ignores unknown names on PARAM_SET.

    def _on_param_request_read(self, msg: Any) -> None:
        name = msg.param_id if isinstance(msg.param_id, str) else msg.param_id.decode()
        name = name.rstrip("\x00")
        names = list(self.params)
        if msg.param_index >= 0 and msg.param_index < len(names):
            name = names[msg.param_index]
        if name in self.params:
            self._send_param(name)

    def _on_param_request_list(self, msg: Any) -> None:
        for name in self.params:
            self._send_param(name)

    def _send_param(self, name: str) -> None:
        names = list(self.params)
        self.send(
            self.mav.param_value_encode(
                name.encode(), self.params[name], mav.MAV_PARAM_TYPE_REAL32, len(names), names.index(name)
            )
        )

    def _on_set_mode(self, msg: Any) -> None:
        if msg.base_mode & mav.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED:
            self._set_mode(int(msg.custom_mode))

    def _on_command_long(self, msg: Any) -> None:
        p = [msg.param1, msg.param2, msg.param3, msg.param4, msg.param5, msg.param6, msg.param7]
        self._ack(msg.command, self._command(msg.command, p))

    def _on_command_int(self, msg: Any) -> None:
        p = [msg.param1, msg.param2, msg.param3, msg.param4, msg.x / 1e7, msg.y / 1e7, msg.z]
        self._ack(msg.command, self._command(msg.command, p))

    def _command(self, cmd: int, p: list[float]) -> int:
        ok, failed, denied = mav.MAV_RESULT_ACCEPTED, mav.MAV_RESULT_FAILED, mav.MAV_RESULT_DENIED
        if cmd == mav.MAV_CMD_COMPONENT_ARM_DISARM:
            if p[0] >= 0.5:
                if self.armed:
                    return ok
                reason = self._prearm_failure()
                if reason:
                    self.text(mav.MAV_SEVERITY_CRITICAL, "PreArm: " + reason)
                    return failed
                self.armed = True
                self.battery_fs = False
                self.gcs_failsafe = False
                return ok
            if not self.armed:
                return ok
            if not self.landed and int(p[1]) != FORCE_DISARM_MAGIC:
                return denied  # ArduCopter refuses to disarm in flight unless forced
            self._disarm(in_flight=not self.landed)
            return ok
        if cmd == mav.MAV_CMD_NAV_TAKEOFF:
            if self.mode != GUIDED or not self.armed or not self.landed:
                return failed
            alt = p[6]
            if alt <= 0:
                return denied
            self.takeoff_alt = alt
            self.landed = False
            return ok
        if cmd == mav.MAV_CMD_DO_SET_MODE:
            if int(p[0]) & mav.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED == 0:
                return denied
            return ok if self._set_mode(int(p[1])) else failed
        if cmd == mav.MAV_CMD_MISSION_START:
            if not self.armed or len(self.mission) <= 1:
                return failed
            if not self._set_mode(AUTO):
                return failed
            self.current_seq = max(1, int(p[0]))
            self.send(self.mav.mission_current_encode(self.current_seq))
            if self.landed:
                self.landed = False
            return ok
        if cmd == mav.MAV_CMD_DO_PAUSE_CONTINUE:
            if self.mode != AUTO:
                return failed
            self.paused = p[0] < 0.5
            return ok
        if cmd == mav.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            return ok if self._set_mode(RTL) else failed
        if cmd == mav.MAV_CMD_NAV_LAND:
            return ok if self._set_mode(LAND) else failed
        if cmd == mav.MAV_CMD_SET_MESSAGE_INTERVAL:
            msg_id, interval_us = int(p[0]), p[1]
            if interval_us < 0:
                self.streams.pop(msg_id, None)
            elif interval_us == 0:
                if msg_id in DEFAULT_STREAMS:
                    self.streams[msg_id] = DEFAULT_STREAMS[msg_id]
            else:
                if msg_id not in self._producer_table:
                    return mav.MAV_RESULT_UNSUPPORTED
                self.streams[msg_id] = interval_us / 1e6
            self.next_due.pop(msg_id, None)
            self.wake = 0.0
            return ok
        if cmd == mav.MAV_CMD_REQUEST_MESSAGE:
            producer = self._producer_table.get(int(p[0]))
            if producer is None:
                return mav.MAV_RESULT_UNSUPPORTED
            self.send(producer())
            return ok
        if cmd == mav.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES:
            self.send(self._version())
            return ok
        return mav.MAV_RESULT_UNSUPPORTED

    def _prearm_failure(self) -> str | None:
        if self.crashed:
            return "Crash detected"
        if self.config.gps_fix < mav.GPS_FIX_TYPE_3D_FIX:
            return "Need 3D Fix"
        if self.mode in (AUTO, RTL, LAND):
            return "Mode not armable"
        if self.battery < 5.0:
            return "Battery below minimum arming capacity"
        if self.params["FENCE_ENABLE"] >= 1:
            incl = self._fence_polygons(mav.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION)
            if incl and not any(point_in_polygon((self.x, self.y), poly) for poly in incl):
                return "Vehicle breaching fence"
        return None

    def _disarm(self, in_flight: bool) -> None:
        self.armed = False
        self.takeoff_alt = None
        self.vx = self.vy = self.vz = 0.0
        if in_flight and self.z > 0.5:
            # Motors stopped in the air: the vehicle falls. Treat it as a crash at the spot.
            self.crashed = True
            self.z = 0.0
        self.landed = True

    # ----- mission protocol (vehicle side) ------------------------------------------------

    def _on_mission_count(self, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", 0)
        if mtype not in (mav.MAV_MISSION_TYPE_MISSION, mav.MAV_MISSION_TYPE_FENCE):
            self.send(
                self.mav.mission_ack_encode(
                    msg.get_srcSystem(), msg.get_srcComponent(), mav.MAV_MISSION_UNSUPPORTED, mtype
                )
            )
            return
        if msg.count == 0:
            self._store(mtype, [])
            self._mission_ack(msg, mav.MAV_MISSION_ACCEPTED, mtype)
            return
        self.upload = _Upload(mtype, msg.count)
        self._request_next(msg.get_srcSystem(), msg.get_srcComponent())

    def _request_next(self, sysid: int, compid: int) -> None:
        up = self.upload
        if up is None:
            return
        seq = len(up.items)
        self.send(self.mav.mission_request_int_encode(sysid, compid, seq, up.mission_type))
        up.last_request_at = self.now_wall()
        self._upload_peer = (sysid, compid)

    def _on_mission_item_int(self, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", 0)
        up = self.upload
        if up is None or up.mission_type != mtype:
            # The GCS did not hear our final ACK and sent the last item again: repeat the ACK.
            stored = self.mission if mtype == mav.MAV_MISSION_TYPE_MISSION else self.fence
            if stored and msg.seq == len(stored) - 1:
                self._mission_ack(msg, mav.MAV_MISSION_ACCEPTED, mtype)
            return
        if msg.seq != len(up.items):
            return  # out of sequence: the pending request (or its re-send) asks again
        up.items.append(msg)
        up.retries = 0
        if len(up.items) == up.count:
            self.upload = None
            self._store(mtype, up.items)
            self._mission_ack(msg, mav.MAV_MISSION_ACCEPTED, mtype)
        else:
            self._request_next(msg.get_srcSystem(), msg.get_srcComponent())

    def _store(self, mtype: int, items: list[Any]) -> None:
        if mtype == mav.MAV_MISSION_TYPE_FENCE:
            self.fence = list(items)
            return
        self.mission = list(items)
        self.current_seq = 0 if not self.armed else min(self.current_seq, max(0, len(items) - 1))
        self.reached_seq = -1

    def _mission_ack(self, msg: Any, result: int, mtype: int) -> None:
        self.send(self.mav.mission_ack_encode(msg.get_srcSystem(), msg.get_srcComponent(), result, mtype))

    def _on_mission_request_list(self, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", 0)
        items = self.mission if mtype == mav.MAV_MISSION_TYPE_MISSION else self.fence
        self.send(
            self.mav.mission_count_encode(msg.get_srcSystem(), msg.get_srcComponent(), len(items), mtype)
        )

    def _on_mission_request_int(self, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", 0)
        items = self.mission if mtype == mav.MAV_MISSION_TYPE_MISSION else self.fence
        if 0 <= msg.seq < len(items):
            it = items[msg.seq]
            self.send(
                self.mav.mission_item_int_encode(
                    msg.get_srcSystem(),
                    msg.get_srcComponent(),
                    it.seq,
                    it.frame,
                    it.command,
                    it.current,
                    it.autocontinue,
                    it.param1,
                    it.param2,
                    it.param3,
                    it.param4,
                    it.x,
                    it.y,
                    it.z,
                    mtype,
                )
            )

    def _on_mission_clear_all(self, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", 0)
        self._store(mtype, [])
        self._mission_ack(msg, mav.MAV_MISSION_ACCEPTED, mtype)

    def _on_mission_set_current(self, msg: Any) -> None:
        if 0 <= msg.seq < len(self.mission):
            self.current_seq = msg.seq
            self.send(self.mav.mission_current_encode(self.current_seq))

    def _upload_timeouts(self, now: float) -> None:
        up = self.upload
        if up is None or now - up.last_request_at < MISSION_ITEM_TIMEOUT_S:
            return
        if up.retries >= MISSION_ITEM_RETRIES:
            self.upload = None
            sysid, compid = self._upload_peer
            self.send(
                self.mav.mission_ack_encode(
                    sysid, compid, mav.MAV_MISSION_OPERATION_CANCELLED, up.mission_type
                )
            )
            return
        up.retries += 1
        self._request_next(*self._upload_peer)

    # ----- fences -------------------------------------------------------------------------

    def _fence_polygons(self, command: int) -> list[list[tuple[float, float]]]:
        polys: list[list[tuple[float, float]]] = []
        i = 0
        items = self.fence
        while i < len(items):
            it = items[i]
            if it.command == command:
                n = max(3, int(it.param1))
                verts = items[i : i + n]
                polys.append([self.frame.to_xy(v.x / 1e7, v.y / 1e7) for v in verts])
                i += n
            else:
                i += 1
        return polys

    def _check_fence(self) -> None:
        if self.params["FENCE_ENABLE"] < 1 or self.landed or not self.armed:
            return
        p = (self.x, self.y)
        breach = 0
        incl = self._fence_polygons(mav.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION)
        excl = self._fence_polygons(mav.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION)
        if (incl and not any(point_in_polygon(p, poly) for poly in incl)) or any(
            point_in_polygon(p, poly) for poly in excl
        ):
            breach = mav.FENCE_BREACH_BOUNDARY
        elif self.z > self.params["FENCE_ALT_MAX"]:
            breach = mav.FENCE_BREACH_MAXALT
        if breach and not self.fence_breached:
            self.fence_breached = True
            self.fence_breach_count += 1
            self.text(mav.MAV_SEVERITY_CRITICAL, "Fence breach")
            self._send_fence_status(breach)
            if self.params["FENCE_ACTION"] >= 1 and self.mode not in (RTL, LAND):
                self._set_mode(RTL if self.params["FENCE_ACTION"] in (1, 4) else LAND)
        elif not breach and self.fence_breached:
            self.fence_breached = False
            self._send_fence_status(mav.FENCE_BREACH_NONE)

    def _send_fence_status(self, breach_type: int) -> None:
        self.send(
            self.mav.fence_status_encode(
                1 if self.fence_breached else 0, self.fence_breach_count, breach_type, self.time_boot_ms()
            )
        )

    # ----- kinematics ---------------------------------------------------------------------

    def step(self, dt_wall: float) -> None:
        """Advance the vehicle by dt_wall seconds of wall time (dt_wall * speedup simulated)."""
        with self.lock:
            now = self.now_wall()
            self._upload_timeouts(now)
            self._failsafes(now)
            if not self.armed or (self.landed and self.takeoff_alt is None and self.mode != AUTO):
                self.vx = self.vy = self.vz = 0.0
                return
            dt = dt_wall * self.config.speedup
            self.battery = max(0.0, self.battery - dt * 100.0 / self.config.endurance_s)
            self._guide(dt)
            self._check_fence()

    def _failsafes(self, now: float) -> None:
        if not self.armed or self.landed:
            return
        fs = self.params["FS_GCS_ENABLE"]
        if (
            fs >= 1
            and self.gcs_seen_at is not None
            and not self.gcs_failsafe
            and now - self.gcs_seen_at > self.params["FS_GCS_TIMEOUT"]
        ):
            self.gcs_failsafe = True
            self.text(mav.MAV_SEVERITY_CRITICAL, "GCS Failsafe")
            if fs == 2 and self.mode == AUTO:
                pass  # continue the mission
            elif fs == 5:
                self._set_mode(LAND)
            elif self.mode not in (RTL, LAND):
                self._set_mode(RTL)
        if self.gcs_failsafe and self.gcs_seen_at is not None and now - self.gcs_seen_at < 1.0:
            self.gcs_failsafe = False  # ArduPilot clears the failsafe but stays in RTL
        low = self.params["BATT_LOW_PCT"]
        if self.params["BATT_FS_LOW_ACT"] >= 1 and low > 0 and self.battery < low and not self.battery_fs:
            self.battery_fs = True
            self.text(mav.MAV_SEVERITY_CRITICAL, "Battery failsafe")
            if self.mode not in (RTL, LAND):
                self._set_mode(RTL if self.params["BATT_FS_LOW_ACT"] == 2 else LAND)

    def _cruise(self) -> float:
        return self.speed_override or self.params["WPNAV_SPEED"] / 100.0

    def _move_to(self, tx: float, ty: float, tz: float, dt: float, speed: float) -> bool:
        """Move toward a target; True when within the acceptance radius."""
        dx, dy = tx - self.x, ty - self.y
        d = math.hypot(dx, dy)
        step = speed * dt
        if d > 1e-6:
            f = min(1.0, step / d)
            self.x += dx * f
            self.y += dy * f
            self.vx, self.vy = dx / d * min(speed, d / dt), dy / d * min(speed, d / dt)
            self.heading = math.degrees(math.atan2(dx, dy)) % 360
        else:
            self.vx = self.vy = 0.0
        self._climb_to(tz, dt)
        radius = self.params["WPNAV_RADIUS"] / 100.0
        return math.hypot(tx - self.x, ty - self.y) <= radius and abs(tz - self.z) <= 1.0

    def _climb_to(self, tz: float, dt: float) -> None:
        up, dn = self.params["WPNAV_SPEED_UP"] / 100.0, self.params["WPNAV_SPEED_DN"] / 100.0
        dz = tz - self.z
        rate = up if dz > 0 else dn
        step = max(-rate * dt, min(rate * dt, dz))
        self.z += step
        self.vz = step / dt if dt > 0 else 0.0

    def _touchdown(self) -> None:
        self.z = 0.0
        self.landed = True
        self.vx = self.vy = self.vz = 0.0
        self.armed = False  # ArduCopter disarms automatically once landed in AUTO/RTL/LAND
        self.takeoff_alt = None

    def _guide(self, dt: float) -> None:
        if self.takeoff_alt is not None and self.mode == GUIDED:
            self._climb_to(self.takeoff_alt, dt)
            self.vx = self.vy = 0.0
            return
        if self.mode in (LOITER, BRAKE, GUIDED, STABILIZE, ALT_HOLD) or (self.mode == AUTO and self.paused):
            self.vx = self.vy = self.vz = 0.0
            return
        if self.mode == LAND:
            self.vx = self.vy = 0.0
            self.z -= min(self.z, self.params["LAND_SPEED"] / 100.0 * dt * 3)
            self.vz = -self.params["LAND_SPEED"] / 100.0
            if self.z <= 0.05:
                self._touchdown()
            return
        if self.mode == RTL:
            self._rtl(dt)
            return
        if self.mode == AUTO:
            self._auto(dt)

    def _rtl(self, dt: float) -> None:
        rtl_alt = max(self.z, self.params["RTL_ALT"] / 100.0)
        if math.hypot(self.x, self.y) > 1.0:
            if self.z < rtl_alt - 0.5 and math.hypot(self.x, self.y) > 5:
                self._climb_to(rtl_alt, dt)
                self.vx = self.vy = 0.0
                return
            self._move_to(0.0, 0.0, self.z, dt, self._cruise())
            return
        self.x = self.y = 0.0
        self.vx = self.vy = 0.0
        self.z -= min(self.z, self.params["WPNAV_SPEED_DN"] / 100.0 * dt)
        if self.z <= 0.05:
            self._touchdown()

    def _auto(self, dt: float) -> None:
        if self.current_seq < 1:
            self.current_seq = 1
        if self.current_seq >= len(self.mission):
            self.vx = self.vy = self.vz = 0.0  # mission over without RTL/LAND: hold
            return
        it = self.mission[self.current_seq]
        cmd = it.command
        done = False
        if cmd == mav.MAV_CMD_NAV_TAKEOFF:
            self.landed = False
            self._climb_to(it.z, dt)
            done = abs(self.z - it.z) < 1.0 or self.z >= it.z
        elif cmd in (mav.MAV_CMD_NAV_WAYPOINT, mav.MAV_CMD_NAV_LOITER_TIME):
            tx, ty = self.frame.to_xy(it.x / 1e7, it.y / 1e7)
            # param1 is the hold time for both NAV_WAYPOINT and NAV_LOITER_TIME.
            if self.hold_until is None and self._move_to(tx, ty, it.z, dt, self._cruise()):
                self.hold_until = self.sim_time + max(0.0, it.param1)
            if self.hold_until is not None:
                self.vx = self.vy = 0.0
                done = self.sim_time >= self.hold_until
        elif cmd == mav.MAV_CMD_DO_CHANGE_SPEED:
            if it.param2 > 0:
                self.speed_override = it.param2
            done = True
        elif cmd == mav.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            self._rtl(dt)
            return
        elif cmd == mav.MAV_CMD_NAV_LAND:
            tx, ty = self.frame.to_xy(it.x / 1e7, it.y / 1e7) if it.x or it.y else (self.x, self.y)
            if self._move_to(tx, ty, self.z, dt, self._cruise()):
                self.z -= min(self.z, self.params["LAND_SPEED"] / 100.0 * dt * 3)
                if self.z <= 0.05:
                    self._touchdown()
            return
        else:
            done = True  # unsupported items are skipped, as ArduPilot does for unknown DO_ items
        if done:
            self.hold_until = None
            self.reached_seq = self.current_seq
            self.send(self.mav.mission_item_reached_encode(self.current_seq))
            self.current_seq += 1
            self.send(self.mav.mission_current_encode(min(self.current_seq, len(self.mission) - 1)))

    @property
    def sim_time(self) -> float:
        return (time.monotonic() - self.boot) * self.config.speedup

    # ----- telemetry ----------------------------------------------------------------------

    def _producers(self) -> dict[int, Callable[[], Any]]:
        return {
            mav.MAVLINK_MSG_ID_HEARTBEAT: self._heartbeat,
            mav.MAVLINK_MSG_ID_SYS_STATUS: self._sys_status,
            mav.MAVLINK_MSG_ID_BATTERY_STATUS: self._battery_status,
            mav.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: self._global_position,
            mav.MAVLINK_MSG_ID_GPS_RAW_INT: self._gps_raw,
            mav.MAVLINK_MSG_ID_VFR_HUD: self._vfr_hud,
            mav.MAVLINK_MSG_ID_MISSION_CURRENT: lambda: self.mav.mission_current_encode(self.current_seq),
            mav.MAVLINK_MSG_ID_HOME_POSITION: self._home,
            mav.MAVLINK_MSG_ID_AUTOPILOT_VERSION: self._version,
            mav.MAVLINK_MSG_ID_FENCE_STATUS: lambda: self.mav.fence_status_encode(
                1 if self.fence_breached else 0, self.fence_breach_count, 0, self.time_boot_ms()
            ),
        }

    def _heartbeat(self) -> Any:
        base = mav.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | mav.MAV_MODE_FLAG_STABILIZE_ENABLED
        if self.mode in (AUTO, GUIDED, RTL, LAND, LOITER):
            base |= mav.MAV_MODE_FLAG_GUIDED_ENABLED
        if self.armed:
            base |= mav.MAV_MODE_FLAG_SAFETY_ARMED
        status = mav.MAV_STATE_ACTIVE if self.armed else mav.MAV_STATE_STANDBY
        if self.gcs_failsafe or self.battery_fs:
            status = mav.MAV_STATE_CRITICAL
        if self.crashed:
            status = mav.MAV_STATE_EMERGENCY
        return self.mav.heartbeat_encode(
            mav.MAV_TYPE_QUADROTOR, mav.MAV_AUTOPILOT_ARDUPILOTMEGA, base, self.mode, status
        )

    def _voltage(self) -> float:
        return 13.2 + (16.8 - 13.2) * self.battery / 100.0  # 4S pack, linear enough for a sim

    def _sys_status(self) -> Any:
        sensors = (
            mav.MAV_SYS_STATUS_SENSOR_3D_GYRO
            | mav.MAV_SYS_STATUS_SENSOR_GPS
            | mav.MAV_SYS_STATUS_SENSOR_BATTERY
        )
        if self.params["FENCE_ENABLE"] >= 1:
            sensors |= mav.MAV_SYS_STATUS_GEOFENCE
        health = sensors if not self.fence_breached else sensors & ~mav.MAV_SYS_STATUS_GEOFENCE
        return self.mav.sys_status_encode(
            sensors,
            sensors,
            health,
            200,
            int(self._voltage() * 1000),
            1500 if self.armed else 50,
            int(self.battery),
            0,
            0,
            0,
            0,
            0,
            0,
        )

    def _battery_status(self) -> Any:
        cells = [int(self._voltage() * 250)] * 4 + [65535] * 6
        return self.mav.battery_status_encode(
            0,
            mav.MAV_BATTERY_FUNCTION_ALL,
            mav.MAV_BATTERY_TYPE_LIPO,
            2500,
            cells,
            1500 if self.armed else 50,
            -1,
            -1,
            int(self.battery),
        )

    def _global_position(self) -> Any:
        self.positions_sent += 1
        lat, lon = self.latlon()
        hdg = int(self.heading * 100) % 36000
        return self.mav.global_position_int_encode(
            self.time_boot_ms(),
            int(lat * 1e7),
            int(lon * 1e7),
            int((self.config.home_alt_msl + self.z) * 1000),
            int(self.z * 1000),
            int(self.vy * 100),
            int(self.vx * 100),
            int(-self.vz * 100),
            hdg,
        )

    def _gps_raw(self) -> Any:
        lat, lon = self.latlon()
        vel = int(math.hypot(self.vx, self.vy) * 100)
        return self.mav.gps_raw_int_encode(
            int(time.time() * 1e6),
            self.config.gps_fix,
            int(lat * 1e7),
            int(lon * 1e7),
            int((self.config.home_alt_msl + self.z) * 1000),
            80,
            120,
            vel,
            int(self.heading * 100) % 36000,
            self.config.satellites,
        )

    def _vfr_hud(self) -> Any:
        gs = math.hypot(self.vx, self.vy)
        return self.mav.vfr_hud_encode(
            gs,
            gs,
            int(self.heading) % 360,
            50 if self.armed else 0,
            self.config.home_alt_msl + self.z,
            self.vz,
        )

    def _home(self) -> Any:
        c = self.config
        return self.mav.home_position_encode(
            int(c.home_lat * 1e7),
            int(c.home_lon * 1e7),
            int(c.home_alt_msl * 1000),
            0,
            0,
            0,
            [1, 0, 0, 0],
            0,
            0,
            0,
        )

    def _version(self) -> Any:
        caps = (
            mav.MAV_PROTOCOL_CAPABILITY_MISSION_INT
            | mav.MAV_PROTOCOL_CAPABILITY_COMMAND_INT
            | mav.MAV_PROTOCOL_CAPABILITY_MAVLINK2
            | mav.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE
            | mav.MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT
        )
        return self.mav.autopilot_version_encode(
            caps, (4 << 24) | (5 << 16), 0, 0, 0, [0] * 8, [0] * 8, [0] * 8, 0, 0, self.config.system_id
        )

    def due_messages(self, now: float) -> None:
        """Send every stream whose interval has elapsed, and the 1 Hz heartbeat."""
        if now < self.wake:
            return
        if not self.link_up:
            self.wake = now + 0.1
            return
        hb_due = self.next_due.get(-1)
        if hb_due is None or now >= hb_due:
            self.next_due[-1] = now + 1.0
            self.heartbeats_sent += 1
            self.send(self._heartbeat())
        producers = self._producer_table
        with self.lock:
            for msg_id, interval in self.streams.items():
                due = self.next_due.get(msg_id)
                if due is None or now >= due:
                    # Keep the rate from the previous due time, but never bunch up after a stall.
                    self.next_due[msg_id] = max(now, due + interval) if due is not None else now + interval
                    fn = producers.get(msg_id)
                    if fn is not None:
                        self.send(fn())
        self.wake = min(self.next_due.values())

    @property
    def active(self) -> bool:
        """Whether step() has anything to do (idle vehicles on the ground cost nothing)."""
        return self.armed or self.upload is not None or self.takeoff_alt is not None

    # ----- test hooks ---------------------------------------------------------------------

    def drop(self, rule: DropRule) -> DropRule:
        self.drop_rules.append(rule)
        return rule

    def set_link(self, up: bool) -> None:
        """Link loss injection: while down the vehicle neither sends nor hears anything."""
        self.link_up = up

    def push(self, east_m: float, north_m: float) -> None:
        """Displace the vehicle (a gust, a GPS glitch) to provoke fence breaches."""
        with self.lock:
            self.x += east_m
            self.y += north_m
