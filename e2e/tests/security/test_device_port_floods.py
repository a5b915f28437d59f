"""HTTP/2 floods and bad tokens at the badge device port, with a real badge streaming throughout.

The badge service runs as its own process (SQLite, tight KUZET_BADGE_DEVICE_* limits so that the
timeouts take seconds); its memory is read from /proc/<pid>/status (VmRSS, sampled while each
attack runs). The attackers speak raw HTTP/2 from this process; the legitimate badge is the real
grpcio client (SimBadge) with its own device token, and must keep getting its reports
acknowledged while every attack runs. Every attack runs against both framings
KUZET_BADGE_DEVICE_HTTP2 offers (builtin, h2).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from hpack import Encoder

from kuzet.badge import credentials
from kuzet.badge.sim import SimBadge
from kuzet.badge.telemetry import h2grpc as h2
from kuzet.badge.v1 import badge_pb2 as A
from kuzet.badge.v1 import badge_pb2_grpc

CONNECT = "/kuzet.badge.v1.BadgeService/Connect"
# A fresh legitimate badge per test (a new SimBadge starts again at seq 1).
LEGIT = [f"F-LEGIT-{i:02d}" for i in range(16)]
BADGES = [*LEGIT, "F-OTHER", "F-REVOKED"]
PROTOCOL_ERROR, ENHANCE_YOUR_CALM = 0x1, 0xB
FRAMINGS = ["builtin", "h2"]
# What an attack may add to the server's resident memory (the unfixed port held 32 MB per
# CONTINUATION flood connection; four run at once below).
RSS_BUDGET_BYTES = 24 * 1024 * 1024

# Runs the badge service; prints its device port and each badge's token once it serves.
SERVER = """
import asyncio, json, sys
from pathlib import Path
from kuzet.badge import credentials
from kuzet.badge.config import BadgeSettings
from kuzet.badge.models import BadgeRow
from kuzet.badge.server import build_app
from kuzet.badge.v1 import badge_pb2
from kuzet.common.timeutil import utcnow


class NoAlerts:
    def publish(self, event):
        pass


async def main(work, ids):
    settings = BadgeSettings(database_url=f"sqlite:///{work}/badge.db", data_dir=Path(work))
    app = await build_app(settings, sink=NoAlerts(), port=0, device_port=0)
    await app.server.start()
    tokens = {}
    with app.database.session() as session:
        now = utcnow()
        for badge_id in ids:
            token, digest = credentials.new_token(badge_id)
            row = BadgeRow(badge_id=badge_id, agency_id="police", unit_id="u1", serial_number="",
                           firmware_version="", status=badge_pb2.BADGE_STATUS_ACTIVE,
                           officer_id="off-" + badge_id, registered_at=now, updated_at=now,
                           device_credential_hash=digest)
            session.add(row)
            session.flush()
            app.hub.update_badge(row)
            tokens[badge_id] = token
    print(json.dumps({"port": app.device.port, "tokens": tokens}), flush=True)
    await asyncio.Event().wait()


