"""Whose frame goes to the detector next, when more cameras ask than it can take.

Every camera keeps a guaranteed minimum analysed rate: a camera that has not been looked at for
its goal interval (``KUZET_INGEST_MIN_ANALYSED_INTERVAL_S``, default 2 s) is *due*, and due
cameras go first, the one whose deadline passed longest ago first (earliest deadline first). A
camera whose last analysed frame showed someone at the edge of a rule zone is due after a
quarter of its goal: with every camera at its minimum rate a person could otherwise walk in and
out of a zone between two looks.
Cameras not yet due follow, those with motion inside a rule zone before those that only ask
because people were in view a moment ago, and in the order they asked. When the detector
cannot serve even the due cameras in time, every camera is late by about the same share (the
deadlines rotate like round robin) and the pipelines report themselves degraded (degrade.py).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Need:
    """What a camera's waiting frame asks of the detector."""

    # When the camera was last looked at (epoch seconds), and how often it must be at least.
    last_look: float
    goal_s: float
    # Motion inside a rule zone (rather than a hangover while people were in view).
    zone_motion: bool = True
    # Someone was seen at the edge of a rule zone: the camera is owed its next look sooner
    # (within a quarter of its goal), before they are in and out again.
    soon: bool = False


@dataclass
class _Waiter:
    need: Need | None
    seq: int
    granted: asyncio.Future[None] = field(repr=False)

    def rank(self, now: float) -> tuple[int, float]:
        if self.need is None:
            return (2, self.seq)
        deadline = self.need.last_look + (self.need.goal_s / 4 if self.need.soon else self.need.goal_s)
        if deadline <= now:
            return (0, deadline)
        return (1 if self.need.zone_motion else 2, self.seq)


class Turns:
    """``slots`` detector calls at a time; a freed slot goes to the highest-ranked waiter."""

    def __init__(self, slots: int, *, clock: Callable[[], float] = time.time) -> None:
        self._free = slots
        self._waiting: list[_Waiter] = []
        self._seq = itertools.count()
        self._clock = clock

    async def acquire(self, need: Need | None = None) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        waiter = _Waiter(need, next(self._seq), asyncio.get_running_loop().create_future())
        self._waiting.append(waiter)
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
            elif not waiter.granted.cancelled():
                self.release()  # granted while being cancelled: pass the turn on
            raise

    def release(self) -> None:
        self._free += 1
        while self._free > 0 and self._waiting:
            now = self._clock()
            waiter = min(self._waiting, key=lambda w: w.rank(now))
            self._waiting.remove(waiter)
            self._free -= 1
            waiter.granted.set_result(None)
