"""Is a camera still covered? Its analysed rate against its goal, and when it is degraded.

A camera is *looked at* when the pipeline has dealt with one of its frames: the motion gate saw
nothing move in the rule zones, or the detector analysed it. While the detector keeps up this
happens at the camera's analytic rate; when it does not, frames that passed the gate wait for
a turn (turns.py) and the looks thin out. The camera is degraded when it is looked at less
often than its goal (``KUZET_INGEST_MIN_ANALYSED_INTERVAL_S``, default every 2 s), on average
over the last ``window_s`` by more than a quarter, or not at all for twice the goal; it has
recovered when both are back within the goal. The pipeline reports both transitions as events
(camera_degraded, camera_recovered), in its health and as metrics: never silently blind.

Only a camera whose frames keep arriving is judged: one that delivers nothing is offline, which
the source reports, and its clock restarts when frames come back.
"""

from __future__ import annotations

from collections import deque
from enum import Enum

DEGRADE_OVER = 1.25  # the window's mean interval may exceed the goal by this factor
STARVED_AFTER = 2.0  # not looked at for this many goals: degraded at once


class Change(Enum):
    DEGRADED = "degraded"
    RECOVERED = "recovered"


class AnalysisRate:
    def __init__(self, goal_s: float, now: float, *, window_s: float | None = None) -> None:
        self.goal_s = goal_s
        self.window_s = window_s if window_s is not None else max(10.0, 5 * goal_s)
        self._looks: deque[float] = deque()
        # Judged from the start: a camera never analysed since it started is as blind as any.
        self.last_look = now
        self.degraded = False

    def look(self, t: float) -> float:
        """Record a look at (wall clock) time ``t``; returns the seconds since the previous look
        (0 for the first one since the start or since frames came back)."""
        gap = max(0.0, t - self.last_look) if self._looks else 0.0
        self.last_look = max(self.last_look, t)
        self._looks.append(t)
        return gap

    def pause(self, now: float) -> None:
        """Frames stopped arriving (offline, stream ended): no analysis was owed meanwhile."""
        self.last_look = now
        self._looks.clear()

    def _mean(self, now: float) -> float:
        # The gaps between the looks of the window, counting the one that led into it.
        while len(self._looks) >= 2 and self._looks[1] < now - self.window_s:
            self._looks.popleft()
        if len(self._looks) < 2:
            return now - self.last_look
        return (self._looks[-1] - self._looks[0]) / (len(self._looks) - 1)

    def every(self, now: float) -> float:
        """Seconds between looks as reported: the window's mean, or the time since the last look
        if that is longer."""
        return max(self._mean(now), now - self.last_look)

    def check(self, now: float) -> Change | None:
        """The transition, if any, at ``now`` (only call it while frames keep arriving)."""
        mean, since = self._mean(now), now - self.last_look
        if not self.degraded and (mean > DEGRADE_OVER * self.goal_s or since > STARVED_AFTER * self.goal_s):
            self.degraded = True
            return Change.DEGRADED
        if self.degraded and mean <= self.goal_s and since <= self.goal_s:
            self.degraded = False
            return Change.RECOVERED
        return None
