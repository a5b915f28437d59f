"""SimBadge and replicas: a badge that reaches a replica which does not know it yet keeps asking."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from kuzet.badge.sim import SimBadge, register_badges

from .conftest import AGENCY
from .test_replicas import Start, start_replica  # noqa: F401 - fixture
from .test_telemetry import wait_for


async def test_a_badge_connects_once_its_registration_on_another_replica_is_visible(
    start_replica: Start,  # noqa: F811 - the fixture imported above
) -> None:
    a = await start_replica("badge-a", replica_poll_s=0.5)
    b = await start_replica("badge-b", replica_poll_s=0.5)
    badge = SimBadge("N-1", 41.3, 69.2, interval_s=0.1)
    stop = asyncio.Event()
    # Streaming to B before the badge exists anywhere: B answers NOT_FOUND until its registry poll
    # sees the registration made on A, and the badge keeps asking meanwhile.
    task = asyncio.create_task(badge.run(b.stub, stop, reconnect_s=0.2, unknown_for_s=10))
    try:
        await asyncio.sleep(0.5)
        assert not badge.connected.is_set() and not task.done()
        await register_badges(a.stub, AGENCY, ["N-1"])
        await wait_for(lambda: badge.connected.is_set() or task.done(), limit_s=10)
        assert badge.connected.is_set(), task
        await wait_for(lambda: badge.acked_seq > 0)
    finally:
        stop.set()
        await task


async def test_a_badge_nobody_registered_gives_up_with_not_found(
    start_replica: Start,  # noqa: F811 - the fixture imported above
) -> None:
    b = await start_replica("badge-b", replica_poll_s=0.5)
    badge = SimBadge("N-2", 41.3, 69.2, interval_s=0.1)
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await asyncio.wait_for(badge.run(b.stub, asyncio.Event(), reconnect_s=0.2, unknown_for_s=1.0), 10)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert time.monotonic() - started >= 1.0


async def test_metadata_given_as_a_callable_is_asked_at_every_connect(
    start_replica: Start,  # noqa: F811 - the fixture imported above
) -> None:
    """Caller tokens live seconds and a badge hours: each reconnect must carry fresh metadata."""
    b = await start_replica("badge-b", replica_poll_s=0.5)
    asked: list[int] = []

    def fresh() -> list[tuple[str, str]]:
        asked.append(len(asked))
        return [("x-kuzet-sim-connect", str(len(asked)))]

    badge = SimBadge("N-3", 41.3, 69.2, interval_s=0.1, metadata=fresh)
    stop = asyncio.Event()
    # NOT_FOUND until registered: every attempt is a new Connect, so a new ask.
    task = asyncio.create_task(badge.run(b.stub, stop, reconnect_s=0.2, unknown_for_s=10))
    try:
        await wait_for(lambda: len(asked) >= 2 or task.done(), limit_s=10)
        await register_badges(b.stub, AGENCY, ["N-3"])
        await wait_for(lambda: badge.connected.is_set() or task.done(), limit_s=10)
        assert badge.connected.is_set(), task
        assert len(asked) >= 3
    finally:
        stop.set()
        await task
