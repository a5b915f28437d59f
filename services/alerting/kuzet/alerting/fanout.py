"""In-process fan-out of committed updates to live subscribers.

The writer hands each commit's updates here in cursor order. A subscriber that cannot keep up is
not allowed to slow the writer: its buffer overflows, it is flagged, and it catches up from the
database log from its last cursor (so it still gets every update exactly once, in order).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from kuzet.alerting.v1 import alerting_pb2 as pb

Item = tuple[pb.AlertUpdate, pb.SubscribeResponse]


class Subscription:
    def __init__(self, accepts: Callable[[pb.AlertUpdate], bool], size: int) -> None:
        self.accepts = accepts
        self.queue: asyncio.Queue[Item] = asyncio.Queue(size)
        self.overflowed = False
        self._waiter: asyncio.Future[None] | None = None

    def offer(self, item: Item) -> None:
        if self.overflowed or not self.accepts(item[0]):
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def ready(self) -> None:
        """Wait until something is queued (or the subscription overflowed)."""
        if not self.queue.empty() or self.overflowed:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def reset(self) -> None:
        """Forget buffered updates: the caller will re-read them from the log."""
        self.overflowed = False
        while not self.queue.empty():
            self.queue.get_nowait()


class Hub:
    def __init__(self, subscriber_queue: int = 5000) -> None:
        self._subs: set[Subscription] = set()
        self.size = subscriber_queue
        # Highest cursor handed to subscribers; a new live-only subscriber starts after it.
        self.last_cursor = 0

    def subscribe(self, accepts: Callable[[pb.AlertUpdate], bool]) -> Subscription:
        sub = Subscription(accepts, self.size)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def publish(self, updates: list[pb.AlertUpdate]) -> None:
        for update in updates:
            if update.cursor <= self.last_cursor:
                continue
            self.last_cursor = update.cursor
            if not self._subs:
                continue
            # Built once and shared by every subscriber's stream.
            item = (update, pb.SubscribeResponse(update=update))
            for sub in self._subs:
                sub.offer(item)
