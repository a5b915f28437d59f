"""A lean load generator for Connect: thousands of simulated badges per process, over real HTTP/2 gRPC.

SimBadge (sim.py) is the faithful badge, built on grpc.aio; at thousands of badges it would need
as much CPU as the service it loads. Here every badge is a stream on a shared connection, frames
are built by hand and each connection's reports for a tick leave in one write, so a generator
costs a few microseconds per report. It speaks the same protocol (hello, reports at 1 Hz, acks
that mean "stored") and measures what a badge sees: report written -> covering ack read.

    kuzet-badge-load --address 127.0.0.1:50065 --badges 2000 --prefix BB- --seconds 10
    kuzet-badge-load --address 127.0.0.1:50055 --tls ...   # the API port: mTLS, like every gRPC server

The device port speaks plaintext HTTP/2 (h2c), as badges reach it behind the TLS-terminating load
balancer; the API port serves only mutual TLS, so there the generator dials TLS with ALPN h2 and
this process's certificate (kuzet.common.tls, ``KUZET_TLS_*``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import ssl
import struct
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from hpack import Decoder, Encoder

from kuzet.badge import credentials
from kuzet.badge.telemetry import h2grpc as h2
from kuzet.badge.v1 import badge_pb2
from kuzet.common.v1 import common_pb2
from kuzet.common.waiting import within

A = badge_pb2
CONNECT = "/kuzet.badge.v1.BadgeService/Connect"
TICK_S = 0.005
ACK_GRACE_S = 2.0


@dataclass(slots=True)
class LoadBadge:
    badge_id: str
    token: str = ""  # the device token (the device port refuses a stream without one)
    stream_id: int = 0
    report: badge_pb2.TelemetryReport = field(default_factory=badge_pb2.TelemetryReport)
    seq: int = 0
    welcomed: bool = False
    ended: str = ""  # the grpc-status (and message) that ended the stream, if it did
    # (seq, monotonic send time, sent inside the measured window)
    sent: deque[tuple[int, float, bool]] = field(default_factory=deque)
    sent_in_window: int = 0
    acked_in_window: int = 0
    connection: LoadConnection | None = None


@dataclass
class LoadStats:
    measuring: bool = False
    latencies: list[float] = field(default_factory=list)
    blocked_writes: int = 0


def _message(message: badge_pb2.ConnectRequest) -> bytes:
    return h2.grpc_message(message.SerializeToString())


class LoadConnection(asyncio.Protocol):
    """One HTTP/2 connection carrying the Connect streams of many badges."""

    def __init__(
        self,
        badges: list[LoadBadge],
        metadata: Sequence[tuple[str, str]],
        stats: LoadStats,
        scheme: str = "http",
    ) -> None:
        self.badges = {2 * i + 1: badge for i, badge in enumerate(badges)}
        self.metadata = list(metadata)
        self.scheme = scheme
        self.stats = stats
        self.transport: asyncio.Transport | None = None
        self.send_window = h2.DEFAULT_WINDOW
        self.peer_initial_window = h2.DEFAULT_WINDOW
        self.stream_windows: dict[int, int] = {}
        self.buffers: dict[int, bytearray] = {}
        self._decoder = Decoder()
        self._buffer = bytearray()
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        tls = transport.get_extra_info("ssl_object")
        if tls is not None and tls.selected_alpn_protocol() != "h2":
            # A gRPC server that did not agree to HTTP/2 would read the preface as garbage.
            for badge in self.badges.values():
                badge.ended = f"TLS without ALPN h2 (got {tls.selected_alpn_protocol()!r})"
            transport.close()
            return
        # This side reads everything at once: its windows are opened all the way.
        settings = struct.pack(">HLHL", 0x2, 0, h2.SETTINGS_INITIAL_WINDOW_SIZE, h2.MAX_WINDOW)
        out = [
            h2.PREFACE,
            h2.frame(h2.SETTINGS, 0, 0, settings),
            h2.frame(h2.WINDOW_UPDATE, 0, 0, (h2.MAX_WINDOW - h2.DEFAULT_WINDOW).to_bytes(4, "big")),
        ]
        encoder = Encoder()
        now = time.time()
        for stream_id, badge in self.badges.items():
            badge.stream_id = stream_id
            badge.connection = self
            self.stream_windows[stream_id] = self.peer_initial_window
            headers = [
                (":method", "POST"),
                (":scheme", self.scheme),
                (":path", CONNECT),
                (":authority", "badge"),
                ("content-type", "application/grpc"),
                ("te", "trailers"),
                *self.metadata,
                *((credentials.metadata(badge.token),) if badge.token else ()),
            ]
            out.append(h2.frame(h2.HEADERS, h2.END_HEADERS, stream_id, encoder.encode(headers)))
            hello = A.ConnectRequest(hello=A.Hello(badge_id=badge.badge_id, last_acked_seq=badge.seq))
            hello.hello.device_time.FromNanoseconds(int(now * 1e9))
            out.append(self._data(stream_id, _message(hello)))
        transport.write(b"".join(out))

    def _data(self, stream_id: int, payload: bytes) -> bytes:
        size = len(payload)
        if size > self.send_window or size > self.stream_windows.get(stream_id, 0):
            # Never expected at badge rates (the service grants megabytes); counted, sent anyway
            # would break the protocol, so the report is dropped and shows up as unacknowledged.
            self.stats.blocked_writes += 1
            return b""
        self.send_window -= size
        self.stream_windows[stream_id] -= size
        return h2.frame(h2.DATA, 0, stream_id, payload)

    def send_reports(self, due: list[LoadBadge], now_wall: float, now: float) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        out = []
        for badge in due:
            if not badge.welcomed or badge.ended:
                continue
            badge.seq += 1
            report = badge.report
            report.seq = badge.seq
            report.device_time.FromNanoseconds(int(now_wall * 1e9))
            measured = self.stats.measuring
            badge.sent.append((badge.seq, now, measured))
            badge.sent_in_window += measured
            out.append(self._data(badge.stream_id, _message(A.ConnectRequest(report=report))))
        if out:
            self.transport.write(b"".join(out))

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        offset, end = 0, len(buffer)
        replies: list[bytes] = []
        while end - offset >= 9:
            length = int.from_bytes(buffer[offset : offset + 3], "big")
            if end - offset - 9 < length:
                break
            kind, flags = buffer[offset + 3], buffer[offset + 4]
            stream_id = int.from_bytes(buffer[offset + 5 : offset + 9], "big") & h2.MAX_WINDOW
            payload = bytes(buffer[offset + 9 : offset + 9 + length])
            offset += 9 + length
            if kind == h2.DATA:
                self._on_data(stream_id, payload)
            elif kind == h2.HEADERS:
                self._on_headers(flags, stream_id, payload)
            elif kind == h2.SETTINGS and not flags & h2.ACK:
                for i in range(0, len(payload), 6):
                    key, value = struct.unpack_from(">HL", payload, i)
                    if key == h2.SETTINGS_INITIAL_WINDOW_SIZE:
                        delta, self.peer_initial_window = value - self.peer_initial_window, value
                        for sid in self.stream_windows:
                            self.stream_windows[sid] += delta
                replies.append(h2.frame(h2.SETTINGS, h2.ACK, 0))
            elif kind == h2.PING and not flags & h2.ACK:
                replies.append(h2.frame(h2.PING, h2.ACK, 0, payload))
            elif kind == h2.WINDOW_UPDATE:
                increment = int.from_bytes(payload, "big") & h2.MAX_WINDOW
                if stream_id == 0:
                    self.send_window += increment
                elif stream_id in self.stream_windows:
                    self.stream_windows[stream_id] += increment
            elif kind == h2.RST_STREAM and stream_id in self.badges:
                self.badges[stream_id].ended = self.badges[stream_id].ended or "reset"
        del buffer[:offset]
        if replies and self.transport is not None:
            self.transport.write(b"".join(replies))

    def _on_data(self, stream_id: int, payload: bytes) -> None:
        badge = self.badges.get(stream_id)
        if badge is None:
            return
        pending = self.buffers.setdefault(stream_id, bytearray())
        pending += payload
        while len(pending) >= 5:
            length = int.from_bytes(pending[1:5], "big")
            if len(pending) < 5 + length:
                break
            message = A.ConnectResponse.FromString(bytes(pending[5 : 5 + length]))
            del pending[: 5 + length]
            kind = message.WhichOneof("payload")
            if kind == "ack":
                self._on_ack(badge, message.ack.up_to_seq)
            elif kind == "welcome":
                # Like a real badge, carry on after what the service already holds.
                badge.seq = max(badge.seq, message.welcome.acked_seq)
                badge.welcomed = True

    def _on_ack(self, badge: LoadBadge, up_to: int) -> None:
        now = time.monotonic()
        sent = badge.sent
        while sent and sent[0][0] <= up_to:
            _, at, measured = sent.popleft()
            if measured:
                self.stats.latencies.append(now - at)
                badge.acked_in_window += 1

    def _on_headers(self, flags: int, stream_id: int, payload: bytes) -> None:
        fields = {str(name): str(value) for name, value in self._decoder.decode(payload)}
        badge = self.badges.get(stream_id)
        if badge is not None and flags & h2.END_STREAM:
            badge.ended = f"{fields.get('grpc-status', '?')} {fields.get('grpc-message', '')}".strip()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        for badge in self.badges.values():
            badge.ended = badge.ended or "connection lost"
        if not self.closed.done():
            self.closed.set_result(None)


@dataclass
class LoadResult:
    badges: int
    connected: int
    at_rate: int
    acked: int
    elapsed_s: float
    latencies: list[float]
    ended: dict[str, int]
    blocked_writes: int
    unacked: int  # reports sent in the window with no ack within ACK_GRACE_S after it


async def run_load(
    host: str,
    port: int,
    badge_ids: Sequence[str],
    *,
    metadata: Sequence[tuple[str, str]] = (),
    tokens: Mapping[str, str] | None = None,
    interval_s: float = 1.0,
    warmup_s: float = 5.0,
    measure_s: float = 10.0,
    per_connection: int = 100,
    seed: int = 7,
    tls: ssl.SSLContext | None = None,
    server_name: str | None = None,
) -> LoadResult:
    """Hold ``badge_ids`` on Connect streams, report every ``interval_s``, measure after a warm-up.

    ``tokens``: each badge's device token, for the device port; ``metadata``: sent on every
    stream (caller metadata, for the API port). ``tls``: dial TLS with this context (the API
    port's mTLS: kuzet.common.tls.client_ssl_context()), verifying that the server's certificate
    names ``server_name`` (default: ``host``); None: plaintext h2c (the device port).
    """
    loop = asyncio.get_running_loop()
    stats = LoadStats()
    rng = random.Random(seed)
    badges = []
    for badge_id in badge_ids:
        badge = LoadBadge(badge_id, (tokens or {}).get(badge_id, ""))
        badge.report.CopyFrom(
            A.TelemetryReport(
                position=common_pb2.GeoPoint(
                    latitude=41.31 + rng.uniform(-0.01, 0.01),
                    longitude=69.28 + rng.uniform(-0.01, 0.01),
                    accuracy_m=5,
                ),
                speed_mps=1.4,
                heading_deg=rng.uniform(0, 360),
                battery_percent=80,
                recording=A.RECORDING_STATE_BUFFERING,
                storage_free_bytes=48 * 1024**3,
                storage_total_bytes=64 * 1024**3,
            )
        )
        badges.append(badge)
    connections: list[LoadConnection] = []
    for start in range(0, len(badges), per_connection):
        group = badges[start : start + per_connection]
        _, protocol = await loop.create_connection(
            partial(LoadConnection, group, metadata, stats, "https" if tls else "http"),
            host,
            port,
            ssl=tls,
            server_hostname=(server_name or host) if tls else None,
        )
        connections.append(protocol)
    # Each badge gets a random phase in the interval, so reports arrive evenly, not in bursts.
    slots = max(1, round(interval_s / TICK_S))
    schedule: list[list[LoadBadge]] = [[] for _ in range(slots)]
    for badge in badges:
        schedule[rng.randrange(slots)].append(badge)
    started = loop.time()
    measure_from, measure_to = started + warmup_s, started + warmup_s + measure_s
    tick = 0
    while True:
        now = loop.time()
        if now >= measure_to:
            break
        stats.measuring = measure_from <= now
        by_connection: dict[LoadConnection, list[LoadBadge]] = {}
        for badge in schedule[tick % slots]:
            if badge.connection is not None:
                by_connection.setdefault(badge.connection, []).append(badge)
        wall, mono = time.time(), time.monotonic()
        for connection, group in by_connection.items():
            connection.send_reports(group, wall, mono)
        tick += 1
        await asyncio.sleep(max(0.0, started + tick * TICK_S - loop.time()))
    stats.measuring = False
    elapsed = loop.time() - max(measure_from, started)
    expected = elapsed / interval_s
    # Reports sent in the window are followed to their acks (or counted as never acknowledged).
    for _ in range(round(ACK_GRACE_S / 0.05)):
        if not any(b.sent and b.sent[-1][2] for b in badges):
            break
        await asyncio.sleep(0.05)
    unacked = sum(1 for b in badges for _, _, measured in b.sent if measured)
    connected = sum(1 for b in badges if b.welcomed and not b.ended)
    ended: dict[str, int] = {}
    for badge in badges:
        if badge.ended:
            ended[badge.ended] = ended.get(badge.ended, 0) + 1
    for connection in connections:
        if connection.transport is not None:
            connection.transport.close()
    for connection in connections:
        with contextlib.suppress(TimeoutError):
            await within(5, connection.closed)
    return LoadResult(
        badges=len(badges),
        connected=connected,
        at_rate=sum(
            1 for b in badges if b.sent_in_window >= 0.9 * expected and b.acked_in_window == b.sent_in_window
        ),
        unacked=unacked,
        acked=len(stats.latencies),
        elapsed_s=elapsed,
        latencies=stats.latencies,
        ended=ended,
        blocked_writes=stats.blocked_writes,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Hold many badge Connect streams against a badge service")
    parser.add_argument("--address", default="127.0.0.1:50065", help="the service's device port")
    parser.add_argument(
        "--tls",
        action="store_true",
        help="dial mutual TLS with this process's KUZET_TLS_* certificate and CA, for the API port "
        "(the device port is plaintext HTTP/2 behind the TLS-terminating load balancer)",
    )
    parser.add_argument("--badges", type=int, default=1000)
    parser.add_argument("--prefix", default="BB-", help="badge ids are <prefix>00000, <prefix>00001, ...")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--agency", default="police")
    parser.add_argument(
        "--tokens",
        help="JSON file {badge_id: device_token} (kuzet-badge-sim --tokens-out writes one); the device "
        "port refuses a stream without its badge's token",
    )
    opts = parser.parse_args()
    tokens = json.loads(Path(opts.tokens).read_text()) if opts.tokens else None
    from kuzet.common.caller import Caller, caller_metadata
    from kuzet.common.tls import client_ssl_context

    caller = Caller(subject="service:badge-load", agency=opts.agency, roles=frozenset({"service"}))
    host, _, port = opts.address.rpartition(":")
    ids = [f"{opts.prefix}{i:05d}" for i in range(opts.badges)]
    result = asyncio.run(
        run_load(
            host,
            int(port),
            ids,
            tokens=tokens,
            metadata=caller_metadata(caller, audience="badge"),
            warmup_s=3.0,
            measure_s=opts.seconds,
            tls=client_ssl_context() if opts.tls else None,
        )
    )
    ordered = sorted(result.latencies) or [float("nan")]
    print(
        f"{result.at_rate}/{result.badges} badges at 1 Hz, {result.acked / result.elapsed_s:.0f} reports/s, "
        f"p50 {ordered[len(ordered) // 2] * 1000:.1f} ms, p99 {ordered[int(len(ordered) * 0.99)] * 1000:.1f} ms"
    )
    for status, count in result.ended.items():
        print(f"  {count} streams ended: {status}")


if __name__ == "__main__":
    main()