asyncio.run(main(sys.argv[1], sys.argv[2:]))
"""

LIMITS = {
    "KUZET_BADGE_DEVICE_PREFACE_TIMEOUT_S": "1",
    "KUZET_BADGE_DEVICE_IDLE_TIMEOUT_S": "2",
    "KUZET_BADGE_DEVICE_MAX_CONNECTIONS": "40",
    "KUZET_BADGE_DEVICE_WRITE_HIGH_WATER_BYTES": str(64 * 1024),
}


@dataclass
class Server:
    process: subprocess.Popen[str]
    framing: str
    port: int
    tokens: dict[str, str]
    work: Path
    legit_used: int = 0

    def rss(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")


def _start(work: Path, framing: str, extra: dict[str, str]) -> Server:
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **LIMITS, "KUZET_BADGE_DEVICE_HTTP2": framing, **extra}
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(work), *BADGES],
        stdout=subprocess.PIPE,
        stderr=(work / "server.log").open("w"),
        text=True,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait(10)
        raise AssertionError("the badge service did not start:\n" + (work / "server.log").read_text()[-3000:])
    started = json.loads(line)
    return Server(process, framing, started["port"], started["tokens"], work)


@pytest.fixture(scope="module", params=FRAMINGS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = _start(tmp_path_factory.mktemp(f"badge-floods-{request.param}"), request.param, {})
    try:
        yield running
    finally:
        running.process.terminate()
        running.process.wait(30)


@pytest.fixture
async def legit(server: Server) -> AsyncIterator[SimBadge]:
    """A real badge (grpcio) streaming on the device port with its own token during the test."""
    badge_id = LEGIT[server.legit_used]
    server.legit_used += 1
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    badge = SimBadge(badge_id, 41.3, 69.2, interval_s=0.1, token=server.tokens[badge_id])
    stop = asyncio.Event()
    task = asyncio.create_task(badge.run(badge_pb2_grpc.BadgeServiceStub(channel), stop, reconnect_s=0.2))
    await asyncio.wait_for(badge.connected.wait(), 20)
    await _acks_advance(badge)
    yield badge
    stop.set()
    await asyncio.wait_for(task, 20)
    await channel.close()


async def _acks_advance(badge: SimBadge, by: int = 5, within_s: float = 15.0) -> None:
    start = badge.acked_seq
    deadline = time.monotonic() + within_s
    while badge.acked_seq < start + by:
        assert time.monotonic() < deadline, f"the real badge got no acks for {within_s} s ({badge.acked_seq})"
        await asyncio.sleep(0.05)


class Attacker:
    """A raw HTTP/2 client that sends what it likes; a background task reads what comes back.

    Plain socket calls rather than a stream transport: a send that fails once the server has
    reset the connection must not discard the GOAWAY already waiting to be read.
    """

    def __init__(self, sock: socket.socket, read: bool) -> None:
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self.encoder = Encoder()
        self.goaway_seen: tuple[int, bytes] | None = None
        self._reading = asyncio.ensure_future(self._read_all()) if read else None

    @classmethod
    async def open(cls, port: int, *, preface: bool = True, read: bool = True, rcvbuf: int = 0) -> Attacker:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        attacker = cls(sock, read)
        if preface:
            await attacker.send(h2.PREFACE + h2.frame(h2.SETTINGS, 0, 0))
        return attacker

    async def _read_all(self) -> None:
        buffer = b""
        with contextlib.suppress(OSError):
            while chunk := await self.loop.sock_recv(self.sock, 65536):
                buffer += chunk
                while len(buffer) >= 9 and len(buffer) >= 9 + int.from_bytes(buffer[:3], "big"):
                    end = 9 + int.from_bytes(buffer[:3], "big")
                    if buffer[3] == h2.GOAWAY:
                        self.goaway_seen = (struct.unpack(">L", buffer[13:17])[0], buffer[17:end])
                    buffer = buffer[end:]

    def headers_block(self, token: str = "") -> bytes:
        fields = [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", CONNECT),
            (":authority", "badge"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ]
        if token:
            fields.append(credentials.metadata(token))
        return bytes(self.encoder.encode(fields))

    async def send(self, data: bytes) -> bool:
        """False once the server has closed the connection (or stopped taking bytes for 10 s)."""
        if self._reading is not None and self._reading.done():
            return False
        try:
            await asyncio.wait_for(self.loop.sock_sendall(self.sock, data), 10)
        except (OSError, TimeoutError):
            return False
        return True

    async def goaway(self, within_s: float = 15.0) -> tuple[int, bytes] | None:
        """Once the server has closed: its GOAWAY's (error code, debug text), None if none came."""
        await self.closed(within_s)
        return self.goaway_seen

    async def closed(self, within_s: float) -> float:
        """Seconds until the server closes the connection."""
        assert self._reading is not None
        started = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.shield(self._reading), within_s)
        except TimeoutError:
            raise AssertionError(f"the server kept the connection open for {within_s} s") from None
        return time.monotonic() - started

    def close(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
        self.sock.close()


async def _sampled_rss(server: Server, attack: asyncio.Future[object] | asyncio.Task[object]) -> int:
    """The largest RSS seen while ``attack`` runs (and just after)."""
    peak = server.rss()
    while not attack.done():
        peak = max(peak, server.rss())
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    return max(peak, server.rss())


# -- header blocks --------------------------------------------------------------------------------


async def test_continuation_flood_is_cut_off_with_memory_bounded(server: Server, legit: SimBadge) -> None:
    baseline = server.rss()

    async def flood() -> tuple[tuple[int, bytes] | None, int]:
        attacker = await Attacker.open(server.port)
        # A header block that never ends: 32 MB of CONTINUATION, 16 KiB at a time, no token.
        first = h2.frame(h2.HEADERS, 0, 1, attacker.headers_block())
        chunk = h2.frame(h2.CONTINUATION, 0, 1, b"\x00" * 16_384)
        sent = len(first)
        ok = await attacker.send(first)
        while ok and sent < 32 * 1024 * 1024:
            ok = await attacker.send(chunk * 16)
            sent += len(chunk) * 16
        result = await attacker.goaway()
        attacker.close()
        return result, sent

    attacks = asyncio.gather(*(flood() for _ in range(4)))
    peak = await _sampled_rss(server, attacks)
    for goaway, sent in attacks.result():
        assert goaway is not None and goaway[0] == ENHANCE_YOUR_CALM, goaway
        assert b"header block" in goaway[1]
        assert sent < 32 * 1024 * 1024, "the server read the whole 32 MB"
    assert peak - baseline < RSS_BUDGET_BYTES, f"RSS grew by {(peak - baseline) / 2**20:.1f} MiB"
    await _acks_advance(legit)


async def test_empty_continuation_frames_count_as_a_flood(server: Server, legit: SimBadge) -> None:
    attacker = await Attacker.open(server.port)
    first = h2.frame(h2.HEADERS, 0, 1, attacker.headers_block())
    await attacker.send(first + h2.frame(h2.CONTINUATION, 0, 1) * 50_000)
    goaway = await attacker.goaway()
    if server.framing == "h2":
        # h2 ends a header block of more than 64 CONTINUATION frames first, as a protocol error.
        assert goaway is not None and goaway[0] == PROTOCOL_ERROR, goaway
    else:
        assert goaway is not None and goaway[0] == ENHANCE_YOUR_CALM and b"flood" in goaway[1]
    attacker.close()
    await _acks_advance(legit)


# -- control frames -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(h2.frame(h2.PING, 0, 0, b"12345678"), id="PING"),
        pytest.param(h2.frame(h2.SETTINGS, 0, 0, struct.pack(">HL", 0x4, 65_535)), id="SETTINGS"),
        pytest.param(h2.frame(h2.PRIORITY, 0, 3, b"\x00\x00\x00\x01\x10"), id="PRIORITY"),
    ],
)
async def test_control_frame_flood_gets_enhance_your_calm(
    server: Server, legit: SimBadge, kind: bytes
) -> None:
    baseline = server.rss()

    async def flood() -> tuple[int, bytes] | None:
        attacker = await Attacker.open(server.port)
        ok, sent = True, 0
        while ok and sent < 200_000:
            ok = await attacker.send(kind * 1000)
            sent += 1000
        result = await attacker.goaway()
        attacker.close()
        return result

    attack = asyncio.ensure_future(flood())
    peak = await _sampled_rss(server, attack)
    goaway = attack.result()
    assert goaway is not None and goaway[0] == ENHANCE_YOUR_CALM and b"control frame flood" in goaway[1]
    assert peak - baseline < RSS_BUDGET_BYTES
    await _acks_advance(legit)


