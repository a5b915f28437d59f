"""A clip: a drawn cell or yard, figures moving through keyframes, frames with their truth.

Each actor follows keyframes (linear between them) and may swing its arms: a walker's gait
(opposite arms, +-15 degrees at 0.9 Hz, a slight bob) or a fighter's blows (arms thrust
alternately, 0-120 degrees at 1.8 Hz). Sensor noise is drawn from a seeded pool, so a clip
renders to the same pixels on every run. ``render`` yields each analysed frame with the true
box and keypoints of every actor in it (what the figure's transforms put there).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np

from kuzet.common.geometry import Pt
from kuzet.ingest.testing.clips.figures import Placed, Stance, figures

SceneKind = Literal["cell", "yard"]
Purpose = Literal["positive", "negative", "normal"]
Line = tuple[Pt, Pt]

WIDTH, HEIGHT = 640, 360
# The scenes' calibration, as a site would draw it on the camera's picture (pixels of 640x360).
FLOOR_Y = 200  # cell: where the floor meets the back wall
LIGATURE_Y = 40  # cell: the bars above the door and window
FENCE_TOP_Y = 160  # yard: the top of the fence
FENCE_BASE_Y = 260  # yard: where the fence meets the ground


def lines(scene: SceneKind) -> dict[str, Line]:
    """The calibration lines of a scene, by the rule setting that takes them."""
    if scene == "cell":
        return {
            "floor_line": ((16.0, float(FLOOR_Y)), (624.0, float(FLOOR_Y))),
            "ligature_line": ((16.0, float(LIGATURE_Y)), (624.0, float(LIGATURE_Y))),
        }
    return {"fence_line": ((8.0, float(FENCE_TOP_Y)), (632.0, float(FENCE_TOP_Y)))}


@dataclass(frozen=True)
class Key:
    """An actor's stance from time ``t`` (seconds into the clip); stances between two keys are
    interpolated."""

    t: float
    x: float
    y: float
    height: float
    tilt: float = 0.0
    arms: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class Swing:
    """Arms swung about their key angles: ``amplitude`` degrees at ``hz``, opposite arms in
    opposite phase (while moving only, when ``walking``); ``bob`` the body's vertical bounce as a fraction of its height; ``lift``
    makes the swing one-sided (0 to 2 x amplitude, as blows thrust out and back)."""

    amplitude: float
    hz: float
    bob: float = 0.0
    lift: bool = False
    # Only while the actor moves between keys (a walker who stops stops swinging).
    walking: bool = False

    def arms(self, t: float, phase: float) -> tuple[float, float]:
        wave = [math.sin(2 * math.pi * self.hz * t + phase + k * math.pi) for k in (0, 1)]
        if self.lift:
            return (self.amplitude * (1 + wave[0]), self.amplitude * (1 + wave[1]))
        return (self.amplitude * wave[0], self.amplitude * wave[1])


GAIT = Swing(15.0, 0.9, bob=0.012, walking=True)
# Not a divisor of the 5 fps analysis rate: at 2.5 Hz every sample would catch the arm at the
# same two angles (or, in phase 0, at one), and the blows would vanish from the keypoints.
BLOWS = Swing(60.0, 1.8, lift=True)


@dataclass(frozen=True)
class Actor:
    figure: str
    keys: tuple[Key, ...]
    swing: Swing | None = None
    # When the swing is on (seconds into the clip); default: the whole time the actor is there.
    swing_from: float = -math.inf
    swing_until: float = math.inf
    phase: float = 0.0

    def stance(self, t: float) -> Stance | None:
        keys = self.keys
        if not keys or t < keys[0].t or t > keys[-1].t:
            return None
        a, b = keys[-1], keys[-1]
        for k0, k1 in itertools.pairwise(keys):
            if k0.t <= t <= k1.t:
                a, b = k0, k1
                break
        f = 0.0 if b.t == a.t else (t - a.t) / (b.t - a.t)

        def mix(u: float, v: float) -> float:
            return u + (v - u) * f

        arms = (mix(a.arms[0], b.arms[0]), mix(a.arms[1], b.arms[1]))
        y = mix(a.y, b.y)
        height = mix(a.height, b.height)
        moving = (a.x, a.y) != (b.x, b.y)
        swing = self.swing
        if swing is not None and self.swing_from <= t <= self.swing_until and (moving or not swing.walking):
            sw = swing.arms(t, self.phase)
            arms = (arms[0] + sw[0], arms[1] + sw[1])
            y -= swing.bob * height * abs(math.sin(2 * math.pi * swing.hz * t + self.phase))
        return Stance(mix(a.x, b.x), y, height, mix(a.tilt, b.tilt), arms)


@dataclass(frozen=True)
class Label:
    """A behaviour that truly happens in the clip: rule, from ``start`` to ``end`` (seconds into
    the clip), by the actors (indices into the clip's actors; two for violence)."""

    rule: str
    start: float
    end: float
    actors: tuple[int, ...]


@dataclass(frozen=True)
class Clip:
    """One labelled clip. ``fps`` is the analysed frame rate (the rate the rules are fed at);
    ``start`` is the UTC epoch time of its first frame (night for the motionless clips)."""

    name: str
    purpose: Purpose
    rule: str | None  # the rule the clip tests; None for normal activity
    scene: SceneKind
    duration: float
    fps: float
    start: float
    seed: int
    actors: tuple[Actor, ...]
    labels: tuple[Label, ...] = ()
    notes: str = ""
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def frame_count(self) -> int:
        return math.floor(self.duration * self.fps + 1e-9)

    def time(self, index: int) -> float:
        """UTC epoch time of frame ``index``."""
        return self.start + index / self.fps

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "purpose": self.purpose,
            "rule": self.rule,
            "scene": self.scene,
            "size": [self.width, self.height],
            "fps": self.fps,
            "duration_s": self.duration,
            "start_utc": self.start,
            "seed": self.seed,
            "calibration": {k: [list(a), list(b)] for k, (a, b) in lines(self.scene).items()},
            "actors": [a.figure for a in self.actors],
            "labels": [
                {"rule": lb.rule, "start_s": lb.start, "end_s": lb.end, "actors": list(lb.actors)}
                for lb in self.labels
            ],
            "notes": self.notes,
        }


