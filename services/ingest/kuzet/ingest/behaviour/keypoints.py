"""Keypoint histories of tracked people and the body measures the behaviour rules read.

A ``Skeleton`` is one person's 17 COCO keypoints (MoveNet MultiPose's order, ``BODY_PARTS``) at
one time: x, y in source-frame pixels (y grows downwards) and the model's score per point. A
point scored below the rule's ``min_score`` is not seen: every measure here returns None when the
points it needs are not seen, and a rule treats None as "cannot tell", never as evidence.

Lengths are divided by the person's torso length (shoulder centre to hip centre) so that every
threshold is scale-free: a person near the camera and one far from it move "one torso length per
second" alike.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from kuzet.common.geometry import Pt
from kuzet.common.inference.results import BODY_PARTS, Pose

(
    NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR,
    LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_ELBOW, RIGHT_ELBOW,
    LEFT_WRIST, RIGHT_WRIST, LEFT_HIP, RIGHT_HIP,
    LEFT_KNEE, RIGHT_KNEE, LEFT_ANKLE, RIGHT_ANKLE,
) = range(17)  # fmt: skip
HEAD = (NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR)
SHOULDERS = (LEFT_SHOULDER, RIGHT_SHOULDER)
HIPS = (LEFT_HIP, RIGHT_HIP)
WRISTS = (LEFT_WRIST, RIGHT_WRIST)
ANKLES = (LEFT_ANKLE, RIGHT_ANKLE)
# The ends of the limbs: what moves fastest in a blow or a kick.
LIMB_ENDS = (*WRISTS, *ANKLES)

# MoveNet scores visible joints ~0.4-0.9 and guesses at hidden ones ~0.1-0.25.
DEFAULT_MIN_SCORE = 0.3
# A torso shorter than this (pixels) is a degenerate detection, not a scale.
MIN_TORSO_PX = 4.0


@dataclass(frozen=True, eq=False)
class Skeleton:
    """One person's keypoints at time ``t`` (UTC epoch seconds): ``points`` is (17, 3) of x, y,
    score in source-frame pixels."""

    t: float
    points: np.ndarray

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.shape != (len(BODY_PARTS), 3):
            raise ValueError(
                f"a skeleton has {len(BODY_PARTS)} keypoints of (x, y, score), got shape {pts.shape}"
            )
        if not np.isfinite(pts).all() or not math.isfinite(self.t):
            raise ValueError("keypoints and time must be finite numbers")
        if ((pts[:, 2] < 0) | (pts[:, 2] > 1)).any():
            raise ValueError("keypoint scores are in [0, 1]")
        object.__setattr__(self, "points", pts)

    @classmethod
    def from_pose(cls, t: float, pose: Pose) -> Skeleton:
        """The inference service's pose (keypoints named by COCO part) at time t."""
        by_part = {k.part: (k.x, k.y, k.score) for k in pose.keypoints}
        if missing := [p for p in BODY_PARTS if p not in by_part]:
            raise ValueError(f"pose lacks keypoints {missing}")
        return cls(t, np.array([by_part[p] for p in BODY_PARTS]))

    def point(self, part: int, min_score: float) -> Pt | None:
        x, y, score = self.points[part]
        return (float(x), float(y)) if score >= min_score else None

    def centre(self, parts: Sequence[int], min_score: float) -> Pt | None:
        """Mean of the parts that are seen (one of a pair suffices: a body seen side-on hides
        the far shoulder), None when none is."""
        seen = [p for p in (self.point(i, min_score) for i in parts) if p is not None]
        if not seen:
            return None
        return (sum(p[0] for p in seen) / len(seen), sum(p[1] for p in seen) / len(seen))

    def visible(self, min_score: float) -> np.ndarray:
        """Indices of the parts that are seen."""
        return np.flatnonzero(self.points[:, 2] >= min_score)


def shoulder_centre(sk: Skeleton, min_score: float) -> Pt | None:
    return sk.centre(SHOULDERS, min_score)


def hip_centre(sk: Skeleton, min_score: float) -> Pt | None:
    return sk.centre(HIPS, min_score)


def body_centre(sk: Skeleton, min_score: float) -> Pt | None:
    """Mean of every seen keypoint: where the person is, standing or lying."""
    return sk.centre(range(len(BODY_PARTS)), min_score)


