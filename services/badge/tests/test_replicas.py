"""Two badge replicas on one database: commands reach a badge on either, silence is judged once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import select

from kuzet.badge.models import CommandRow, StreamHolderRow
from kuzet.badge.server import REPLICAS_HEALTH, BadgeApp, build_app
from kuzet.badge.sim import SimBadge, register_badges
from kuzet.badge.v1 import badge_pb2 as A
from kuzet.badge.v1 import badge_pb2_grpc
from kuzet.common.grpcclient import open_channel
from kuzet.common.objectstore import LocalObjectStore

from .conftest import ADMIN, AGENCY, RecordingSink, fast_settings
from .test_telemetry import md, wait_for

LEASE_S = 1.0
SIGNAL_LOST_S = 1.2
Stub = badge_pb2_grpc.BadgeServiceStub


@dataclass
class Replica:
    app: BadgeApp
    sink: RecordingSink
    stub: Stub


Start = Callable[..., Awaitable[Replica]]


@pytest.fixture
async def start_replica(db_url: str, tmp_path: Path) -> AsyncIterator[Start]:
    """Badge replicas on one database and object store, each with its own event sink."""
    apps: list[BadgeApp] = []
    channels: list[grpc.aio.Channel] = []
    # Only PostgreSQL can wake the holder (NOTIFY): there the poll is far too slow to be what
    # delivers a command in time, so the tests prove the notification path.
    poll_s = 30.0 if db_url.startswith("postgresql") else 0.2

    async def start(replica_id: str, **overrides: Any) -> Replica:
        values = {
            "replica_id": replica_id,
            "stream_lease_s": LEASE_S,
            "replica_poll_s": poll_s,
            "signal_lost_after_s": SIGNAL_LOST_S,
            **overrides,
        }
        sink = RecordingSink()
        app = await build_app(
            fast_settings(db_url, tmp_path, **values),
            sink=sink,
            objects=LocalObjectStore(tmp_path / "objects"),
            port=0,
            device_port=0,
        )
        await app.server.start()
        apps.append(app)
        channel = open_channel(app.server.address, audience="badge", caller=ADMIN)
        channels.append(channel)
        return Replica(app, sink, Stub(channel))

    yield start
    for channel in channels:
        await channel.close()
    for app in apps:
        await app.server.stop(0)


async def crash(replica: Replica, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stop a replica as kill -9 would leave the database: its claims stay until they expire."""
    streams = replica.app.hub.streams
    monkeypatch.setattr(streams, "_release_held", lambda: None)
    monkeypatch.setattr(streams, "detached", lambda live: None)
    await replica.app.server.stop(0)