@dataclass(frozen=True)
class Frame:
    """One analysed frame: its index, UTC epoch time, BGR pixels, and every visible actor's
    true box and keypoints (by actor index)."""

    index: int
    t: float
    image: np.ndarray
    truth: dict[int, Placed] = field(default_factory=dict)


@functools.lru_cache(maxsize=4)
def background(scene: SceneKind, seed: int) -> np.ndarray:
    """A cell (back wall, floor, door, window bars, bunk) or a yard (wall, fence, ground)."""
    rng = np.random.default_rng(seed)
    w, h = WIDTH, HEIGHT
    img = np.zeros((h, w, 3), np.float32)
    if scene == "cell":
        img[:FLOOR_Y] = np.linspace(165, 125, FLOOR_Y, dtype=np.float32)[:, None, None] * (0.97, 1.0, 1.02)
        img[FLOOR_Y:] = np.linspace(90, 130, h - FLOOR_Y, dtype=np.float32)[:, None, None] * (0.8, 0.85, 0.9)
        door_x = int(rng.integers(40, 120))
        cv2.rectangle(img, (door_x, LIGATURE_Y + 6), (door_x + 90, FLOOR_Y), (70.0, 85.0, 95.0), -1)
        win_x = int(rng.integers(380, 480))
        cv2.rectangle(
            img, (win_x, LIGATURE_Y + 10), (win_x + 110, LIGATURE_Y + 70), (190.0, 185.0, 170.0), -1
        )
        for k in range(win_x, win_x + 111, 14):
            cv2.line(img, (k, LIGATURE_Y + 10), (k, LIGATURE_Y + 70), (50.0, 50.0, 55.0), 2)
        cv2.line(img, (0, LIGATURE_Y), (w, LIGATURE_Y), (60.0, 60.0, 65.0), 4)  # a pipe along the wall
        bunk_x = int(rng.integers(200, 300))
        cv2.rectangle(img, (bunk_x, FLOOR_Y - 40), (bunk_x + 170, FLOOR_Y - 10), (80.0, 95.0, 120.0), -1)
    else:
        img[:FENCE_BASE_Y] = np.linspace(175, 150, FENCE_BASE_Y, dtype=np.float32)[:, None, None] * (
            1.05,
            1.0,
            0.95,
        )
        ground = np.linspace(110, 145, h - FENCE_BASE_Y, dtype=np.float32)[:, None, None]
        img[FENCE_BASE_Y:] = ground * (0.8, 0.9, 0.95)
        for k in range(-h, w, 16):  # chain-link mesh between the posts
            cv2.line(img, (k, FENCE_BASE_Y), (k + (FENCE_BASE_Y - FENCE_TOP_Y), FENCE_TOP_Y), (95.0,) * 3, 1)
            cv2.line(img, (k, FENCE_TOP_Y), (k + (FENCE_BASE_Y - FENCE_TOP_Y), FENCE_BASE_Y), (95.0,) * 3, 1)
        for k in range(int(rng.integers(10, 40)), w, 120):
            cv2.rectangle(img, (k, FENCE_TOP_Y - 8), (k + 6, FENCE_BASE_Y), (70.0, 70.0, 75.0), -1)
        cv2.line(img, (0, FENCE_TOP_Y), (w, FENCE_TOP_Y), (60.0, 60.0, 65.0), 3)
    texture: Any = rng.normal(0, 5, (h // 4 + 1, w // 4 + 1)).astype(np.float32)
    img += cv2.resize(texture, (w, h), interpolation=cv2.INTER_CUBIC)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def render(clip: Clip, *, noise: float = 2.0) -> Iterator[Frame]:
    """The clip's analysed frames, nearest actors (lowest feet) drawn last."""
    base = background(clip.scene, clip.seed)
    people = figures()
    rng = np.random.default_rng(clip.seed + 1000)
    pool = [rng.normal(0, noise, (clip.height, clip.width, 1)).astype(np.int16) for _ in range(8)]
    for i in range(clip.frame_count):
        t = i / clip.fps
        image = base.copy()
        stances = [(k, a.stance(t), a) for k, a in enumerate(clip.actors)]
        truth = {}
        for k, stance, actor in sorted(
            ((k, s, a) for k, s, a in stances if s is not None), key=lambda item: item[1].y
        ):
            placed = people[actor.figure].draw(image, stance)
            if placed is not None:
                truth[k] = placed
        image = np.clip(image.astype(np.int16) + pool[int(rng.integers(len(pool)))], 0, 255).astype(np.uint8)
        yield Frame(i, clip.time(i), image, truth)
