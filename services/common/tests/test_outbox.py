"""The outbox: order, batches, retries while the receiver is unreachable, the bound."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import grpc
from grpc.aio import Metadata

from kuzet.common.outbox import Outbox


@dataclass
class Stats:
    retries: int = 0
    dropped: int = 0


def error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, Metadata(), Metadata(), details="test")


async def test_items_leave_in_order_in_batches_and_survive_an_outage() -> None:
    sent: list[list[int]] = []
    down = 3  # the first three tries find the receiver unreachable

    async def send(batch: list[int]) -> None:
        nonlocal down
        if down:
            down -= 1
            raise error(grpc.StatusCode.UNAVAILABLE)
        sent.append(batch)

    stats = Stats()
    box: Outbox[int] = Outbox("receiver", send, stats, batch_size=4, initial_backoff_s=0.01)
    for i in range(10):
        box.submit(i)
    box.start("test-outbox")
    assert await box.flush(5.0)
    assert [i for b in sent for i in b] == list(range(10)) and all(len(b) <= 4 for b in sent)
    assert stats.retries == 3 and box.unreachable == "" and box.pending == 0
    await box.close(1.0)


async def test_a_full_outbox_drops_the_oldest_and_a_refusal_is_not_retried() -> None:
    sent: list[int] = []

    async def send(batch: list[int]) -> None:
        if batch == [3]:
            raise error(grpc.StatusCode.INVALID_ARGUMENT)
        sent.extend(batch)

    stats = Stats()
    box: Outbox[int] = Outbox("receiver", send, stats, capacity=3)
    for i in range(5):
        box.submit(i)  # 0 and 1 go
    assert stats.dropped == 2 and box.pending == 3
    box.start("test-outbox")
    assert await box.flush(5.0)
    assert sent == [2, 4] and stats.retries == 0
    await box.close(1.0)


async def test_while_unreachable_the_outbox_says_why() -> None:
    gate = asyncio.Event()

    async def send(batch: list[int]) -> None:
        if not gate.is_set():
            raise error(grpc.StatusCode.DEADLINE_EXCEEDED)

    stats = Stats()
    box: Outbox[int] = Outbox("receiver", send, stats, initial_backoff_s=0.01, max_backoff_s=0.02)
    box.start("test-outbox")
    box.submit(1)
    for _ in range(100):
        if box.unreachable:
            break
        await asyncio.sleep(0.01)
    assert box.unreachable == "DEADLINE_EXCEEDED" and box.pending == 1
    gate.set()
    assert await box.flush(5.0) and box.unreachable == ""
    await box.close(1.0)
