"""Climbing: hips rising across a perimeter or fence line with the hands above the head."""

from __future__ import annotations

from dataclasses import dataclass

from kuzet.ingest.behaviour.episode import BehaviourEvent
from kuzet.ingest.behaviour.keypoints import KeypointHistory, Skeleton, hands_above_head, hip_centre
from kuzet.ingest.behaviour.rule import Histories, RuleConfig, TrackRule
from kuzet.ingest.behaviour.scope import CalibrationLine


@dataclass(frozen=True, kw_only=True)
class ClimbingConfig(RuleConfig):
    # The per-camera calibration: the top of the fence or wall as the camera sees it (required).
    fence_line: CalibrationLine | None = None
    hold_s: float = 0.5
    rise_window_s: float = 3.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.scope.check_line("fence_line", self.fence_line)
        self.positive(rise_window_s=self.rise_window_s)


class Climbing(TrackRule[ClimbingConfig]):
    """Hips rising across the fence line with the hands above the head.

    Hips: the hip centre (either hip seen suffices). A climb starts at the first sample with the
    hips above the fence line (over its extent) when they were seen below it at most
    ``rise_window_s`` (3 s) before, and the hands were above the head (both wrists above the
    highest seen point of the head) on some sample from that one on; it lasts while the hips
    stay above the line, and fires once it has lasted ``hold_s`` (0.5 s: one glitch of the model
    does not climb). Walking along the fence keeps the hips below its top; a person first seen
    above it (on a roof, a walkway) has not climbed.
    """

    name = "climbing"
    config_type = ClimbingConfig

    def __init__(self, config: ClimbingConfig) -> None:
        super().__init__(config)
        if config.fence_line is None:  # the config refuses this; narrows the type
            raise TypeError("climbing needs a fence line")
        self._fence: CalibrationLine = config.fence_line
        self._below_at: dict[int, float] = {}  # track id -> last sample with the hips below
        self._climbing: set[int] = set()

    @property
    def history_s(self) -> float:
        return self.config.rise_window_s

    def condition(self, track_id: int, history: KeypointHistory, sk: Skeleton) -> bool | None:
        cfg = self.config
        hips = hip_centre(sk, cfg.min_score)
        if hips is None:
            return None
        height = self._fence.height_above(hips)
        if height is None or height < 0:
            if height is not None:
                self._below_at[track_id] = sk.t
            self._climbing.discard(track_id)
            return False
        if track_id in self._climbing:
            return True
        below = self._below_at.get(track_id)
        if below is None or sk.t - below > cfg.rise_window_s:
            return False
        hands = [hands_above_head(s, cfg.min_score) for s in history.since(below)]
        if any(hands):
            self._climbing.add(track_id)
            return True
        return None if None in hands else False

    def update(self, histories: Histories, now: float) -> list[BehaviourEvent]:
        events = super().update(histories, now)
        # "Below" outlives the track's episode (a pose dropout mid-climb ends the episode after
        # grace_s) for the whole rise window, then goes.
        window = self.config.rise_window_s
        for tid in [k for k, t in self._below_at.items() if now - t > window]:
            del self._below_at[tid]
        return events

    def forget(self, track_id: int) -> None:
        self._climbing.discard(track_id)
