"""Publishing events to alerting from any producer (ingest, badge, drone, traffic, identity).

A producer must never block its pipeline on alerting, and must not lose events when alerting
restarts. ``EventSink.publish()`` only appends to a bounded in-memory outbox and returns; worker
tasks send each event with ``AlertingService.Publish`` and retry with exponential backoff while
alerting is unreachable. Alerting deduplicates by ``event_id``, so a retry after a lost reply is
harmless. When the outbox is full the *oldest* event is dropped (the newest evidence is worth
more during an outage) and counted, so an operator can see that drops happened.

Each event is sent under the OpenTelemetry context that was current when ``publish()`` was
called, so the alert continues the producer's trace (camera frame -> console is one trace).

Usage::

    sink = EventSink(Endpoints().alerting, caller=service_caller("ingest"))
    await sink.start()
    sink.publish(new_event(...))
    ...
    await sink.close()          # tries to drain for drain_timeout_s first
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate

from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.grpcclient import open_channel
from kuzet.common.v1 import common_pb2
from kuzet.common.waiting import wait_set

log = logging.getLogger(__name__)
# The service events go to: the audience of their caller tokens.
ALERTING = "alerting"

# Codes after which the same request can succeed later. Anything else (INVALID_ARGUMENT,
# PERMISSION_DENIED...) is the producer's bug: retrying would only block the outbox.
RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.CANCELLED,
    }
)


@dataclass
class EventSinkStats:
    """Counters since start; ``dropped`` > 0 means the outbox overflowed during an outage."""

    enqueued: int = 0
    sent: int = 0
    duplicates: int = 0
    dropped: int = 0
    rejected: int = 0
    retries: int = 0
    pending: int = 0


@dataclass
class _Item:
    event: common_pb2.Event
    ctx: otel_context.Context


class EventSink:
    """Bounded outbox + background senders to ``AlertingService.Publish``."""

    def __init__(
        self,
        address: str = "",
        *,
        channel: grpc.aio.Channel | None = None,
        caller: Caller | None = None,
        capacity: int = 10_000,
        concurrency: int = 8,
        batch_size: int = 100,
        timeout_s: float = 30.0,
        initial_backoff_s: float = 0.2,
        max_backoff_s: float = 10.0,
    ) -> None:
        if not address and channel is None:
            raise ValueError("EventSink needs the alerting address or a channel")
        if capacity < 1 or concurrency < 1:
            raise ValueError("capacity and concurrency must be at least 1")
        self._address = address
        self._channel = channel
        self._own_channel = channel is None
        self._caller = caller
        self.capacity = capacity
        self._concurrency = concurrency
        self._batch_size = max(1, min(batch_size, 1000))
        self._timeout_s = timeout_s
        self._initial_backoff_s = initial_backoff_s
        self._max_backoff_s = max_backoff_s
        self._outbox: deque[_Item] = deque()
        self._in_flight = 0
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._workers: list[asyncio.Task[None]] = []
        self._stub: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stats = EventSinkStats()

    def _call_metadata(self) -> list[tuple[str, str]] | None:
        # Explicit metadata too, so that a caller-supplied plain channel still identifies us; a
        # token per call (cached by kuzet.common.caller), as tokens expire.
        return caller_metadata(self._caller, audience=ALERTING) if self._caller is not None else None

    async def start(self) -> None:
        # Imported here so kuzet.common does not need the alerting contract at import time.
        from kuzet.alerting.v1 import alerting_pb2_grpc

        if self._workers:
            return
        self._loop = asyncio.get_running_loop()
        if self._channel is None:
            self._channel = open_channel(self._address, audience=ALERTING, caller=self._caller)
        self._stub = alerting_pb2_grpc.AlertingServiceStub(self._channel)
        self._workers = [
            asyncio.create_task(self._worker(), name=f"eventsink-{i}") for i in range(self._concurrency)
        ]

    def publish_threadsafe(self, event: common_pb2.Event) -> None:
        """``publish`` from a worker thread (decoders, MAVLink readers); keeps that thread's trace."""
        if self._loop is None:
            raise RuntimeError("EventSink.start() has not run")
        self._loop.call_soon_threadsafe(self.publish, event, otel_context.get_current())

    def publish(self, event: common_pb2.Event, ctx: otel_context.Context | None = None) -> None:
        """Queue ``event`` (never blocks). Drops the oldest queued event when the outbox is full.

        Call it from the event loop's thread (``publish_threadsafe`` from others).
        """
        if not event.event_id:
            raise ValueError("event has no event_id (build it with kuzet.common.events.new_event)")
        if len(self._outbox) >= self.capacity:
            lost = self._outbox.popleft()
            self.stats.dropped += 1
            log.warning(
                "alert outbox full (%d): dropped oldest event %s (%s)",
                self.capacity,
                lost.event.event_id,
                lost.event.type,
                extra={"agency": lost.event.agency_id, "dropped_total": self.stats.dropped},
            )
        self._outbox.append(_Item(event, ctx if ctx is not None else otel_context.get_current()))
        self.stats.enqueued += 1
        self._update_pending()
        self._wakeup.set()

    @property
    def pending(self) -> int:
        return len(self._outbox) + self._in_flight

    async def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every queued event was sent (or refused); False on timeout."""
        return await wait_set(self._idle, timeout_s)

    async def close(self, drain_timeout_s: float = 5.0) -> None:
        """Try to drain, then stop the senders; events still queued are counted as dropped."""
        if self._workers:
            await self.flush(drain_timeout_s)
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        if self._outbox:
            self.stats.dropped += len(self._outbox)
            log.warning("alert outbox closed with %d unsent events", len(self._outbox))
            self._outbox.clear()
        self._update_pending()
        if self._own_channel and self._channel is not None:
            await self._channel.close()
            self._channel = None

    def _update_pending(self) -> None:
        self.stats.pending = self.pending
        if self.pending == 0:
            self._idle.set()
        else:
            self._idle.clear()

    async def _worker(self) -> None:
        while True:
            if not self._outbox:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            # Whatever is waiting goes in one call (a burst becomes PublishBatch calls).
            items = [self._outbox.popleft() for _ in range(min(self._batch_size, len(self._outbox)))]
            self._in_flight += len(items)
            try:
                await self._deliver(items)
            except asyncio.CancelledError:
                # Closing mid-send: the events count as unsent (close() reports them as dropped).
                self._outbox.extendleft(reversed(items))
                raise
            finally:
                self._in_flight -= len(items)
                self._update_pending()

    async def _deliver(self, items: list[_Item]) -> None:
        from kuzet.alerting.v1 import alerting_pb2

        backoff = self._initial_backoff_s
        while True:
            # The call itself continues the first event's trace; each event's own trace context
            # travels with it (metadata for one event, `traceparents` for a batch).
            token = otel_context.attach(items[0].ctx)
            try:
                if len(items) == 1:
                    response = await self._stub.Publish(
                        alerting_pb2.PublishRequest(event=items[0].event),
                        timeout=self._timeout_s,
                        metadata=self._call_metadata(),
                    )
                    self._count(items[0], response.disposition, "")
                else:
                    batch = await self._stub.PublishBatch(
                        alerting_pb2.PublishBatchRequest(
                            events=[i.event for i in items], traceparents=[_traceparent(i.ctx) for i in items]
                        ),
                        timeout=self._timeout_s,
                        metadata=self._call_metadata(),
                    )
                    for item, result in zip(items, batch.results, strict=True):
                        self._count(item, result.disposition, result.error)
                return
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in RETRYABLE:
                    for item in items:
                        self._count(
                            item,
                            alerting_pb2.PUBLISH_DISPOSITION_REJECTED,
                            f"{exc.code().name} {exc.details()}",
                        )
                    return
                self.stats.retries += 1
                log.warning(
                    "alerting unreachable (%s), retrying %d events in %.1fs",
                    exc.code().name,
                    len(items),
                    backoff,
                    extra={"agency": items[0].event.agency_id},
                )
            finally:
                otel_context.detach(token)
            # Jitter so that producers do not all retry in lock-step after an alerting restart.
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, self._max_backoff_s)

    def _count(self, item: _Item, disposition: int, error: str) -> None:
        from kuzet.alerting.v1 import alerting_pb2

        if disposition == alerting_pb2.PUBLISH_DISPOSITION_REJECTED:
            self.stats.rejected += 1
            log.error(
                "alerting refused event %s (%s): %s",
                item.event.event_id,
                item.event.type,
                error,
                extra={"agency": item.event.agency_id},
            )
            return
        self.stats.sent += 1
        if disposition == alerting_pb2.PUBLISH_DISPOSITION_DUPLICATE:
            self.stats.duplicates += 1


def _traceparent(ctx: otel_context.Context) -> str:
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=ctx)
    return carrier.get("traceparent", "")
