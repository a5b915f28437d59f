"""The Connect stream over real gRPC: many badges at once, ordering, duplicates, resume."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import func, select

from kuzet.badge import credentials
from kuzet.badge.models import TelemetryRow
from kuzet.badge.server import BadgeApp
from kuzet.badge.sim import SimBadge, register_badges
from kuzet.badge.v1 import badge_pb2 as A
from kuzet.badge.v1 import badge_pb2_grpc
from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.grpcclient import open_channel
from kuzet.common.v1 import common_pb2

from .conftest import ADMIN, AGENCY, DEVICE_PORT_TLS

Stub = badge_pb2_grpc.BadgeServiceStub
# Streaming calls carry the caller explicitly (see SimBadge.metadata).


def md() -> tuple[tuple[str, str], ...]:
    """The admin's caller metadata, minted now (tokens expire: never keep one for a session)."""
    return tuple(caller_metadata(ADMIN, audience="badge"))


def at(seconds: float) -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def report(seq: int, device_s: float, lat: float = 41.3, **fields: Any) -> A.ConnectRequest:
    return A.ConnectRequest(
        report=A.TelemetryReport(
            seq=seq,
            device_time=at(device_s),
            position=common_pb2.GeoPoint(latitude=lat, longitude=69.2),
            battery_percent=80,
            recording=A.RECORDING_STATE_ON,
            **fields,
        )
    )


async def wait_for(predicate: Callable[[], bool], limit_s: float = 5.0) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def test_two_hundred_badges_stream_concurrently(app: BadgeApp, admin: Stub, connect: Stub) -> None:
    ids = [f"B-{i:04d}" for i in range(200)]
    tokens = await register_badges(admin, AGENCY, ids, unit="u1")
    latencies: list[float] = []
    badges = [
        SimBadge(b, 41.31, 69.28, interval_s=0.25, on_ack=latencies.append, token=tokens[b]) for b in ids
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(b.run(connect, stop)) for b in badges]
    await wait_for(lambda: all(b.connected.is_set() for b in badges), limit_s=20)
    states = await admin.ListBadgeStates(A.ListBadgeStatesRequest(connected_only=True))
    assert len(states.states) == 200
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(*tasks)
    await app.hub.flush()
    for badge in badges:
        assert badge.seq >= 2
        assert badge.acked_seq == badge.seq, f"{badge.badge_id}: sent {badge.seq}, acked {badge.acked_seq}"
    with app.database.session() as session:
        stored = session.scalar(select(func.count()).select_from(TelemetryRow))
    assert stored == sum(b.seq for b in badges)
    assert len(latencies) == stored
    state = await admin.GetBadgeState(A.GetBadgeStateRequest(badge_id="B-0007"))
    assert state.state.last_report.seq == badges[7].seq
    assert state.state.officer_id == "officer-B-0007"


async def test_duplicates_dropped_and_history_ordered_by_device_time(
    app: BadgeApp, admin: Stub, connect: Stub
) -> None:
    tokens = await register_badges(admin, AGENCY, ["B-1"])
    call = connect.Connect(metadata=(*md(), credentials.metadata(tokens["B-1"])))
    await call.write(A.ConnectRequest(hello=A.Hello(badge_id="B-1")))
    welcome = await call.read()
    assert welcome.welcome.acked_seq == 0
    base = time.time() - 60
    # seq 3 was taken before seq 2 (the badge buffered it during a coverage gap); 2 arrives twice.
    for message in (
        report(1, base),
        report(3, base + 5, lat=41.33),
        report(2, base + 10, lat=41.32),
        report(2, base + 10, lat=41.32),
    ):
        await call.write(message)
    acked = 0
    while acked < 3:
        message = await call.read()
        if message.WhichOneof("payload") == "ack":
            acked = message.ack.up_to_seq
    await call.done_writing()
    assert app.hub.stats["duplicates"] == 1
    history = await admin.GetTelemetryHistory(A.GetTelemetryHistoryRequest(badge_id="B-1"))
    assert [r.report.seq for r in history.records] == [1, 3, 2]
    state = await admin.GetBadgeState(A.GetBadgeStateRequest(badge_id="B-1"))
    # The latest state is the newest by device time, whatever order the reports came in.
    assert state.state.last_report.seq == 2
    page = await admin.GetTelemetryHistory(
        A.GetTelemetryHistoryRequest(badge_id="B-1", page=common_pb2.PageRequest(page_size=2))
    )
    rest = await admin.GetTelemetryHistory(
        A.GetTelemetryHistoryRequest(
            badge_id="B-1", page=common_pb2.PageRequest(page_size=2, page_token=page.page.next_page_token)
        )
    )
    assert [r.report.seq for r in [*page.records, *rest.records]] == [1, 3, 2]