@contextlib.asynccontextmanager
async def streaming(badge: SimBadge, replica: Replica) -> AsyncIterator[asyncio.Event]:
    """``badge`` connected to ``replica`` (and held there) until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(badge.run(replica.stub, stop, reconnect_s=0.1))
    await wait_for(lambda: badge.connected.is_set())
    await wait_held_by(replica, badge.badge_id)
    try:
        yield stop
    finally:
        stop.set()
        with contextlib.suppress(grpc.aio.AioRpcError):
            await task


async def wait_held_by(replica: Replica, badge_id: str) -> None:
    def holder() -> str:
        with replica.app.database.session() as session:
            row = session.get(StreamHolderRow, badge_id)
            return row.replica_id if row is not None and row.expires_at_us > time.time() * 1e6 else ""

    await wait_for(lambda: holder() == replica.app.settings.replica_id)


def pending(replica: Replica) -> set[str]:
    with replica.app.database.session() as session:
        return set(session.scalars(select(CommandRow.command_id).where(CommandRow.pending.is_(True))))


async def send(replica: Replica, badge_id: str, interval_s: int) -> A.SendCommandResponse:
    command = A.BadgeCommand(settings=A.BadgeSettings(report_interval_s=interval_s))
    response: A.SendCommandResponse = await replica.stub.SendCommand(
        A.SendCommandRequest(badge_id=badge_id, command=command)
    )
    return response


async def test_commands_reach_the_badge_wherever_it_streams_and_none_is_lost(
    start_replica: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = await start_replica("badge-a")
    await register_badges(a.stub, AGENCY, ["C-1"])
    b = await start_replica("badge-b")
    badge = SimBadge("C-1", 41.3, 69.2, interval_s=0.1)
    sent: list[str] = []
    async with streaming(badge, b):
        first = await send(a, "C-1", 5)
        sent.append(first.command_id)
        assert first.delivered  # B holds the stream
        await wait_for(lambda: [c.command_id for c in badge.commands] == sent)
        await wait_for(lambda: not pending(a))  # the badge's CommandResult reached the table
        await crash(b, monkeypatch)
    # B is gone without a word; the badge is offline: commands wait for it.
    for interval in (6, 7):
        sent.append((await send(a, "C-1", interval)).command_id)
    assert pending(a) == set(sent[1:])
    async with streaming(badge, a):
        await wait_for(lambda: len(badge.commands) == len(sent))
        await wait_for(lambda: not pending(a))
    received = [c.command_id for c in badge.commands]
    lost = len(set(sent) - set(received))
    print(f"badge_commands_lost={lost} sent={len(sent)} received={len(received)}")
    assert lost == 0
    assert received == sent  # each once, in order


async def test_an_unacknowledged_command_is_sent_again_where_the_badge_reconnects(
    start_replica: Start,
) -> None:
    a = await start_replica("badge-a")
    await register_badges(a.stub, AGENCY, ["C-2"])
    b = await start_replica("badge-b")

    async def receive_command(replica: Replica) -> A.BadgeCommand:
        """A badge that reads a command and drops the connection before answering it."""
        call = replica.stub.Connect(metadata=md())
        await call.write(A.ConnectRequest(hello=A.Hello(badge_id="C-2")))
        try:
            while True:
                message = await asyncio.wait_for(call.read(), 10.0)
                assert message is not grpc.aio.EOF
                if message.WhichOneof("payload") == "command":
                    return message.command
        finally:
            call.cancel()

    got_on_b = asyncio.create_task(receive_command(b))
    await wait_held_by(b, "C-2")
    sent = await send(a, "C-2", 9)
    assert (await got_on_b).command_id == sent.command_id
    assert pending(a) == {sent.command_id}
    again = await receive_command(a)
    assert again.command_id == sent.command_id and again.settings.report_interval_s == 9


async def test_a_replica_shows_the_live_state_of_a_badge_streaming_to_another(start_replica: Start) -> None:
    a = await start_replica("badge-a", replica_poll_s=0.2)
    await register_badges(a.stub, AGENCY, ["V-1"])
    b = await start_replica("badge-b", replica_poll_s=0.2)
    badge = SimBadge("V-1", 41.3, 69.2, interval_s=0.1)

    async def state_on_a() -> A.BadgeState:
        response = await a.stub.GetBadgeState(A.GetBadgeStateRequest(badge_id="V-1"))
        return response.state

    async def until_on_a(check: Callable[[A.BadgeState], bool]) -> None:
        deadline = time.monotonic() + 5
        while not check(await state_on_a()):
            assert time.monotonic() < deadline, f"A's view of V-1: {await state_on_a()}"
            await asyncio.sleep(0.05)

    async with streaming(badge, b):
        await asyncio.sleep(0.5)
        seq = badge.seq
        await until_on_a(lambda s: s.connected and s.last_report.seq >= seq and s.acked_seq >= seq - 5)
        listed = await a.stub.ListBadgeStates(A.ListBadgeStatesRequest(connected_only=True))
        assert [s.badge_id for s in listed.states] == ["V-1"]
    await until_on_a(lambda s: not s.connected)


async def test_no_signal_lost_for_a_badge_streaming_to_another_replica(start_replica: Start) -> None:
    a = await start_replica("badge-a")  # started first: the rules leader
    await register_badges(a.stub, AGENCY, ["S-1"])
    await wait_for(lambda: a.app.hub.leading())
    b = await start_replica("badge-b")
    badge = SimBadge("S-1", 41.3, 69.2, interval_s=0.1)
    async with streaming(badge, b):
        await asyncio.sleep(3 * SIGNAL_LOST_S)
        assert a.sink.of("badge_signal_lost") == [] and b.sink.of("badge_signal_lost") == []
    # Disconnected from B: nobody holds it, so the leader (A) judges its silence, once.
    await wait_for(lambda: len(a.sink.of("badge_signal_lost")) == 1)
    await asyncio.sleep(2 * SIGNAL_LOST_S)
    assert len(a.sink.of("badge_signal_lost")) == 1 and b.sink.of("badge_signal_lost") == []
    # Back on B: B resolves what A opened.
    async with streaming(badge, b):
        await wait_for(lambda: len(b.sink.of("badge_signal_lost", resolves=True)) == 1)
    assert a.sink.of("badge_signal_lost", resolves=True) == []


async def test_a_dead_replicas_badges_are_judged_only_after_its_claims_expire(
    start_replica: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Silence counts sooner than the claim lasts: ignoring B's claim would fire within 0.3 s.
    quick = 0.3
    a = await start_replica("badge-a", signal_lost_after_s=quick)
    await register_badges(a.stub, AGENCY, ["S-2"])
    await wait_for(lambda: a.app.hub.leading())
    b = await start_replica("badge-b", signal_lost_after_s=quick)
    badge = SimBadge("S-2", 41.3, 69.2, interval_s=0.1)
    async with streaming(badge, b):
        await asyncio.sleep(0.5)
        crashed_at = time.monotonic()
        await crash(b, monkeypatch)
    await wait_for(lambda: len(a.sink.of("badge_signal_lost")) == 1, limit_s=10)
    # The claim was renewed at most a third of the lease before the crash.
    assert time.monotonic() - crashed_at >= LEASE_S * 2 / 3
    await asyncio.sleep(1.0)
    assert len(a.sink.of("badge_signal_lost")) == 1


async def test_health_says_when_the_replicas_database_work_fails(start_replica: Start) -> None:
    a = await start_replica("badge-a")
    channel = open_channel(a.app.server.address, audience="badge", caller=ADMIN)
    health = health_pb2_grpc.HealthStub(channel)

    async def status() -> int:
        response = await health.Check(health_pb2.HealthCheckRequest(service=REPLICAS_HEALTH))
        return int(response.status)

    try:
        deadline = time.monotonic() + 5
        while await status() != health_pb2.HealthCheckResponse.SERVING:
            assert time.monotonic() < deadline, "never SERVING"
            await asyncio.sleep(0.1)

        async def database_gone() -> None:
            raise OSError("database unreachable (test)")

        a.app.hub.streams._judge = database_gone  # type: ignore[method-assign]
        deadline = time.monotonic() + 5
        while await status() != health_pb2.HealthCheckResponse.NOT_SERVING:
            assert time.monotonic() < deadline, "never NOT_SERVING"
            await asyncio.sleep(0.05)
    finally:
        await channel.close()