async def test_window_update_flood_hits_its_sanity_cap(server: Server, legit: SimBadge) -> None:
    attacker = await Attacker.open(server.port)
    await attacker.send(h2.frame(h2.WINDOW_UPDATE, 0, 0, (1).to_bytes(4, "big")) * 50_000)
    goaway = await attacker.goaway()
    assert goaway is not None and goaway[0] == ENHANCE_YOUR_CALM and b"WINDOW_UPDATE" in goaway[1]
    attacker.close()
    await _acks_advance(legit)


async def test_bad_token_churn_is_a_flood(server: Server, legit: SimBadge) -> None:
    # Every refused call costs a lookup and a reply: thousands of them end the connection.
    attacker = await Attacker.open(server.port)
    frames = b"".join(
        h2.frame(
            h2.HEADERS, h2.END_HEADERS | h2.END_STREAM, 2 * i + 1, attacker.headers_block("F-OTHER.guess")
        )
        for i in range(3000)
    )
    await attacker.send(frames)
    goaway = await attacker.goaway()
    assert goaway is not None and goaway[0] == ENHANCE_YOUR_CALM
    attacker.close()
    await _acks_advance(legit)


# -- a peer that does not read, slow and idle peers --------------------------------------------------


@pytest.mark.parametrize("framing", FRAMINGS)
async def test_a_peer_that_never_reads_is_paused_then_dropped(tmp_path: Path, framing: str) -> None:
    # A generous control budget, so that only backpressure can stop the PING replies piling up.
    lenient = _start(
        tmp_path / "lenient",
        framing,
        {
            "KUZET_BADGE_DEVICE_CONTROL_FRAMES_PER_S": "1000000",
            "KUZET_BADGE_DEVICE_CONTROL_FRAME_BURST": "100000000",
        },
    )
    try:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{lenient.port}")
        badge = SimBadge(LEGIT[0], 41.3, 69.2, interval_s=0.1, token=lenient.tokens[LEGIT[0]])
        stop = asyncio.Event()
        task = asyncio.create_task(badge.run(badge_pb2_grpc.BadgeServiceStub(channel), stop))
        await asyncio.wait_for(badge.connected.wait(), 20)
        baseline = lenient.rss()
        attacker = await Attacker.open(lenient.port, read=False, rcvbuf=4096)
        # With a call open (a real badge's token), so that only backpressure can end this.
        hello = A.ConnectRequest(hello=A.Hello(badge_id=LEGIT[1])).SerializeToString()
        await attacker.send(
            h2.frame(h2.HEADERS, h2.END_HEADERS, 1, attacker.headers_block(lenient.tokens[LEGIT[1]]))
            + h2.frame(h2.DATA, 0, 1, h2.grpc_message(hello))
        )
        ping = h2.frame(h2.PING, 0, 0, b"12345678") * 4096

        async def flood() -> float:
            # 17 bytes of reply per 17 bytes sent, never read: the server must stop reading.
            started = time.monotonic()
            sent = 0
            while await attacker.send(ping) and sent < 200 * 1024 * 1024:
                sent += len(ping)
            return time.monotonic() - started

        attack = asyncio.ensure_future(flood())
        peak = await _sampled_rss(lenient, attack)
        # Reading paused at 64 KiB unsent; dropped after 2 s (the idle timeout) of the peer taking
        # nothing, long before 200 MB.
        assert attack.result() < 30
        assert peak - baseline < RSS_BUDGET_BYTES, f"RSS grew by {(peak - baseline) / 2**20:.1f} MiB"
        attacker.close()
        await _acks_advance(badge)
        stop.set()
        await asyncio.wait_for(task, 20)
        await channel.close()
    finally:
        lenient.process.terminate()
        lenient.process.wait(30)


