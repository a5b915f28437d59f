"""The single writer: group commit of publishes, serialized lifecycle changes, then notification.

Publish RPCs put their events on a queue and wait. The writer takes everything waiting (up to
``max_batch``), applies it in one transaction, and only after COMMIT answers the callers and hands
the updates to subscribers, MQTT and the webhook worker. So an acknowledged publish is durable, a
crash before commit loses only unacknowledged publishes (the producer retries them, and event-id
idempotency makes the retry safe), and throughput comes from amortising the commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from kuzet.alerting.fanout import Hub
from kuzet.alerting.folding import Incoming, PublishOutcome
from kuzet.alerting.store import AlertStore
from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.errors import ResourceExhausted, Unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
Listener = Callable[[list[pb.AlertUpdate]], None]


class _Pending:
    __slots__ = ("future", "items")

    def __init__(self, items: list[Incoming], future: asyncio.Future[list[PublishOutcome]]) -> None:
        self.items = items
        self.future = future


class Pipeline:
    def __init__(self, store: AlertStore, hub: Hub, *, max_batch: int = 500, max_queue: int = 20_000) -> None:
        self.store = store
        self.hub = hub
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.listeners: list[Listener] = []
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._queued_events = 0
        self._write_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.commits = 0
        # Every cursor up to here is delivered to the hub or was taken (maybe unused) by us.
        self._floor = 0

    def start(self) -> None:
        self.hub.last_cursor = self._floor = self.store.max_cursor()
        self._task = asyncio.create_task(self._run(), name="alerting-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def publish(self, items: list[Incoming]) -> list[PublishOutcome]:
        if self._queued_events + len(items) > self.max_queue:
            raise ResourceExhausted(f"alerting is {self._queued_events} events behind; retry with backoff")
        future: asyncio.Future[list[PublishOutcome]] = asyncio.get_running_loop().create_future()
        self._queued_events += len(items)
        self._queue.put_nowait(_Pending(items, future))
        return await future

    async def write(self, fn: Callable[..., list[pb.AlertUpdate]], *args: Any) -> list[pb.AlertUpdate]:
        """Run a lifecycle change through the writer so that cursors reach subscribers in order."""
        async with self._write_lock:
            updates = await asyncio.to_thread(fn, *args)
            await self._notify(updates)
        return updates

    async def poll_other_writers(self) -> int:
        """Hand subscribers what other replicas committed (they share the log, not this process)."""
        async with self._write_lock:
            found = await asyncio.to_thread(self.store.updates_after, self.hub.last_cursor, None, 1000)
            self.hub.publish(found)
            self._floor = max(self._floor, self.hub.last_cursor)
            return len(found)

    async def _notify(self, updates: list[pb.AlertUpdate]) -> None:
        first, last = self.store.allocation
        if first > max(self._floor, self.hub.last_cursor) + 1:
            # Cursors between what we have seen and what we took belong to another replica's
            # commits (the log is shared): deliver those first, so subscribers stay in order.
            gap = await asyncio.to_thread(self.store.updates_after, self.hub.last_cursor, None, 10_000)
            self.hub.publish([u for u in gap if u.cursor < first])
        self._floor = max(self._floor, last)
        if not updates:
            return
        self.hub.publish(updates)
        for listener in self.listeners:
            try:
                listener(updates)
            except Exception:
                log.exception("alert listener failed")

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            count = len(first.items)
            while count < self.max_batch and not self._queue.empty():
                nxt = self._queue.get_nowait()
                batch.append(nxt)
                count += len(nxt.items)
            items = [i for p in batch for i in p.items]
            self._queued_events -= len(items)
            try:
                async with self._write_lock:
                    outcomes, updates = await self._commit(items)
                    self.commits += 1
                    await self._notify(updates)
            except Exception as exc:
                log.exception("publish batch of %d events failed", len(items))
                if len(batch) > 1:
                    # One bad request must not fail (and, retried, block) everyone else's: try
                    # each request on its own; only the failing one gets the error.
                    await self._one_by_one(batch)
                    continue
                error = Unavailable(f"alerting could not store the event ({type(exc).__name__}); retry")
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(error)
                continue
            start = 0
            for p in batch:
                if not p.future.done():
                    p.future.set_result(outcomes[start : start + len(p.items)])
                start += len(p.items)

    async def _one_by_one(self, batch: list[_Pending]) -> None:
        for p in batch:
            try:
                async with self._write_lock:
                    outcomes, updates = await self._commit(p.items)
                    self.commits += 1
                    await self._notify(updates)
            except Exception as exc:
                log.exception("publish of %d events failed on its own", len(p.items))
                if not p.future.done():
                    p.future.set_exception(
                        Unavailable(f"alerting could not store the event ({type(exc).__name__}); retry")
                    )
                continue
            if not p.future.done():
                p.future.set_result(outcomes)

    async def _commit(self, items: Sequence[Incoming]) -> tuple[list[PublishOutcome], list[pb.AlertUpdate]]:
        for attempt in range(3):
            try:
                return await asyncio.to_thread(self.store.publish, items)
            except (IntegrityError, OperationalError, DBAPIError):
                # A concurrent writer (another replica, or SQLite busy) got there first: the
                # transaction rolled back entirely, so applying the batch again is safe.
                if attempt == 2:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")
