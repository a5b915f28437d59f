"""Motionless in a cell: a person whose keypoints do not move for minutes during set hours."""

from __future__ import annotations

from dataclasses import dataclass

from kuzet.ingest.behaviour.keypoints import KeypointHistory, Skeleton, motion_energy
from kuzet.ingest.behaviour.rule import RuleConfig, TrackRule


@dataclass(frozen=True, kw_only=True)
class MotionlessConfig(RuleConfig):
    hold_s: float = 600.0
    window_s: float = 10.0
    max_energy: float = 0.1
    # Fewer keypoints than this seen in two samples in a row: that step cannot tell.
    min_points: int = 5
    # A person unseen this long (a blanket over the face) ends the episode.
    grace_s: float = 30.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.positive(window_s=self.window_s, max_energy=self.max_energy, min_points=self.min_points)


class Motionless(TrackRule[MotionlessConfig]):
    """No keypoint motion beyond a threshold for N minutes, during the rule's hours.

    Motion: keypoints.motion_energy over the samples of the last ``window_s`` (10 s), the mean
    speed of the keypoints seen (score >= ``min_score``, at least ``min_points`` (5) of them in
    two samples in a row) in torso lengths per second. Still: motion <= ``max_energy`` (0.1; model
    jitter on a still person is ~0.02-0.05, a hand turning a page ~0.1-0.2). The episode lasts
    while every sample is still, tolerating ``grace_s`` (30 s) of samples where too little of
    the person is seen, and fires once it has held ``hold_s`` (N minutes as seconds, 600). Hours:
    the scope's windows (e.g. 22:00-06:00 in the site's time zone); outside them, nothing holds.
    """

    name = "motionless"
    config_type = MotionlessConfig

    @property
    def history_s(self) -> float:
        return self.config.window_s

    def condition(self, track_id: int, history: KeypointHistory, sk: Skeleton) -> bool | None:
        cfg = self.config
        energy = motion_energy(history.since(sk.t - cfg.window_s), cfg.min_score, cfg.min_points)
        return None if energy is None else energy <= cfg.max_energy

    def measures(self, history: KeypointHistory, sk: Skeleton) -> dict[str, float]:
        cfg = self.config
        energy = motion_energy(history.since(sk.t - cfg.window_s), cfg.min_score, cfg.min_points)
        return {} if energy is None else {"motion_energy": round(energy, 4)}
