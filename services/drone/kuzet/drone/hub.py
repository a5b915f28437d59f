"""Telemetry fan-out: one producer per drone, many subscribers (pilots, console, gateway).

A publish appends the same (never mutated) sample to each subscriber's bounded buffer and wakes it;
nothing awaits, so a slow subscriber never delays the drone's link or other subscribers. When a
buffer is full its oldest sample is dropped (telemetry is a "latest wins" stream) and counted.
"""

from __future__ import annotations

import asyncio
from collections import deque

from kuzet.drone.v1 import drone_pb2


class Subscription:
    def __init__(self, hub: TelemetryHub, drone_ids: frozenset[str], agency: str, maxlen: int) -> None:
        self.hub = hub
        self.drone_ids = drone_ids
        self.agency = agency
        self.buffer: deque[drone_pb2.Telemetry] = deque(maxlen=maxlen)
        self.wakeup = asyncio.Event()
        self.dropped = 0

    def push(self, item: drone_pb2.Telemetry) -> None:
        if len(self.buffer) == self.buffer.maxlen:
            self.dropped += 1
        self.buffer.append(item)
        self.wakeup.set()

    async def next_batch(self) -> list[drone_pb2.Telemetry]:
        while not self.buffer:
            self.wakeup.clear()
            await self.wakeup.wait()
        items = list(self.buffer)
        self.buffer.clear()
        return items

    def close(self) -> None:
        self.hub.unsubscribe(self)


class TelemetryHub:
    def __init__(self, buffer: int = 4096) -> None:
        self._by_drone: dict[str, set[Subscription]] = {}
        self._by_agency: dict[str, set[Subscription]] = {}
        self._buffer = buffer

    def subscribe(self, drone_ids: frozenset[str], agency: str) -> Subscription:
        sub = Subscription(self, drone_ids, agency, self._buffer)
        if drone_ids:
            for d in drone_ids:
                self._by_drone.setdefault(d, set()).add(sub)
        else:
            self._by_agency.setdefault(agency, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        for d in sub.drone_ids:
            self._by_drone.get(d, set()).discard(sub)
        if not sub.drone_ids:
            self._by_agency.get(sub.agency, set()).discard(sub)

    def has_subscribers(self, drone_id: str, agency: str) -> bool:
        return bool(self._by_drone.get(drone_id) or self._by_agency.get(agency))

    def publish(self, drone_id: str, agency: str, telemetry: drone_pb2.Telemetry) -> None:
        for sub in self._by_drone.get(drone_id, ()):
            sub.push(telemetry)
        for sub in self._by_agency.get(agency, ()):
            sub.push(telemetry)