def torso_length(sk: Skeleton, min_score: float) -> float | None:
    """Shoulder centre to hip centre, pixels; the person's own unit of length."""
    top, bottom = shoulder_centre(sk, min_score), hip_centre(sk, min_score)
    if top is None or bottom is None:
        return None
    length = math.dist(top, bottom)
    return length if length >= MIN_TORSO_PX else None


def torso_angle(sk: Skeleton, min_score: float) -> float | None:
    """Angle of the hips->shoulders vector from the image's up, degrees: 0 upright, 90 lying,
    180 upside down (left and right alike)."""
    top, bottom = shoulder_centre(sk, min_score), hip_centre(sk, min_score)
    if top is None or bottom is None or math.dist(top, bottom) < MIN_TORSO_PX:
        return None
    dx, dy = top[0] - bottom[0], top[1] - bottom[1]
    return math.degrees(math.atan2(abs(dx), -dy))


def head_top(sk: Skeleton, min_score: float) -> float | None:
    """y of the highest seen point of the head (nose, eyes, ears)."""
    ys = [p[1] for p in (sk.point(i, min_score) for i in HEAD) if p is not None]
    return min(ys) if ys else None


def hands_above_head(sk: Skeleton, min_score: float) -> bool | None:
    """Both wrists above the highest seen point of the head; None unless both wrists and some
    of the head are seen."""
    top = head_top(sk, min_score)
    wrists = [sk.point(i, min_score) for i in WRISTS]
    if top is None or any(w is None for w in wrists):
        return None
    return all(w is not None and w[1] < top for w in wrists)


def limb_speed(before: Skeleton, after: Skeleton, min_score: float) -> float | None:
    """Fastest limb end (wrist or ankle) between two skeletons of one person, relative to the
    person's own hip centre (walking or being carried moves the whole body, not the limbs), in
    torso lengths per second. None without a hip centre, a torso or a limb end seen in both."""
    dt = after.t - before.t
    hips0, hips1 = hip_centre(before, min_score), hip_centre(after, min_score)
    t0, t1 = torso_length(before, min_score), torso_length(after, min_score)
    if dt <= 0 or hips0 is None or hips1 is None or t0 is None or t1 is None:
        return None
    speeds = []
    for i in LIMB_ENDS:
        p0, p1 = before.point(i, min_score), after.point(i, min_score)
        if p0 is None or p1 is None:
            continue
        moved = (p1[0] - hips1[0] - (p0[0] - hips0[0]), p1[1] - hips1[1] - (p0[1] - hips0[1]))
        speeds.append(math.hypot(*moved) / dt)
    return max(speeds) / ((t0 + t1) / 2) if speeds else None


def motion_energy(samples: Sequence[Skeleton], min_score: float, min_points: int = 5) -> float | None:
    """How much a person moves over consecutive samples: the mean speed of the keypoints seen in
    both samples of each step, in torso lengths per second, averaged over the steps. A step with
    fewer than ``min_points`` shared points (or no torso) is skipped; None when no step is left.
    Model jitter on a still person is ~0.02-0.05."""
    energies = []
    for before, after in itertools.pairwise(samples):
        dt = after.t - before.t
        torso = torso_length(after, min_score) or torso_length(before, min_score)
        shared = np.intersect1d(before.visible(min_score), after.visible(min_score))
        if dt <= 0 or torso is None or len(shared) < min_points:
            continue
        moved = np.hypot(*(after.points[shared, :2] - before.points[shared, :2]).T)
        energies.append(float(moved.mean()) / torso / dt)
    return sum(energies) / len(energies) if energies else None


class KeypointHistory:
    """One track's skeletons, oldest first, kept for ``span_s`` seconds behind the newest."""

    def __init__(self, span_s: float = 30.0) -> None:
        if span_s <= 0:
            raise ValueError("a keypoint history's span_s must be > 0")
        self.span_s = span_s
        self._samples: deque[Skeleton] = deque()

    def add(self, sk: Skeleton) -> None:
        if self._samples and sk.t <= self._samples[-1].t:
            raise ValueError(f"skeleton at t={sk.t} is not after the last one (t={self._samples[-1].t})")
        self._samples.append(sk)
        while sk.t - self._samples[0].t > self.span_s:
            self._samples.popleft()

    @property
    def latest(self) -> Skeleton | None:
        return self._samples[-1] if self._samples else None

    def since(self, t: float) -> list[Skeleton]:
        """The samples at or after t, oldest first."""
        return [s for s in self._samples if s.t >= t]

    def __len__(self) -> int:
        return len(self._samples)

    def __iter__(self) -> Iterator[Skeleton]:
        return iter(self._samples)
