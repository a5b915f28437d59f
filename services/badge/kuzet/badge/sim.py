"""Simulated body-worn badges for tests, the demo and the benchmark.

A SimBadge speaks the real Connect protocol: Hello with the last acknowledged seq, one report per
interval with a position wandering around a point, re-sending unacknowledged reports after a
reconnect, obeying start-recording commands; press_panic() / tamper() add button events.

    kuzet-badge-sim --badges 20 --agency police --lat 41.31 --lon 69.28   # registers and runs them
    kuzet-badge-sim --badges 20 --device-address 127.0.0.1:50065 --tokens-out tokens.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from kuzet.badge import credentials
from kuzet.badge.v1 import badge_pb2, badge_pb2_grpc
from kuzet.common.caller import Caller
from kuzet.common.grpcclient import open_channel
from kuzet.common.v1 import common_pb2
from kuzet.common.waiting import wait_set

A = badge_pb2
EARTH_M_PER_DEG = 111_320.0
# How long a badge keeps asking a replica that does not know it (a registration on another
# replica is seen there at its next registry poll, KUZET_BADGE_REPLICA_POLL_S, 1 s).
UNKNOWN_FOR_S = 10.0


def now_timestamp() -> Timestamp:
    ts = Timestamp()
    ts.GetCurrentTime()
    return ts


class SimBadge:
    def __init__(
        self,
        badge_id: str,
        latitude: float,
        longitude: float,
        *,
        radius_m: float = 300.0,
        interval_s: float = 1.0,
        battery_percent: float = 100.0,
        recording: int = A.RECORDING_STATE_BUFFERING,
        seed: int | None = None,
        on_ack: Callable[[float], None] | None = None,
        metadata: Sequence[tuple[str, str]] | Callable[[], Sequence[tuple[str, str]]] = (),
        token: str = "",
    ) -> None:
        self.badge_id = badge_id
        self.center = (latitude, longitude)
        self.radius_m = radius_m
        self.interval_s = interval_s
        self.battery_percent = battery_percent
        self.charging = False
        self.recording = recording
        self.rng = random.Random(seed if seed is not None else hash(badge_id))
        self._east_m = self.rng.uniform(-radius_m, radius_m) / 2
        self._north_m = self.rng.uniform(-radius_m, radius_m) / 2
        self.seq = 0
        self.acked_seq = 0
        # Reports not yet acknowledged, by seq, with the monotonic time they were (last) sent.
        self.unacked: OrderedDict[int, tuple[A.TelemetryReport, float]] = OrderedDict()
        self._events: list[A.SensorEvent] = []
        self.commands: list[A.BadgeCommand] = []
        self.on_ack = on_ack
        # Caller metadata for channels without caller propagation (a device has no RPC to
        # forward from; the benchmark uses plain channels), and the badge's own device token,
        # which is what the device port asks for (register_badges returns the tokens).
        # A callable is asked at every (re)connect: caller tokens live seconds, a badge for hours.
        self._caller_metadata = metadata if callable(metadata) else None
        fixed = () if callable(metadata) else tuple(metadata)
        self.metadata = fixed + ((credentials.metadata(token),) if token else ())
        self.connected = asyncio.Event()
        self._waiter: asyncio.Future[bool] | None = None

    # -- what an officer does -----------------------------------------------------------------

    def press_panic(self) -> None:
        self._add_event(A.SENSOR_EVENT_KIND_PANIC, "panic button")

    def cancel_panic(self) -> None:
        self._add_event(A.SENSOR_EVENT_KIND_PANIC_CANCELLED, "cancelled by officer")

    def tamper(self) -> None:
        self._add_event(A.SENSOR_EVENT_KIND_TAMPER, "casing opened")

    def _add_event(self, kind: int, detail: str) -> None:
        self._events.append(
            A.SensorEvent(kind=cast(A.SensorEventKind, kind), device_time=now_timestamp(), detail=detail)
        )
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(True)

    @property
    def position(self) -> common_pb2.GeoPoint:
        lat0, lon0 = self.center
        lat = lat0 + self._north_m / EARTH_M_PER_DEG
        lon = lon0 + self._east_m / (EARTH_M_PER_DEG * max(0.01, math.cos(math.radians(lat0))))
        return common_pb2.GeoPoint(latitude=lat, longitude=lon, accuracy_m=5.0)

    def next_report(self) -> A.TelemetryReport:
        # A walk at ~1.4 m/s that turns back towards the centre at the edge of the radius.
        heading = self.rng.uniform(0, 2 * math.pi)
        if math.hypot(self._east_m, self._north_m) > self.radius_m:
            heading = math.atan2(-self._east_m, -self._north_m)
        step = 1.4 * self.interval_s
        self._east_m += step * math.sin(heading)
        self._north_m += step * math.cos(heading)
        if not self.charging:
            self.battery_percent = max(0.0, self.battery_percent - 0.001)
        self.seq += 1
        report = A.TelemetryReport(
            seq=self.seq,
            device_time=now_timestamp(),
            position=self.position,
            speed_mps=1.4,
            heading_deg=math.degrees(heading) % 360,
            battery_percent=self.battery_percent,
            charging=self.charging,
            recording=cast(A.RecordingState, self.recording),
            storage_free_bytes=48 * 1024**3,
            storage_total_bytes=64 * 1024**3,
            events=self._events,
        )
        self._events = []
        return report

    # -- the link -----------------------------------------------------------------------------

    async def run(
        self,
        stub: badge_pb2_grpc.BadgeServiceStub,
        stop: asyncio.Event,
        reconnect_s: float = 1.0,
        unknown_for_s: float = UNKNOWN_FOR_S,
    ) -> None:
        """Stay connected until ``stop`` is set, reconnecting after errors.

        A replica that does not know the badge yet (NOT_FOUND) is asked again, with backoff, for
        up to ``unknown_for_s``: a registration made on another replica reaches this one through
        the database at its next registry poll. Refusals, and NOT_FOUND for longer, raise.
        """
        unknown_since: float | None = None
        unknown_tries = 0
        while not stop.is_set():
            wait_s = reconnect_s
            try:
                await self.session(stub, stop)
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    now = time.monotonic()
                    unknown_since = now if unknown_since is None else unknown_since
                    if now - unknown_since >= unknown_for_s:
                        raise
                    # 0.1 s, doubling, at most reconnect_s: quick while the poll is likely due.
                    wait_s = min(reconnect_s, 0.1 * 2 ** min(10, unknown_tries))
                    unknown_tries += 1
                elif exc.code() in (
                    grpc.StatusCode.PERMISSION_DENIED,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    grpc.StatusCode.FAILED_PRECONDITION,
                ):
                    raise
                else:
                    unknown_since, unknown_tries = None, 0
            except asyncio.InvalidStateError:
                # The server went away between two writes: gRPC reports the finished call this
                # way instead of with a status. A dropped connection: reconnect.
                unknown_since, unknown_tries = None, 0
            else:
                unknown_since, unknown_tries = None, 0
            self.connected.clear()
            await wait_set(stop, wait_s)

    async def session(self, stub: badge_pb2_grpc.BadgeServiceStub, stop: asyncio.Event) -> None:
        """One Connect stream: hello, re-send what is unacknowledged, then report every interval."""
        fresh = tuple(self._caller_metadata()) if self._caller_metadata else ()
        call = stub.Connect(metadata=fresh + self.metadata)
        await call.write(
            A.ConnectRequest(
                hello=A.Hello(
                    badge_id=self.badge_id, last_acked_seq=self.acked_seq, device_time=now_timestamp()
                )
            )
        )
        welcome = await call.read()
        if welcome is grpc.aio.EOF or welcome.WhichOneof("payload") != "welcome":
            raise RuntimeError(f"badge {self.badge_id}: no welcome")
        self._acknowledge(welcome.welcome.acked_seq)
        reader = asyncio.create_task(self._read(call))
        self.connected.set()
        try:
            for seq, (report, _) in list(self.unacked.items()):
                self.unacked[seq] = (report, time.monotonic())
                await call.write(A.ConnectRequest(report=report))
            next_at = time.monotonic()
            while not stop.is_set() and not reader.done():
                report = self.next_report()
                self.unacked[report.seq] = (report, time.monotonic())
                await call.write(A.ConnectRequest(report=report))
                next_at += self.interval_s
                if await self._sleep_until(next_at):
                    next_at = time.monotonic()
            if not reader.done():
                await call.done_writing()
                await reader
            else:
                reader.result()
        finally:
            reader.cancel()
            call.cancel()

    async def _sleep_until(self, deadline: float) -> bool:
        """Sleep until ``deadline`` or until a button press; True when woken by a press.

        One future and one timer per wait: thousands of badges share a generator process.
        """
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(max(0.0, deadline - time.monotonic()), _wake, waiter, False)
        try:
            return bool(await waiter)
        finally:
            timer.cancel()
            self._waiter = None

    async def _read(self, call: grpc.aio.StreamStreamCall) -> None:
        # read() rather than `async for`: the welcome was read with read(), and grpc.aio refuses
        # to mix the two styles on one plain (interceptor-free) call.
        while True:
            message = await call.read()
            if message is grpc.aio.EOF:
                return
            kind = message.WhichOneof("payload")
            if kind == "ack":
                self._acknowledge(message.ack.up_to_seq)
            elif kind == "command":
                self.commands.append(message.command)
                if message.command.WhichOneof("command") == "start_recording":
                    self.recording = A.RECORDING_STATE_ON
                await call.write(
                    A.ConnectRequest(
                        command_result=A.CommandResult(command_id=message.command.command_id, ok=True)
                    )
                )

    def _acknowledge(self, up_to: int) -> None:
        if up_to <= self.acked_seq:
            return
        self.acked_seq = up_to
        now = time.monotonic()
        while self.unacked:
            seq = next(iter(self.unacked))
            if seq > up_to:
                break
            _, sent = self.unacked.pop(seq)
            if self.on_ack is not None:
                self.on_ack(now - sent)


def _wake(waiter: asyncio.Future[bool], pressed: bool) -> None:
    if not waiter.done():
        waiter.set_result(pressed)


async def register_badges(
    stub: badge_pb2_grpc.BadgeServiceStub, agency: str, ids: list[str], unit: str = ""
) -> dict[str, str]:
    """Register and put an officer on shift with each; their device tokens, by badge id.

    A badge already registered gets a new token (its old one stops working).
    """
    tokens = {}
    for badge_id in ids:
        try:
            registered = await stub.RegisterBadge(
                A.RegisterBadgeRequest(badge_id=badge_id, agency_id=agency, unit_id=unit)
            )
            tokens[badge_id] = registered.device_token
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
            issued = await stub.IssueDeviceCredential(A.IssueDeviceCredentialRequest(badge_id=badge_id))
            tokens[badge_id] = issued.device_token
        await stub.AssignOfficer(A.AssignOfficerRequest(badge_id=badge_id, officer_id=f"officer-{badge_id}"))
    return tokens


async def _main(opts: argparse.Namespace) -> None:
    caller = Caller(subject="service:badge-sim", agency=opts.agency, roles=frozenset({"admin", "service"}))
    channel = open_channel(opts.address, audience="badge", caller=caller)
    stub = badge_pb2_grpc.BadgeServiceStub(channel)
    ids = [f"{opts.prefix}{i:05d}" for i in range(opts.badges)]
    tokens = await register_badges(stub, opts.agency, ids, opts.unit)
    if opts.tokens_out:
        await asyncio.to_thread(Path(opts.tokens_out).write_text, json.dumps(tokens))
    badges = [SimBadge(b, opts.lat, opts.lon, interval_s=opts.interval) for b in ids]
    link, device_channel = stub, None
    if opts.device_address:
        # The badges' own way in: the device port, each with its device token.
        device_channel = grpc.aio.insecure_channel(opts.device_address)
        link = badge_pb2_grpc.BadgeServiceStub(device_channel)
        for badge in badges:
            badge.metadata = (credentials.metadata(tokens[badge.badge_id]),)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(b.run(link, stop)) for b in badges]
    if opts.panic_after is not None:
        await asyncio.sleep(opts.panic_after)
        badges[0].press_panic()
        print(f"badge {badges[0].badge_id}: panic pressed", flush=True)
    try:
        await asyncio.gather(*tasks)
    finally:
        stop.set()
        await channel.close()
        if device_channel is not None:
            await device_channel.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run simulated badges against a badge service")
    parser.add_argument("--address", default="127.0.0.1:50055", help="the badge service's API port")
    parser.add_argument(
        "--device-address", default="", help="stream over the device port (host:50065) with device tokens"
    )
    parser.add_argument("--tokens-out", default="", help="write the badges' device tokens here (JSON)")
    parser.add_argument("--agency", default="police")
    parser.add_argument("--unit", default="unit-1")
    parser.add_argument("--badges", type=int, default=10)
    parser.add_argument("--prefix", default="SIM-")
    parser.add_argument("--lat", type=float, default=41.3111)
    parser.add_argument("--lon", type=float, default=69.2797)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument(
        "--panic-after", type=float, default=None, help="seconds until the first badge panics"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
