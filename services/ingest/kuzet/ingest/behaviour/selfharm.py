"""Self-harm risk posture: upright, motionless, suspended (feet above the floor) or with the head
bowed below a ligature point."""

from __future__ import annotations

from dataclasses import dataclass

from kuzet.common.errors import InvalidArgument
from kuzet.ingest.behaviour.keypoints import (
    ANKLES,
    NOSE,
    KeypointHistory,
    Skeleton,
    motion_energy,
    shoulder_centre,
    torso_angle,
    torso_length,
)
from kuzet.ingest.behaviour.rule import RuleConfig, TrackRule
from kuzet.ingest.behaviour.scope import CalibrationLine


@dataclass(frozen=True, kw_only=True)
class SelfHarmConfig(RuleConfig):
    # The per-camera calibration: where the floor meets the wall behind the person (required),
    # and the line of ligature points (bars, hinges, pipes; optional).
    floor_line: CalibrationLine | None = None
    ligature_line: CalibrationLine | None = None
    hold_s: float = 5.0
    upright_max_deg: float = 20.0
    window_s: float = 2.0
    max_energy: float = 0.15
    min_lift: float = 0.1
    bowed_max_rise: float = 0.25
    # Once one ankle is seen (min_score), the other may be seen this faintly: MoveNet scores the
    # far ankle of a small suspended person 0.22-0.29, where a standing person's are both clear.
    second_ankle_min_score: float = 0.2

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.second_ankle_min_score <= self.min_score:
            raise InvalidArgument(
                f"second_ankle_min_score must be in (0, min_score={self.min_score}], "
                f"got {self.second_ankle_min_score}"
            )
        self.scope.check_line("floor_line", self.floor_line)
        if self.ligature_line is not None:
            self.scope.check_line("ligature_line", self.ligature_line)
        self.positive(
            upright_max_deg=self.upright_max_deg,
            window_s=self.window_s,
            max_energy=self.max_energy,
            min_lift=self.min_lift,
            bowed_max_rise=self.bowed_max_rise,
        )


class SelfHarm(TrackRule[SelfHarmConfig]):
    """A person upright and motionless, with the feet above the floor line or the head bowed
    below the ligature line, for N seconds.

    - upright: torso angle <= ``upright_max_deg`` (20);
    - motionless: keypoints.motion_energy over the last ``window_s`` (2 s) <= ``max_energy``
      (0.15 torso lengths per second);
    - feet above the floor: both ankles seen (one at ``min_score``, the other at least at
      ``second_ankle_min_score``), over the floor line's extent, and both at least ``min_lift``
      (0.1) torso lengths above it;
    - head bowed below the ligature line (only with a ligature line): the nose seen below the line
      and at most ``bowed_max_rise`` (0.25) torso lengths above the shoulder centre (an upright
      head carries it ~0.4 above).
    The posture holds when upright, motionless and either clause is true; it cannot tell when a
    clause it needs is not seen. The event fires once it has held ``hold_s`` (N, 5 s).
    """

    name = "selfharm"
    config_type = SelfHarmConfig

    def __init__(self, config: SelfHarmConfig) -> None:
        super().__init__(config)
        if config.floor_line is None:  # the config refuses this; narrows the type
            raise TypeError("selfharm needs a floor line")
        self._floor: CalibrationLine = config.floor_line

    @property
    def history_s(self) -> float:
        return self.config.window_s

    def condition(self, track_id: int, history: KeypointHistory, sk: Skeleton) -> bool | None:
        cfg = self.config
        angle, torso = torso_angle(sk, cfg.min_score), torso_length(sk, cfg.min_score)
        energy = motion_energy(history.since(sk.t - cfg.window_s), cfg.min_score)
        if angle is None or torso is None or energy is None:
            return None
        if angle > cfg.upright_max_deg or energy > cfg.max_energy:
            return False
        clauses = [self._feet_lifted(sk, torso)]
        if cfg.ligature_line is not None:
            clauses.append(self._head_bowed_below(cfg.ligature_line, sk, torso))
        if any(clauses):
            return True
        return None if None in clauses else False

    def _feet_lifted(self, sk: Skeleton, torso: float) -> bool | None:
        cfg = self.config
        clear = [sk.point(i, cfg.min_score) is not None for i in ANKLES]
        if not any(clear):
            return None
        feet = [sk.point(i, cfg.second_ankle_min_score) for i in ANKLES]
        heights = [None if f is None else self._floor.height_above(f) for f in feet]
        if any(h is None for h in heights):
            return None
        lifted = [h is not None and h / torso >= cfg.min_lift for h in heights]
        if all(lifted):
            return True
        # A clear ankle on the floor says no; a faint one (placed less surely) only fails to say yes.
        return False if any(c and not up for c, up in zip(clear, lifted, strict=True)) else None

    def _head_bowed_below(self, ligature: CalibrationLine, sk: Skeleton, torso: float) -> bool | None:
        nose, shoulders = sk.point(NOSE, self.config.min_score), shoulder_centre(sk, self.config.min_score)
        if nose is None or shoulders is None:
            return None
        above = ligature.height_above(nose)
        if above is None:
            return None
        return above < 0 and (shoulders[1] - nose[1]) / torso <= self.config.bowed_max_rise

    def measures(self, history: KeypointHistory, sk: Skeleton) -> dict[str, float]:
        angle = torso_angle(sk, self.config.min_score)
        return {} if angle is None else {"torso_angle_deg": round(angle, 1)}
