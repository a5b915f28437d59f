"""Fall / person down from the torso's angle (replaces the box aspect-ratio check)."""

from __future__ import annotations

from dataclasses import dataclass

from kuzet.common.errors import InvalidArgument
from kuzet.ingest.behaviour.keypoints import KeypointHistory, Skeleton, torso_angle
from kuzet.ingest.behaviour.rule import RuleConfig, TrackRule


@dataclass(frozen=True, kw_only=True)
class FallConfig(RuleConfig):
    hold_s: float = 3.0
    upright_max_deg: float = 30.0
    horizontal_min_deg: float = 60.0
    transition_s: float = 2.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.positive(transition_s=self.transition_s)
        if not 0 < self.upright_max_deg < self.horizontal_min_deg < 180:
            raise InvalidArgument(
                "need 0 < upright_max_deg < horizontal_min_deg < 180, got "
                f"{self.upright_max_deg} and {self.horizontal_min_deg}"
            )


class Fall(TrackRule[FallConfig]):
    """An upright person becomes horizontal and stays down.

    Torso angle: the hips->shoulders vector against the picture's up (keypoints.torso_angle).
    A person is upright at angle <= ``upright_max_deg`` (30), horizontal at >= ``horizontal_min_deg``
    (60); between the two (bending, sitting up) the rule cannot tell. The fall holds from the
    first horizontal sample that comes at most ``transition_s`` (2 s) after an upright one, for
    as long as the person stays horizontal; the event fires once it has held ``hold_s`` (N, 3 s).
    Someone seen lying from the start (never seen upright), or lying down slowly, does not fall.
    """

    name = "fall"
    config_type = FallConfig

    def __init__(self, config: FallConfig) -> None:
        super().__init__(config)
        self._upright_at: dict[int, float] = {}  # track id -> last upright sample
        self._down_since: dict[int, float] = {}  # track id -> first horizontal sample since

    def condition(self, track_id: int, history: KeypointHistory, sk: Skeleton) -> bool | None:
        cfg = self.config
        angle = torso_angle(sk, cfg.min_score)
        if angle is None:
            return None
        if angle <= cfg.upright_max_deg:
            self._upright_at[track_id] = sk.t
            self._down_since.pop(track_id, None)
            return False
        if angle < cfg.horizontal_min_deg:
            return None
        down = self._down_since.setdefault(track_id, sk.t)
        upright = self._upright_at.get(track_id)
        return upright is not None and down - upright <= cfg.transition_s

    def measures(self, history: KeypointHistory, sk: Skeleton) -> dict[str, float]:
        angle = torso_angle(sk, self.config.min_score)
        return {} if angle is None else {"torso_angle_deg": round(angle, 1)}

    def forget(self, track_id: int) -> None:
        self._upright_at.pop(track_id, None)
        self._down_since.pop(track_id, None)
