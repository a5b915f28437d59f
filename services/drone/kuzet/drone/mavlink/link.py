"""One MAVLink 2 link to one drone: parsing, telemetry state, commands, parameters, missions.

Everything runs on the event loop; sends are non-blocking socket writes. Replies are awaited
with futures keyed by message type, so a command never blocks other drones.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mav

from kuzet.common.waiting import within
from kuzet.drone.mavlink.autopilot import ARDUCOPTER, Autopilot, autopilot_for
from kuzet.drone.mavlink.transport import Transport

log = logging.getLogger(__name__)

GCS_SYSTEM_ID = 255
GCS_COMPONENT_ID = mav.MAV_COMP_ID_MISSIONPLANNER


class LinkError(Exception):
    """A command, parameter or mission transfer that the vehicle refused or never answered."""


@dataclass
class VehicleState:
    """The newest value of everything the console shows, as the vehicle reported it."""

    lat: float = 0.0
    lon: float = 0.0
    alt_msl: float = 0.0
    rel_alt: float = 0.0
    heading: float = 0.0
    ground_speed: float = 0.0
    climb: float = 0.0
    battery_pct: float = -1.0
    voltage: float = 0.0
    gps_fix: int = 0
    satellites: int = 0
    custom_mode: int = -1
    armed: bool = False
    system_status: int = 0
    mission_current: int = 0
    mission_reached: int = -1
    fence_breached: bool = False
    have_position: bool = False
    last_heartbeat: float = 0.0  # monotonic
    last_heartbeat_wall: float = 0.0
    last_message: float = 0.0
    autopilot: Autopilot = field(default=ARDUCOPTER)
    # AUTOPILOT_VERSION.capabilities (MAV_PROTOCOL_CAPABILITY bits); None until reported.
    capabilities: int | None = None
    statustexts: list[str] = field(default_factory=list)


class DroneLink:
    """A pymavlink MAVLink 2 session with one vehicle (system id) over one transport."""

    def __init__(
        self,
        url: str,
        system_id: int,
        component_id: int = 1,
        *,
        on_message: Callable[[DroneLink, Any], None] | None = None,
    ) -> None:
        self.system_id = system_id
        self.component_id = component_id or 1
        self.transport = Transport(url, self._on_bytes)
        self.mav = mav.MAVLink(self.transport, GCS_SYSTEM_ID, GCS_COMPONENT_ID)
        self.mav.robust_parsing = True
        self.state = VehicleState()
        self.on_message = on_message
        self._waiters: dict[str, list[tuple[Callable[[Any], bool], asyncio.Future[Any]]]] = {}
        self.messages_in = 0
        self.foreign_messages = 0

    async def open(self) -> None:
        await self.transport.open()

    async def close(self) -> None:
        for waiters in self._waiters.values():
            for _, fut in waiters:
                if not fut.done():
                    fut.set_exception(LinkError("link closed"))
        self._waiters.clear()
        await self.transport.close()

    # ----- receive ------------------------------------------------------------------------

    def _on_bytes(self, data: bytes) -> None:
        # parse_buffer() without its final empty parse_char() call when the datagram held exactly
        # one frame (the usual case on UDP): that call costs as much as the parse itself.
        parser = self.mav
        try:
            first = parser.parse_char(data)
            if first is None:
                return
            msgs = [first]
            while parser.buf_len() >= 8:
                more = parser.parse_char(b"")
                if more is None:
                    break
                msgs.append(more)
        except mav.MAVError:
            return
        now = time.monotonic()
        for msg in msgs:
            if msg.get_srcSystem() != self.system_id:
                # Another vehicle or GCS on the same network: not ours to interpret.
                self.foreign_messages += 1
                continue
            t = msg.get_type()
            if t == "BAD_DATA":
                continue
            self.messages_in += 1
            self.state.last_message = now
            self._update(t, msg, now)
            waiters = self._waiters.get(t)
            if waiters:
                for pred, fut in list(waiters):
                    if not fut.done() and pred(msg):
                        fut.set_result(msg)
                        waiters.remove((pred, fut))
            if self.on_message is not None:
                self.on_message(self, msg)

    def _update(self, t: str, m: Any, now: float) -> None:
        s = self.state
        if t == "GLOBAL_POSITION_INT":
            s.lat, s.lon = m.lat / 1e7, m.lon / 1e7
            s.alt_msl, s.rel_alt = m.alt / 1000.0, m.relative_alt / 1000.0
            if m.hdg != 65535:
                s.heading = m.hdg / 100.0
            s.ground_speed = (m.vx * m.vx + m.vy * m.vy) ** 0.5 / 100.0
            s.climb = -m.vz / 100.0
            s.have_position = True
        elif t == "HEARTBEAT":
            if m.get_srcComponent() != self.component_id or m.type == mav.MAV_TYPE_GCS:
                return  # a camera or gimbal heartbeat says nothing about the autopilot
            s.autopilot = autopilot_for(m.autopilot)
            s.custom_mode = m.custom_mode
            s.armed = bool(m.base_mode & mav.MAV_MODE_FLAG_SAFETY_ARMED)
            s.system_status = m.system_status
            s.last_heartbeat = now
            s.last_heartbeat_wall = time.time()
        elif t == "SYS_STATUS":
            if m.battery_remaining >= 0:
                s.battery_pct = float(m.battery_remaining)
            if m.voltage_battery != 65535:
                s.voltage = m.voltage_battery / 1000.0
        elif t == "BATTERY_STATUS":
            if m.battery_remaining >= 0:
                s.battery_pct = float(m.battery_remaining)
        elif t == "GPS_RAW_INT":
            s.gps_fix, s.satellites = m.fix_type, m.satellites_visible
        elif t == "MISSION_CURRENT":
            s.mission_current = m.seq
        elif t == "MISSION_ITEM_REACHED":
            s.mission_reached = m.seq
        elif t == "FENCE_STATUS":
            s.fence_breached = bool(m.breach_status)
        elif t == "AUTOPILOT_VERSION":
            s.capabilities = int(m.capabilities)
        elif t == "STATUSTEXT":
            text = m.text if isinstance(m.text, str) else m.text.decode(errors="replace")
            s.statustexts.append(text.rstrip("\x00"))
            del s.statustexts[:-20]

    def wait_for(self, msg_type: str, pred: Callable[[Any], bool] = lambda m: True) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(msg_type, []).append((pred, fut))
        return fut

    def _forget(self, msg_type: str, fut: asyncio.Future[Any]) -> None:
        waiters = self._waiters.get(msg_type, [])
        self._waiters[msg_type] = [w for w in waiters if w[1] is not fut]
        fut.cancel()

    async def request(
        self,
        send: Callable[[], None],
        msg_type: str,
        pred: Callable[[Any], bool],
        *,
        wait_s: float = 1.0,
        retries: int = 3,
    ) -> Any:
        """Send, await a matching reply, re-send on timeout; LinkError when it never comes."""
        for _ in range(retries + 1):
            fut = self.wait_for(msg_type, pred)
            send()
            try:
                return await within(wait_s, asyncio.shield(fut))
            except TimeoutError:
                self._forget(msg_type, fut)
        raise LinkError(f"no {msg_type} from system {self.system_id} after {retries + 1} tries")

    # ----- send ---------------------------------------------------------------------------

    def send(self, msg: Any) -> None:
        self.mav.send(msg)

    def send_heartbeat(self) -> None:
        self.mav.heartbeat_send(mav.MAV_TYPE_GCS, mav.MAV_AUTOPILOT_INVALID, 0, 0, mav.MAV_STATE_ACTIVE)

    async def command(self, command: int, *params: float, wait_s: float = 1.0, retries: int = 3) -> int:
        """COMMAND_LONG until COMMAND_ACK; raises LinkError unless ACCEPTED."""
        p = list(params) + [0.0] * (7 - len(params))
        confirmation = [0]

        def send() -> None:
            # The spec increments `confirmation` on each re-send of the same command.
            self.mav.command_long_send(self.system_id, self.component_id, command, confirmation[0], *p)
            confirmation[0] = min(255, confirmation[0] + 1)

        ack = await self.request(
            send, "COMMAND_ACK", lambda m: m.command == command, wait_s=wait_s, retries=retries
        )
        if ack.result == mav.MAV_RESULT_IN_PROGRESS:
            ack = await within(
                wait_s * 10,
                self.wait_for(
                    "COMMAND_ACK", lambda m: m.command == command and m.result != mav.MAV_RESULT_IN_PROGRESS
                ),
            )
        if ack.result != mav.MAV_RESULT_ACCEPTED:
            name = mav.enums["MAV_CMD"][command].name if command in mav.enums["MAV_CMD"] else str(command)
            result = (
                mav.enums["MAV_RESULT"][ack.result].name
                if ack.result in mav.enums["MAV_RESULT"]
                else ack.result
            )
            reason = self.state.statustexts[-1] if self.state.statustexts else ""
            raise LinkError(f"{name} refused: {result}" + (f" ({reason})" if reason else ""))
        return int(ack.result)

    async def set_mode(self, action: str) -> None:
        main, sub = self.state.autopilot.modes[action]
        await self.command(mav.MAV_CMD_DO_SET_MODE, mav.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, main, sub)

    async def set_param(self, name: str, value: float, *, wait_s: float = 1.0, retries: int = 3) -> None:
        """PARAM_SET until the vehicle echoes the value in PARAM_VALUE."""

        def matches(m: Any) -> bool:
            pid = m.param_id if isinstance(m.param_id, str) else m.param_id.decode()
            return bool(pid.rstrip("\x00") == name and abs(m.param_value - value) < 1e-4)

        def send() -> None:
            self.mav.param_set_send(
                self.system_id, self.component_id, name.encode(), value, mav.MAV_PARAM_TYPE_REAL32
            )

        await self.request(send, "PARAM_VALUE", matches, wait_s=wait_s, retries=retries)

    async def set_message_interval(self, msg_id: int, hz: float) -> None:
        interval_us = -1 if hz <= 0 else 1e6 / hz
        await self.command(mav.MAV_CMD_SET_MESSAGE_INTERVAL, msg_id, interval_us)

    async def upload(
        self,
        items: list[Any],
        mission_type: int = mav.MAV_MISSION_TYPE_MISSION,
        *,
        item_timeout: float = 1.0,
        retries: int = 5,
    ) -> float:
        """The MAVLink mission upload protocol, ground-station side; returns seconds taken.

        MISSION_COUNT is re-sent until the first MISSION_REQUEST_INT; afterwards the vehicle
        drives the transfer (re-requesting what it did not get) and we answer each request,
        giving up after `retries` silent timeouts. The last item is re-sent when its ACK is lost.
        """
        started = time.monotonic()
        count = len(items)
        tsys, tcomp = self.system_id, self.component_id
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heard = asyncio.Event()
        last_sent = -1

        def fail(reason: str) -> None:
            if not done.done():
                done.set_exception(LinkError(reason))

        def on_msg(m: Any) -> bool:
            # Answered right here, in the datagram callback: a round through the event loop per
            # item would double the transfer time of a long mission.
            nonlocal last_sent
            if getattr(m, "mission_type", 0) != mission_type or done.done():
                return False
            heard.set()
            if m.get_type() == "MISSION_ACK":
                if m.type == mav.MAV_MISSION_ACCEPTED and (count == 0 or last_sent == count - 1):
                    done.set_result(None)
                elif m.type != mav.MAV_MISSION_ACCEPTED:
                    name = mav.enums["MAV_MISSION_RESULT"].get(m.type)
                    fail(f"vehicle rejected the mission: {name.name if name else m.type}")
                return False
            if not 0 <= m.seq < count:
                fail(f"vehicle requested item {m.seq} of {count}")
                return False
            self.send(self._with_target(items[m.seq], mission_type))
            last_sent = max(last_sent, m.seq)
            return False  # keep listening for the whole transfer

        kinds = ("MISSION_REQUEST_INT", "MISSION_REQUEST", "MISSION_ACK")
        waiters = [self.wait_for(t, on_msg) for t in kinds]
        try:
            self.mav.mission_count_send(tsys, tcomp, count, mission_type)
            silent = 0
            while not done.done():
                heard.clear()
                try:
                    await within(item_timeout, heard.wait())
                    silent = 0
                    continue
                except TimeoutError:
                    if done.done():
                        break
                silent += 1
                if silent > retries:
                    raise LinkError(f"mission upload to system {tsys} timed out")
                if last_sent < 0:
                    self.mav.mission_count_send(tsys, tcomp, count, mission_type)  # our COUNT was lost
                elif last_sent == count - 1:
                    self.send(self._with_target(items[last_sent], mission_type))  # the final ACK was lost
            done.result()
            return time.monotonic() - started
        finally:
            for fut, t in zip(waiters, kinds, strict=True):
                self._forget(t, fut)

    def _with_target(self, item: Any, mission_type: int) -> Any:
        item.target_system, item.target_component = self.system_id, self.component_id
        item.mission_type = mission_type
        return item

    async def download(
        self, mission_type: int = mav.MAV_MISSION_TYPE_MISSION, *, wait_s: float = 1.0
    ) -> list[Any]:
        """Read back a mission (MISSION_REQUEST_LIST / MISSION_REQUEST_INT)."""
        tsys, tcomp = self.system_id, self.component_id
        cnt = await self.request(
            lambda: self.mav.mission_request_list_send(tsys, tcomp, mission_type),
            "MISSION_COUNT",
            lambda m: getattr(m, "mission_type", 0) == mission_type,
            wait_s=wait_s,
        )
        items: list[Any] = []
        for seq in range(cnt.count):

            def ask(seq: int = seq) -> None:
                self.mav.mission_request_int_send(tsys, tcomp, seq, mission_type)

            def match(m: Any, seq: int = seq) -> bool:
                return bool(m.seq == seq and getattr(m, "mission_type", 0) == mission_type)

            items.append(await self.request(ask, "MISSION_ITEM_INT", match, wait_s=wait_s))
        self.mav.mission_ack_send(tsys, tcomp, mav.MAV_MISSION_ACCEPTED, mission_type)
        return items
