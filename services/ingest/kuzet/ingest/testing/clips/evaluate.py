"""Feeding a clip's keypoints to the behaviour rules and scoring their events against its labels.

The keypoints come from the caller: MoveNet's (bench/behaviour.py, the tests) or the clip's own
truth (``truth_skeletons``: where the figure's transforms put every joint), which checks the
labels and the rules without a model's errors. A camera gets the rules its calibration allows:
the cell has a floor and a ligature line (fall, motionless, selfharm, violence), the yard a fence
line (fall, motionless, climbing, violence). Events are "started" events (what would alert).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from kuzet.ingest.behaviour import BehaviourRule, CalibrationLine, KeypointHistory, Scope, Skeleton, create
from kuzet.ingest.cameras import Window
from kuzet.ingest.geometry import iou
from kuzet.ingest.testing.clips.catalogue import NIGHT_HOURS, ClipSet
from kuzet.ingest.testing.clips.scenes import Clip, Frame, Label, lines

RULES = ("fall", "motionless", "selfharm", "climbing", "violence")
# An event counts for a label when it overlaps the label's time give or take this much (a rule
# confirms after its hold, and labels are drawn by script, not frame-exact).
SLACK_S = 2.0
_TRUE_SCORE = 0.9


def rules_for(clip: Clip, motionless_hold_s: float) -> dict[str, BehaviourRule[Any]]:
    """The rules a camera of the clip's scene runs, with the scene's calibration (default
    thresholds; the motionless hold and hours from the set)."""
    scope = Scope(clip.width, clip.height)
    calibration = {k: CalibrationLine(a, b) for k, (a, b) in lines(clip.scene).items()}
    night = Scope(clip.width, clip.height, windows=(Window(*NIGHT_HOURS, frozenset()),))
    rules = {
        "fall": create("fall", scope),
        "motionless": create("motionless", night, {"hold_s": motionless_hold_s}),
        "violence": create("violence", scope),
    }
    if clip.scene == "cell":
        rules["selfharm"] = create(
            "selfharm", scope, {k: calibration[k] for k in ("floor_line", "ligature_line")}
        )
    else:
        rules["climbing"] = create("climbing", scope, {"fence_line": calibration["fence_line"]})
    return rules


@dataclass(frozen=True)
class Detection:
    """A started event, in clip seconds, with the actors its tracks were (None: no actor)."""

    rule: str
    start: float
    end: float
    actors: tuple[int | None, ...]


class ClipRun:
    """One clip's rules, fed one analysed frame at a time."""

    def __init__(self, clip: Clip, motionless_hold_s: float) -> None:
        self.clip = clip
        self.rules = rules_for(clip, motionless_hold_s)
        self.span_s = max(30.0, *(r.history_s for r in self.rules.values()))
        self.histories: dict[int, KeypointHistory] = {}
        self.detections: list[Detection] = []

    def feed(self, t: float, skeletons: dict[int, Skeleton], actor_of: dict[int, int | None]) -> None:
        """The frame at UTC time t: each track's skeleton, and which actor each track is."""
        for tid, sk in skeletons.items():
            self.histories.setdefault(tid, KeypointHistory(self.span_s)).add(sk)
        for rule in self.rules.values():
            for event in rule.update(self.histories, t):
                if event.phase != "started":
                    continue
                self.detections.append(
                    Detection(
                        event.rule,
                        event.start - self.clip.start,
                        event.end - self.clip.start,
                        tuple(actor_of.get(tid) for tid in event.track_ids),
                    )
                )


def truth_skeletons(frame: Frame, width: int, height: int) -> dict[int, Skeleton]:
    """Every actor's true keypoints as a skeleton (track id = actor index); a joint outside the
    frame is not seen."""
    out = {}
    for actor, placed in frame.truth.items():
        pts = placed.keypoints
        inside = (pts[:, 0] >= 0) & (pts[:, 0] < width) & (pts[:, 1] >= 0) & (pts[:, 1] < height)
        scores = np.where(inside, _TRUE_SCORE, 0.0)
        out[actor] = Skeleton(frame.t, np.column_stack([pts, scores]))
    return out


Box = tuple[float, float, float, float]


def actor_at(box: Box, frame: Frame, min_iou: float = 0.3) -> int | None:
    """The rendered person a box is (best overlap of at least ``min_iou``), None if none."""
    best = max(((iou(box, p.box), k) for k, p in frame.truth.items()), default=(0.0, None))
    return best[1] if best[0] >= min_iou else None


def _matches(d: Detection, label: Label) -> bool:
    return (
        d.rule == label.rule
        and d.start <= label.end + SLACK_S
        and d.end >= label.start - SLACK_S
        and any(a in label.actors for a in d.actors)
    )


@dataclass
class RuleScore:
    labels: int = 0
    found: int = 0  # labels matched by at least one event
    events: int = 0  # on positive and negative clips
    true_events: int = 0
    normal_events: int = 0  # on the normal clips (false alarms)

    @property
    def recall(self) -> float | None:
        return self.found / self.labels if self.labels else None

    @property
    def precision(self) -> float | None:
        return self.true_events / self.events if self.events else None

    def to_json(self, normal_hours: float) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "found": self.found,
            "events": self.events,
            "true_events": self.true_events,
            "recall": None if self.recall is None else round(self.recall, 3),
            "precision": None if self.precision is None else round(self.precision, 3),
            "normal_events": self.normal_events,
            "false_alarms_per_camera_hour": round(self.normal_events / normal_hours, 2)
            if normal_hours
            else None,
        }


def score(
    clips: ClipSet, detections: dict[str, list[Detection]], rules: tuple[str, ...] = RULES
) -> dict[str, RuleScore]:
    """Per rule: labels found (recall), events that match a label (precision) over the positive
    and negative clips, and events on the normal clips (false alarms)."""
    scores: dict[str, RuleScore] = defaultdict(RuleScore)
    for rule in rules:
        scores[rule] = RuleScore()
    for clip in clips.clips:
        found = detections.get(clip.name, [])
        for label in clip.labels:
            if label.rule in scores:
                scores[label.rule].labels += 1
                scores[label.rule].found += any(_matches(d, label) for d in found)
        for d in found:
            if d.rule not in scores:
                continue
            if clip.purpose == "normal":
                scores[d.rule].normal_events += 1
            else:
                scores[d.rule].events += 1
                scores[d.rule].true_events += any(_matches(d, lb) for lb in clip.labels)
    return dict(scores)
