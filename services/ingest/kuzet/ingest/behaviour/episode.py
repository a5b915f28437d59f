"""An episode of a behaviour: a condition that holds for a while, and the event it makes.

Every rule reduces a person (or a pair) to one condition per sample: True (seen to hold), False
(seen not to hold) or None (cannot tell: the points it needs are not seen). An episode starts at
the first True, survives None for ``grace_s`` (a limb hidden for a moment), ends at the first
False or when it has been unseen longer than that. It is confirmed ("started" event) once it has
held ``hold_s`` seconds, and a confirmed episode reports its end ("ended" event).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Phase = Literal["started", "ended"]
# Frames an event names as showing the behaviour: enough to review it, few enough to store.
MAX_FRAMES = 8
# A long episode (hours motionless) keeps every other sample time past this many.
_KEEP_TIMES = 512


@dataclass(frozen=True)
class BehaviourEvent:
    """A behaviour seen: ``start`` to ``end`` (UTC epoch seconds; on "started", ``end`` is when
    it was confirmed), and ``frames``, the times of up to MAX_FRAMES samples that show it (the
    first, the last and evenly between)."""

    rule: str
    phase: Phase
    track_ids: tuple[int, ...]
    start: float
    end: float
    frames: tuple[float, ...]
    attributes: Mapping[str, float] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        """One occurrence, as alerting folds events: "track:<id>" or "tracks:<id>+<id>"."""
        if len(self.track_ids) == 1:
            return f"track:{self.track_ids[0]}"
        return "tracks:" + "+".join(map(str, self.track_ids))


@dataclass(frozen=True)
class Span:
    phase: Phase
    start: float
    end: float
    frames: tuple[float, ...]


def spread(times: list[float], most: int = MAX_FRAMES) -> tuple[float, ...]:
    """At most ``most`` of the times: the first, the last and evenly between."""
    if len(times) <= most:
        return tuple(times)
    step = (len(times) - 1) / (most - 1)
    return tuple(times[round(i * step)] for i in range(most))


class Episode:
    """The state machine of one subject's condition."""

    def __init__(self, hold_s: float, grace_s: float) -> None:
        self.hold_s = hold_s
        self.grace_s = grace_s
        self._since: float | None = None
        self._last_true = 0.0
        self._frames: list[float] = []
        self._confirmed = False

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def observe(self, t: float, holds: bool | None) -> Span | None:
        """The condition at sample time t; the event it makes, if any."""
        if holds:
            if self._since is None:
                self._since, self._frames = t, []
            self._last_true = t
            self._frames.append(t)
            if len(self._frames) > _KEEP_TIMES:
                self._frames = [*self._frames[:-1:2], t]
            if not self._confirmed and t - self._since >= self.hold_s:
                self._confirmed = True
                return Span("started", self._since, t, spread(self._frames))
            return None
        if self._since is not None and (holds is False or t - self._last_true > self.grace_s):
            return self.close()
        return None

    def close(self) -> Span | None:
        """Ends the episode: its "ended" span if it was confirmed."""
        ended = None
        if self._since is not None and self._confirmed:
            ended = Span("ended", self._since, self._last_true, spread(self._frames))
        self._since, self._frames, self._confirmed = None, [], False
        return ended
