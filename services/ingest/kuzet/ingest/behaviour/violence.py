"""Violence: two people within arm's reach of each other, at least one moving limbs fast."""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations, pairwise

from kuzet.ingest.behaviour.episode import BehaviourEvent, Episode
from kuzet.ingest.behaviour.keypoints import (
    HIPS,
    SHOULDERS,
    KeypointHistory,
    Skeleton,
    limb_speed,
    torso_length,
)
from kuzet.ingest.behaviour.rule import BehaviourRule, Histories, RuleConfig

Pair = tuple[int, int]


@dataclass(frozen=True, kw_only=True)
class ViolenceConfig(RuleConfig):
    hold_s: float = 2.0
    reach: float = 2.0
    min_limb_speed: float = 2.5
    burst_window_s: float = 1.0
    sync_s: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        self.positive(
            reach=self.reach,
            min_limb_speed=self.min_limb_speed,
            burst_window_s=self.burst_window_s,
            sync_s=self.sync_s,
        )


class Violence(BehaviourRule[ViolenceConfig]):
    """Two or more people within arm's reach with fast limb motion, for N seconds.

    For every pair of tracks whose newest samples are at most ``sync_s`` (0.5 s) apart, both in
    the zone during the schedule:
    - within reach: their torso centres (mean of the seen shoulders and hips) at most ``reach``
      (2.0) mean torso lengths apart (two arm's lengths of ~1.2 torso, less the bodies' depth);
    - fast limbs: on either person, some wrist or ankle moving, relative to that person's hips,
      at ``min_limb_speed`` (2.5) torso lengths per second or more (keypoints.limb_speed; a
      walker's swinging arm is ~1) between two samples of the last ``burst_window_s`` (1 s),
      so the pause between two blows does not break the episode.
    The pair's episode fires once it has held ``hold_s`` (N, 2 s). Three people fighting are
    reported as the pairs among them (one subject per pair: "tracks:<a>+<b>").
    """

    name = "violence"
    config_type = ViolenceConfig

    def __init__(self, config: ViolenceConfig) -> None:
        super().__init__(config)
        self._episodes: dict[Pair, Episode] = {}
        self._evaluated: dict[int, float] = {}

    @property
    def history_s(self) -> float:
        return self.config.burst_window_s

    def update(self, histories: Histories, now: float) -> list[BehaviourEvent]:
        cfg = self.config
        present: dict[int, Skeleton] = {}
        for tid, history in histories.items():
            latest = history.latest
            if latest is not None and now - latest.t <= cfg.grace_s:
                present[tid] = latest
        fresh = {tid for tid, sk in present.items() if sk.t > self._evaluated.get(tid, -math.inf)}
        self._evaluated = {tid: sk.t for tid, sk in present.items()}
        events = []
        peaks: dict[int, float | None] = {}  # each track's peak limb speed, computed once
        for pair in combinations(sorted(present), 2):
            if not fresh.intersection(pair):
                continue
            a, b = (present[tid] for tid in pair)
            holds = None if abs(a.t - b.t) > cfg.sync_s else self._holds(pair, a, b, histories, peaks)
            if holds is False and pair not in self._episodes:
                continue  # most pairs are strangers across the room: keep nothing for them
            episode = self._episodes.setdefault(pair, Episode(cfg.hold_s, cfg.grace_s))
            if (span := episode.observe(max(a.t, b.t), holds)) is not None:
                events.append(self.event(span, pair, self._measures(a, b)))
            if not episode.ongoing:
                del self._episodes[pair]
        for pair in [p for p in self._episodes if not set(p) <= present.keys()]:
            if (span := self._episodes.pop(pair).close()) is not None:
                events.append(self.event(span, pair, {}))
        return events

    def _holds(
        self, pair: Pair, a: Skeleton, b: Skeleton, histories: Histories, peaks: dict[int, float | None]
    ) -> bool | None:
        where = [self.in_scope(a), self.in_scope(b)]
        if False in where:
            return False
        apart = self._apart(a, b)
        if apart is not None and apart > self.config.reach:
            return False
        for tid in pair:
            if tid not in peaks:
                peaks[tid] = self._peak_speed(histories[tid])
        speeds = [s for s in (peaks[pair[0]], peaks[pair[1]]) if s is not None]
        if None in where or apart is None or not speeds:
            return None
        return max(speeds) >= self.config.min_limb_speed

    def _apart(self, a: Skeleton, b: Skeleton) -> float | None:
        """Distance between the torso centres, in mean torso lengths."""
        ms = self.config.min_score
        ca, cb = a.centre(SHOULDERS + HIPS, ms), b.centre(SHOULDERS + HIPS, ms)
        ta, tb = torso_length(a, ms), torso_length(b, ms)
        if ca is None or cb is None or ta is None or tb is None:
            return None
        return math.dist(ca, cb) / ((ta + tb) / 2)

    def _peak_speed(self, history: KeypointHistory) -> float | None:
        latest = history.latest
        if latest is None:
            return None
        recent = history.since(latest.t - self.config.burst_window_s)
        speeds = [limb_speed(x, y, self.config.min_score) for x, y in pairwise(recent)]
        seen = [s for s in speeds if s is not None]
        return max(seen) if seen else None

    def _measures(self, a: Skeleton, b: Skeleton) -> dict[str, float]:
        apart = self._apart(a, b)
        return {} if apart is None else {"apart_torso_lengths": round(apart, 2)}
