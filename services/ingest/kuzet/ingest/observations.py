"""Vehicle observations to the traffic service: RecordObservations in small batches.

Observations queue in an outbox (kuzet.common.outbox; bounded: past ``capacity`` the oldest go,
counted as dropped) and leave in batches of at most ``batch_size``, as soon as one is waiting (a crossing that may be on
a hotlist must not wait for company). A batch that fails transiently (the traffic service
restarting or unreachable) is retried with exponential backoff and jitter until it is recorded:
it is not lost, and the retried copy records nothing twice since each observation carries its
``observation_id`` (camera:track:line). A batch the service refuses (INVALID_ARGUMENT and the
like) is sent again one observation at a time, so that one bad observation does not take its
neighbours with it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import grpc

from kuzet.common.eventsink import RETRYABLE
from kuzet.common.outbox import Outbox
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
        self.timeout_s = timeout_s
        self.stats = SenderStats()
        self._outbox: Outbox[traffic_pb2.VehicleObservation] = Outbox(
            "traffic service",
            self._send,
            self.stats,
            describe=lambda o: f"observation {o.observation_id}",
            batch_size=batch_size,
            capacity=capacity,
            initial_backoff_s=initial_backoff_s,
            max_backoff_s=max_backoff_s,
        )

    @property
    def pending(self) -> int:
        return self._outbox.pending

    def submit(self, observation: traffic_pb2.VehicleObservation) -> None:
        self._outbox.submit(observation)

    def start(self) -> None:
        self._outbox.start("traffic-observations")

    async def flush(self, timeout_s: float) -> bool:
        """Whether every submitted observation was recorded (or refused) within ``timeout_s``."""
        return await self._outbox.flush(timeout_s)

    async def close(self, drain_s: float = 5.0) -> None:
        await self._outbox.close(drain_s)

    async def _send(self, batch: list[traffic_pb2.VehicleObservation]) -> None:
        try:
            response = await self._stub.RecordObservations(
                traffic_pb2.RecordObservationsRequest(observations=batch), timeout=self.timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in RETRYABLE:
                raise
            await self._refused(batch, exc)
            return
        self.stats.recorded += response.recorded
        self.stats.duplicates += response.duplicates

    async def _refused(self, batch: list[traffic_pb2.VehicleObservation], exc: grpc.aio.AioRpcError) -> None:
        if len(batch) > 1:
            for observation in batch:
                await self._send([observation])
            return
        self.stats.rejected += 1
        log.error(
            "traffic service refused observation %s: %s %s",
            batch[0].observation_id,
            exc.code().name,
            exc.details(),
        )