async def test_slow_half_open_and_idle_connections_are_closed(server: Server, legit: SimBadge) -> None:
    silent = await Attacker.open(server.port, preface=False)
    half = await Attacker.open(server.port, preface=False)
    await half.send(h2.PREFACE[:10])
    idle = await Attacker.open(server.port)
    # A frame header promising a payload that never comes, on a connection with no call.
    partial = await Attacker.open(server.port)
    await partial.send(
        b"\x00\x01\x00" + bytes([h2.HEADERS, h2.END_HEADERS]) + (1).to_bytes(4, "big") + b"\x00"
    )
    # The preface timeout is 1 s, the idle timeout 2 s.
    for attacker, limit in ((silent, 8.0), (half, 8.0), (idle, 10.0), (partial, 10.0)):
        assert await attacker.closed(within_s=limit) < limit
        attacker.close()
    await _acks_advance(legit)


async def test_connection_flood_is_capped_and_the_badge_keeps_streaming(
    server: Server, legit: SimBadge
) -> None:
    baseline = server.rss()
    attackers = [await Attacker.open(server.port) for _ in range(120)]
    refused = 0
    for attacker in attackers:
        with contextlib.suppress(TimeoutError):
            goaway = await asyncio.wait_for(attacker.goaway(within_s=12), 12)
            if goaway is not None and goaway[0] == ENHANCE_YOUR_CALM:
                refused += 1
    # 40 connections at most (the real badge holds one): the rest were refused at once, and the
    # admitted ones (no call) were closed by the idle timeout.
    assert refused >= 120 - 40, refused
    assert server.rss() - baseline < RSS_BUDGET_BYTES
    for attacker in attackers:
        attacker.close()
    await _acks_advance(legit)
    # Room again for a new badge once the flood is gone.
    assert await _first_status(server, "F-OTHER", "F-OTHER") == (grpc.StatusCode.OK, "welcome")


