"""An in-memory outbox: items a service hands to another one, sent in order by one background
task, in batches, and retried with exponential backoff and jitter while the receiver is
unreachable, so that a restarting service loses nothing that was queued.

Bounded: past ``capacity`` the oldest item goes (counted as dropped, logged), so a receiver that
stays down costs memory, not the sender's life. What a refusal means (drop, split, count) is the
sender's: ``send`` handles every gRPC error that is not retryable (``RETRYABLE``) and lets the
retryable ones through to the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

import grpc

from kuzet.common.eventsink import RETRYABLE
from kuzet.common.waiting import wait_set

log = logging.getLogger(__name__)

T = TypeVar("T")


class OutboxStats(Protocol):
    retries: int
    dropped: int


class Outbox(Generic[T]):
    def __init__(
        self,
        receiver: str,
        send: Callable[[list[T]], Awaitable[None]],
        stats: OutboxStats,
        *,
        describe: Callable[[T], str] = str,
        batch_size: int = 1,
        capacity: int = 1_000,
        initial_backoff_s: float = 0.2,
        max_backoff_s: float = 10.0,
    ) -> None:
        self.receiver = receiver  # e.g. "traffic service", for logs and status
        self._send, self.stats, self._describe = send, stats, describe
        self.batch_size, self.capacity = batch_size, capacity
        self.initial_backoff_s, self.max_backoff_s = initial_backoff_s, max_backoff_s
        self._queue: deque[T] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._sending = 0
        # The gRPC code of the last failed try while a batch is being retried; "" once delivered.
        self.unreachable = ""

    @property
    def pending(self) -> int:
        """Items queued or being sent."""
        return len(self._queue) + self._sending

    def submit(self, item: T) -> None:
        if len(self._queue) >= self.capacity:
            lost = self._queue.popleft()
            self.stats.dropped += 1
            log.error("outbox to the %s full: dropped %s", self.receiver, self._describe(lost))
        self._queue.append(item)
        self._idle.clear()
        self._wake.set()

    def start(self, name: str) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=name)

    async def flush(self, timeout_s: float) -> bool:
        """Whether every submitted item was delivered (or refused) within ``timeout_s``."""
        return await wait_set(self._idle, timeout_s)

    async def close(self, drain_s: float) -> None:
        await self.flush(drain_s)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._queue:
            log.error("%d items for the %s unsent at shutdown", len(self._queue), self.receiver)

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            self._sending = len(batch)
            try:
                await self._deliver(batch)
            except asyncio.CancelledError:
                self._queue.extendleft(reversed(batch))
                raise
            finally:
                self._sending = 0

    async def _deliver(self, batch: list[T]) -> None:
        backoff = self.initial_backoff_s
        while True:
            try:
                await self._send(batch)
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in RETRYABLE:  # the sender should have handled it
                    log.error(
                        "%s refused %d items: %s %s",
                        self.receiver,
                        len(batch),
                        exc.code().name,
                        exc.details(),
                    )
                    return
                if not self.unreachable:
                    log.warning("%s unreachable (%s): retrying", self.receiver, exc.code().name)
                self.unreachable = exc.code().name
                self.stats.retries += 1
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            if self.unreachable:
                log.info("%s reachable again", self.receiver)
            self.unreachable = ""
            return
