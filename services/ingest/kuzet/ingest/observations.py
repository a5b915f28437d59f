"""Vehicle observations to the traffic service: RecordObservations in small batches.

Observations queue in memory (bounded: past ``capacity`` the oldest go, counted as dropped) and
leave in batches of at most ``batch_size``, as soon as one is waiting (a crossing that may be on
a hotlist must not wait for company). A batch that fails transiently (the traffic service
restarting or unreachable) is retried with exponential backoff and jitter until it is recorded:
it is not lost, and the retried copy records nothing twice since each observation carries its
``observation_id`` (camera:track:line). A batch the service refuses (INVALID_ARGUMENT and the
like) is sent again one observation at a time, so that one bad observation does not take its
neighbours with it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from dataclasses import dataclass

import grpc

from kuzet.common.eventsink import RETRYABLE
from kuzet.common.waiting import wait_set
from kuzet.traffic.v1 import traffic_pb2, traffic_pb2_grpc

log = logging.getLogger(__name__)


@dataclass
class SenderStats:
    recorded: int = 0
    duplicates: int = 0
    retries: int = 0
    rejected: int = 0
    dropped: int = 0


class ObservationSender:
    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        batch_size: int = 16,
        capacity: int = 10_000,
        timeout_s: float = 10.0,
        initial_backoff_s: float = 0.2,
        max_backoff_s: float = 10.0,
    ) -> None:
        self._stub = traffic_pb2_grpc.TrafficServiceStub(channel)
        self.batch_size, self.capacity, self.timeout_s = batch_size, capacity, timeout_s
        self.initial_backoff_s, self.max_backoff_s = initial_backoff_s, max_backoff_s
        self._queue: deque[traffic_pb2.VehicleObservation] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.stats = SenderStats()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def submit(self, observation: traffic_pb2.VehicleObservation) -> None:
        if len(self._queue) >= self.capacity:
            lost = self._queue.popleft()
            self.stats.dropped += 1
            log.error("observation outbox full: dropped %s", lost.observation_id)
        self._queue.append(observation)
        self._idle.clear()
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="traffic-observations")

    async def flush(self, timeout_s: float) -> bool:
        """Whether every submitted observation was recorded (or refused) within ``timeout_s``."""
        return await wait_set(self._idle, timeout_s)

    async def close(self, drain_s: float = 5.0) -> None:
        await self.flush(drain_s)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._queue:
            log.error("%d vehicle observations unsent at shutdown", len(self._queue))

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            try:
                await self._deliver(batch)
            except asyncio.CancelledError:
                self._queue.extendleft(reversed(batch))
                raise

    async def _deliver(self, batch: list[traffic_pb2.VehicleObservation]) -> None:
        backoff = self.initial_backoff_s
        while True:
            try:
                response = await self._stub.RecordObservations(
                    traffic_pb2.RecordObservationsRequest(observations=batch), timeout=self.timeout_s
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in RETRYABLE:
                    await self._refused(batch, exc)
                    return
                self.stats.retries += 1
                log.warning(
                    "traffic service unreachable (%s), retrying %d observations in %.1fs",
                    exc.code().name,
                    len(batch),
                    backoff,
                )
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            self.stats.recorded += response.recorded
            self.stats.duplicates += response.duplicates
            return

    async def _refused(self, batch: list[traffic_pb2.VehicleObservation], exc: grpc.aio.AioRpcError) -> None:
        if len(batch) > 1:
            for observation in batch:
                await self._deliver([observation])
            return
        self.stats.rejected += 1
        log.error(
            "traffic service refused observation %s: %s %s",
            batch[0].observation_id,
            exc.code().name,
            exc.details(),
        )