# -- device tokens ----------------------------------------------------------------------------------


async def _first_status(
    server: Server, token_of: str, badge_id: str, token: str = ""
) -> tuple[grpc.StatusCode, str]:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    call = badge_pb2_grpc.BadgeServiceStub(channel).Connect(
        metadata=(credentials.metadata(token or server.tokens[token_of]),)
    )
    try:
        with contextlib.suppress(grpc.aio.AioRpcError):
            await call.write(A.ConnectRequest(hello=A.Hello(badge_id=badge_id)))
        reply = await asyncio.wait_for(call.read(), 10)
        return grpc.StatusCode.OK, reply.WhichOneof("payload")
    except grpc.aio.AioRpcError:
        return await call.code(), await call.details()
    finally:
        call.cancel()
        await channel.close()


async def test_wrong_other_and_revoked_tokens_are_refused_clearly(server: Server, legit: SimBadge) -> None:
    code, message = await _first_status(server, "F-OTHER", legit.badge_id)
    assert (
        code == grpc.StatusCode.PERMISSION_DENIED and f"may not speak for badge {legit.badge_id}" in message
    )
    wrong = server.tokens["F-OTHER"][:-4] + (
        "AAAA" if not server.tokens["F-OTHER"].endswith("AAAA") else "BBBB"
    )
    code, message = await _first_status(server, "", "F-OTHER", token=wrong)
    assert code == grpc.StatusCode.UNAUTHENTICATED and "invalid or revoked device token" in message
    code, message = await _first_status(server, "", "F-OTHER", token="garbage")
    assert code == grpc.StatusCode.UNAUTHENTICATED and "malformed device token" in message

    # Revoked where another replica would: in the database; this replica reads it and ends the stream.
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    call = badge_pb2_grpc.BadgeServiceStub(channel).Connect(
        metadata=(credentials.metadata(server.tokens["F-REVOKED"]),)
    )
    await call.write(A.ConnectRequest(hello=A.Hello(badge_id="F-REVOKED")))
    assert (await call.read()).WhichOneof("payload") == "welcome"
    _revoke(server, "F-REVOKED")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        while await asyncio.wait_for(call.read(), 15) is not grpc.aio.EOF:
            pass
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED and "revoked" in (err.value.details() or "")
    await channel.close()
    code, message = await _first_status(server, "F-REVOKED", "F-REVOKED")
    assert code == grpc.StatusCode.UNAUTHENTICATED and "invalid or revoked" in message
    await _acks_advance(legit)


def _revoke(server: Server, badge_id: str) -> None:
    from kuzet.badge.models import BadgeRow
    from kuzet.common.db import Database
    from kuzet.common.timeutil import utcnow

    database = Database(f"sqlite:///{server.work}/badge.db")
    with database.session() as session:
        row = session.get(BadgeRow, badge_id)
        assert row is not None
        row.device_credential_hash = ""
        row.updated_at = utcnow()
    database.dispose()
