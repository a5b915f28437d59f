"""The behaviour rules (kuzet.ingest.behaviour) as camera rule types of ingest's one registry.

Each type names its behaviour class; its settings are the Rule message's ``dwell_seconds`` (the
behaviour's ``hold_s``, N) and ``thresholds`` (the behaviour config's other fields by name), its
scope the camera's frame (``width`` x ``height``, required), the rule's zone (empty: the whole
frame) and active windows, and its calibration lines the camera's (``Camera.calibration``).
The rule is fed the keypoint histories of the camera's tracks (the pipeline poses tracked
people for cameras with these rules, poses.py) and publishes a "started" event once per
behaviour episode, naming the frames that show it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from kuzet.common.errors import InvalidArgument
from kuzet.ingest.behaviour import (
    BehaviourEvent,
    BehaviourRule,
    CalibrationLine,
    Climbing,
    Fall,
    Motionless,
    Scope,
    SelfHarm,
    Violence,
    create,
)
from kuzet.ingest.rulebase import Rule, RuleCfg, RuleContext, RuleFrame, RuleHit
from kuzet.ingest.tracking import Track
from kuzet.ingest.v1 import ingest_pb2

if TYPE_CHECKING:
    from kuzet.ingest.cameras import CameraCfg

RuleType = ingest_pb2.RuleType
# Calibration lines (Camera.calibration fields) that behaviour configs take by the same name.
CALIBRATION = ("floor_line", "ligature_line", "fence_line")


@dataclass(frozen=True)
class PoseSettings:
    # The behaviour config's fields other than scope and calibration, as given.
    values: dict[str, float]


class PoseRule(Rule[PoseSettings]):
    """Base of the rule types over keypoints; the behaviour class's docstring defines each."""

    behaviour: ClassVar[type[BehaviourRule[Any]]]
    target = "zone_or_frame"
    # What the event says, with the zone (or "view") filled in.
    summary: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.__doc__ = cls.behaviour.__doc__  # the behaviour's definition is the type's

    @classmethod
    def parse(cls, msg: ingest_pb2.Rule) -> PoseSettings:
        known = {f.name for f in dataclasses.fields(cls.behaviour.config_type)} - {"scope", *CALIBRATION}
        values = dict(msg.thresholds)
        if unknown := sorted(set(values) - known):
            raise ValueError(
                f"unknown thresholds {unknown} for {cls.name} (known: {', '.join(sorted(known))})"
            )
        if msg.dwell_seconds > 0:
            values["hold_s"] = msg.dwell_seconds
        return PoseSettings(values)

    @classmethod
    def build(cls, cfg: RuleCfg, camera: CameraCfg) -> BehaviourRule[Any]:
        """The behaviour rule for this camera; InvalidArgument says what is missing or wrong."""
        if not camera.width:
            raise InvalidArgument(
                f"{cls.name} needs camera.width and camera.height (its zone and calibration lines are pixels)"
            )
        zone = camera.zones[cfg.zone_id].polygon if cfg.zone_id else ()
        scope = Scope(camera.width, camera.height, zone, cfg.windows, camera.time_zone)
        takes = {f.name for f in dataclasses.fields(cls.behaviour.config_type)}
        lines = {
            name: CalibrationLine(line.a, line.b)
            for name, line in camera.calibration.items()
            if name in takes
        }
        return create(cls.behaviour.name, scope, {**cfg.settings.values, **lines})

    @classmethod
    def check(cls, cfg: RuleCfg, camera: CameraCfg) -> None:
        cls.build(cfg, camera)

    def __init__(self, cfg: RuleCfg, context: RuleContext) -> None:
        super().__init__(cfg, context)
        self.rule = self.build(cfg, context.camera)

    @property
    def history_s(self) -> float:
        return self.rule.history_s

    def evaluate(self, frame: RuleFrame) -> Iterator[RuleHit]:
        tracks = {tr.track_id: tr for tr in frame.tracks}
        for event in self.rule.update(frame.poses, frame.t):
            if event.phase == "started" and self.fire(event.subject, frame.t):
                yield self._hit(event, [self._track(p, frame, tracks) for p in event.track_ids])

    def _track(self, person: int, frame: RuleFrame, tracks: Mapping[int, Track]) -> Track:
        """The person's track on the frame; when the detector missed them on it (the pose
        carried the person, poses.py), their last track id with the box of their keypoints."""
        tid = frame.people.get(person, person)
        if tid in tracks:
            return tracks[tid]
        sk = frame.poses[person].latest
        seen = sk.points[sk.points[:, 2] >= self.rule.config.min_score] if sk is not None else sk
        if seen is None or not len(seen):
            return Track(tid, (0.0, 0.0, 0.0, 0.0), 0.0)
        xs, ys = seen[:, 0], seen[:, 1]
        return Track(tid, (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())), 0.0)

    def _hit(self, event: BehaviourEvent, tracks: list[Track]) -> RuleHit:
        where = f"zone {self.cfg.zone_id}" if self.cfg.zone_id else "view"
        attributes: dict[str, object] = {
            "zone": self.cfg.zone_id,
            "behaviour": event.rule,
            "started_at": round(event.start, 3),
            "held_s": round(event.end - event.start, 1),
            **{k: round(v, 3) for k, v in event.attributes.items()},
        }
        return self.hit(event.subject, tracks, attributes, self.summary.format(where=where), event.frames)


class PersonDown(PoseRule):
    type = RuleType.RULE_TYPE_PERSON_DOWN
    name = "fall"
    event_type = "person_down"
    behaviour = Fall
    pose_interval_s = 0.25
    summary = "person fell and stays down in {where}"


class MotionlessRule(PoseRule):
    type = RuleType.RULE_TYPE_MOTIONLESS
    name = "motionless"
    event_type = "motionless"
    behaviour = Motionless
    pose_interval_s = 1.0
    summary = "person motionless in {where}"


class SelfHarmRule(PoseRule):
    type = RuleType.RULE_TYPE_SELF_HARM
    name = "selfharm"
    event_type = "self_harm_risk"
    behaviour = SelfHarm
    pose_interval_s = 0.5
    summary = "self-harm risk posture in {where}"


class ClimbingRule(PoseRule):
    type = RuleType.RULE_TYPE_CLIMBING
    name = "climbing"
    event_type = "climbing"
    behaviour = Climbing
    pose_interval_s = 0.25
    summary = "person climbing the fence in {where}"


class ViolenceRule(PoseRule):
    type = RuleType.RULE_TYPE_VIOLENCE
    name = "violence"
    event_type = "violence"
    behaviour = Violence
    pose_interval_s = 0.25
    summary = "violence between people in {where}"