@pytest.mark.parametrize("port_kind", ["device", "api"])
async def test_reconnect_after_restart_resumes_without_loss_or_duplicates(
    make_app: Callable[..., Any], port_kind: str
) -> None:
    first: BadgeApp = await make_app()
    channel = open_channel(first.server.address, audience="badge", caller=ADMIN)
    stub = badge_pb2_grpc.BadgeServiceStub(channel)
    tokens = await register_badges(stub, AGENCY, ["B-9"])
    link_address = f"127.0.0.1:{first.device.port}" if port_kind == "device" else first.server.address
    link_channel = open_channel(
        link_address, audience="badge", caller=ADMIN, tls=DEVICE_PORT_TLS if port_kind == "device" else None
    )
    badge = SimBadge("B-9", 41.3, 69.2, interval_s=0.05, token=tokens["B-9"])
    stop = asyncio.Event()
    task = asyncio.create_task(
        badge.run(badge_pb2_grpc.BadgeServiceStub(link_channel), stop, reconnect_s=0.1)
    )
    await wait_for(lambda: badge.acked_seq >= 5)
    ports = {"port": first.server.bound_port, "device_port": first.device.port}
    await first.server.stop(0)
    sent_before_restart = badge.seq
    second: BadgeApp = await _restart(make_app, ports)
    await wait_for(lambda: badge.acked_seq > sent_before_restart + 3, limit_s=10)
    stop.set()
    await task
    await second.hub.flush()
    with second.database.session() as session:
        seqs = list(session.scalars(select(TelemetryRow.seq).where(TelemetryRow.badge_id == "B-9")))
    assert sorted(seqs) == list(range(1, len(seqs) + 1)), "a report was lost or stored twice"
    assert len(seqs) >= badge.acked_seq
    await channel.close()
    await link_channel.close()


async def _restart(make_app: Callable[..., Any], ports: dict[str, int]) -> BadgeApp:
    for _ in range(50):
        try:
            app: BadgeApp = await make_app(**ports)
            return app
        except (RuntimeError, OSError):
            await asyncio.sleep(0.1)
    raise AssertionError(f"ports {ports} did not come free")


async def test_watch_states_sends_snapshot_then_changes(app: BadgeApp, admin: Stub, connect: Stub) -> None:
    tokens = await register_badges(admin, AGENCY, ["W-1", "W-2"])
    watch = admin.WatchBadgeStates(A.WatchBadgeStatesRequest(), metadata=md())
    seen = [await watch.read(), await watch.read()]
    assert {m.state.badge_id for m in seen} == {"W-1", "W-2"}
    assert seen[-1].snapshot_complete
    badge = SimBadge("W-2", 41.3, 69.2, interval_s=0.1, token=tokens["W-2"])
    stop = asyncio.Event()
    task = asyncio.create_task(badge.run(connect, stop))
    update = await asyncio.wait_for(watch.read(), 5)
    while not update.state.connected:
        update = await asyncio.wait_for(watch.read(), 5)
    assert update.state.badge_id == "W-2"
    stop.set()
    await task
    watch.cancel()


async def test_bad_streams_are_refused_with_clear_status(
    app: BadgeApp, admin: Stub, connect: Stub, connect_for: Any, request: pytest.FixtureRequest
) -> None:
    tokens = await register_badges(admin, AGENCY, ["B-2"])
    on_device_port = request.node.callspec.params["connect_for"] == "device"
    # The device port reads B-2's token and ignores the caller; the API port the reverse.
    extra = (credentials.metadata(tokens["B-2"]),)

    async def first_reply(
        stub: Stub, *messages: A.ConnectRequest, caller: Caller = ADMIN
    ) -> grpc.aio.AioRpcError:
        call = stub.Connect(metadata=(*caller_metadata(caller, audience="badge"), *extra))
        for m in messages:
            await call.write(m)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            while True:
                reply = await call.read()
                if reply is grpc.aio.EOF:
                    raise AssertionError("stream ended without an error")
        return err.value

    err = await first_reply(connect, report(1, time.time()))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "hello" in (err.details() or "")
    err = await first_reply(connect, A.ConnectRequest(hello=A.Hello(badge_id="nope")))
    if on_device_port:
        # B-2's token speaks for B-2 only, whether or not the other badge exists.
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED and "B-2" in (err.details() or "")
    else:
        assert err.code() == grpc.StatusCode.NOT_FOUND
        other = Caller("x", "traffic-police", frozenset({"operator"}))
        hello = A.ConnectRequest(hello=A.Hello(badge_id="B-2"))
        err = await first_reply(connect_for(other), hello, caller=other)
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    err = await first_reply(connect, A.ConnectRequest(hello=A.Hello(badge_id="B-2")), report(0, time.time()))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "seq" in (err.details() or "")
    bad_position = A.ConnectRequest(
        report=A.TelemetryReport(
            seq=1, device_time=at(time.time()), position=common_pb2.GeoPoint(latitude=95)
        )
    )
    err = await first_reply(connect, A.ConnectRequest(hello=A.Hello(badge_id="B-2")), bad_position)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "WGS84" in (err.details() or "")
