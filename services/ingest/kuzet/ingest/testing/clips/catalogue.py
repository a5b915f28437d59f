"""The labelled clip set: for each behaviour rule, clips that show it (positive) and clips that
come close without showing it (negative), plus long clips of ordinary activity (normal) for the
false alarms per camera-hour. Every clip is built from a seed, so the set is the same on every
run; ``quick`` is a small subset with a short motionless hold for a benchmark under a minute.

Positive (label: the rule, when, who):
- fall: stands still, falls sideways (tilted 0 -> 80-90 degrees about the feet in 0.4-0.8 s),
  lies still; label from mid-fall to the end;
- motionless: lies or stands still at night past the hold; label from the start;
- selfharm: upright and still with the feet above the floor line (suspended against the back
  wall); label for the whole posture;
- climbing: arms raised, rises from the ground across the fence top in ~2 s and stays up;
- violence: two people within reach, one or both throwing blows (arms thrust out and back at
  1.8 Hz), for 5-7 s.
Negative: lying down slowly (6-9 s) or bending and straightening (fall); stepping aside every
0.3-0.6 N at night, or lying still by day (motionless); standing still on the floor by the wall, or
jumping (selfharm); walking along the fence, arms up without rising, or rising without raising
the arms (climbing); two people standing close and still, passing each other, or one person
throwing blows alone (violence). Normal: people walking across, standing a while, pairs
passing, at day and night, in both scenes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from kuzet.ingest.testing.clips.figures import FIGURES
from kuzet.ingest.testing.clips.scenes import (
    BLOWS,
    FENCE_BASE_Y,
    FENCE_TOP_Y,
    FLOOR_Y,
    GAIT,
    HEIGHT,
    WIDTH,
    Actor,
    Clip,
    Key,
    Label,
    Purpose,
    SceneKind,
)

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()  # a Monday
NIGHT = datetime(2026, 11, 23, 23, 0, tzinfo=UTC).timestamp()
# The motionless rule's hours in the set: 22:00-06:00 UTC, as (start, end) minutes of the day.
NIGHT_HOURS = (22 * 60, 6 * 60)
RATE = 5.0  # frames analysed per second in the rule clips
NORMAL_RATE = 2.0  # ... in the long normal clips (cost; the rules are rate-free above ~1 fps)
MOTIONLESS_RATE = 0.5


@dataclass(frozen=True)
class ClipSet:
    clips: tuple[Clip, ...]
    # The motionless rule's N in this set (the full set uses the rule's default, 10 minutes).
    motionless_hold_s: float
    quick: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "quick": self.quick,
            "motionless_hold_s": self.motionless_hold_s,
            "motionless_hours_utc": ["22:00", "06:00"],
            "clips": [c.to_json() for c in self.clips],
        }

    @property
    def normal_hours(self) -> float:
        return sum(c.duration for c in self.clips if c.purpose == "normal") / 3600


Build = Callable[[np.random.Generator, int, str, int], Clip]


def _fig(rng: np.random.Generator) -> str:
    return FIGURES[int(rng.integers(len(FIGURES)))]


def _floor_y(rng: np.random.Generator, scene: str) -> float:
    top = FLOOR_Y + 60 if scene == "cell" else FENCE_BASE_Y + 40
    return float(rng.uniform(top, HEIGHT - 8))


def _lying_y(rng: np.random.Generator) -> float:
    # Lying, a body spans ~0.35 of its height across its feet' line: keep it in the picture.
    return float(rng.uniform(FLOOR_Y + 60, HEIGHT - 60))


def _place_to_lie(rng: np.random.Generator) -> tuple[float, float, int, float]:
    """Feet, height, side to fall to (1: head to the left) and x, the lying body in the picture."""
    y = _lying_y(rng)
    h = _standing_height(y, "cell")
    side = 1 if rng.random() < 0.5 else -1
    x = float(rng.uniform(h + 20, WIDTH - 20)) if side > 0 else float(rng.uniform(20, WIDTH - 20 - h))
    return y, h, side, x


def _standing_height(y: float, scene: str) -> float:
    # Nearer the camera (lower in the picture), taller; the far floor edge gives ~150 px.
    far = FLOOR_Y + 60 if scene == "cell" else FENCE_BASE_Y + 40
    return 150.0 + 80.0 * (y - far) / (HEIGHT - far)


def _clip(
    name: str,
    purpose: Purpose,
    rule: str | None,
    scene: SceneKind,
    duration: float,
    seed: int,
    actors: Sequence[Actor],
    labels: Sequence[Label] = (),
    *,
    fps: float = RATE,
    start: float = NOON,
    notes: str = "",
) -> Clip:
    return Clip(name, purpose, rule, scene, duration, fps, start, seed, tuple(actors), tuple(labels), notes)


# --- fall ---------------------------------------------------------------------------------------


def fall_positive(rng: np.random.Generator, seed: int, name: str, variant: int) -> Clip:
    y, h, side, x = _place_to_lie(rng)
    t_fall, fall_s = float(rng.uniform(2.5, 4.0)), float(rng.uniform(0.4, 0.8))
    angle = side * float(rng.uniform(80, 90))
    keys = (
        Key(0, x, y, h),
        Key(t_fall, x, y, h),
        Key(t_fall + fall_s, x, y, h, angle),
        Key(14, x, y, h, angle),
    )
    label = Label("fall", t_fall + fall_s / 2, 14.0, (0,))
    return _clip(name, "positive", "fall", "cell", 14, seed, [Actor(_fig(rng), keys)], [label])


def fall_negative(rng: np.random.Generator, seed: int, name: str, variant: int) -> Clip:
    y, h, side, x = _place_to_lie(rng)
    kind = ("slow", "bend", "lying")[variant % 3]
    keys: tuple[Key, ...]
    if kind == "slow":  # lies down slowly: the rule's "lying down slowly is no fall"
        down_s = float(rng.uniform(6, 9))
        keys = (
            Key(0, x, y, h),
            Key(2, x, y, h),
            Key(2 + down_s, x, y, h, side * 88),
            Key(16, x, y, h, side * 88),
        )
        notes = f"lies down slowly over {down_s:.1f} s"
    elif kind == "bend":  # bends to 45 degrees and straightens, twice
        keys = (Key(0, x, y, h), Key(2, x, y, h), Key(3, x, y, h, side * 45), Key(5, x, y, h, side * 45),
                Key(6, x, y, h), Key(8, x, y, h), Key(9, x, y, h, side * 50), Key(11, x, y, h, side * 50),
                Key(12, x, y, h), Key(16, x, y, h))  # fmt: skip
        notes = "bends over and straightens, twice"
    else:  # lying from the start (asleep on the floor)
        keys = (Key(0, x, y, h, side * 88), Key(16, x, y, h, side * 88))
        notes = "lying from the first frame, never seen upright"
    return _clip(name, "negative", "fall", "cell", 16, seed, [Actor(_fig(rng), keys)], notes=notes)


# --- motionless ---------------------------------------------------------------------------------


def _still(rng: np.random.Generator, lying: bool) -> tuple[float, float, float, float]:
    if lying:
        y, h, side, x = _place_to_lie(rng)
        return x, y, h, side * 88.0
    y = _floor_y(rng, "cell")
    return float(rng.uniform(200, 440)), y, _standing_height(y, "cell"), 0.0


def motionless_positive(rng: np.random.Generator, seed: int, name: str, variant: int, hold_s: float) -> Clip:
    duration = hold_s * 1.2 + 20
    lying = variant % 2 == 1
    x, y, h, tilt = _still(rng, lying)
    keys = (Key(0, x, y, h, tilt), Key(duration, x, y, h, tilt))
    label = Label("motionless", 0.0, duration, (0,))
    return _clip(name, "positive", "motionless", "cell", duration, seed, [Actor(_fig(rng), keys)], [label],
                 fps=MOTIONLESS_RATE, start=NIGHT,
                 notes=("lies" if lying else "stands") + " still at night")  # fmt: skip


def motionless_negative(rng: np.random.Generator, seed: int, name: str, variant: int, hold_s: float) -> Clip:
    duration = hold_s * 1.2 + 20
    x, y, h, tilt = _still(rng, variant % 2 == 0)
    if variant % 2 == 0:  # lying still, but by day: outside the rule's hours
        keys = [Key(0, x, y, h, tilt), Key(duration, x, y, h, tilt)]
        return _clip(name, "negative", "motionless", "cell", duration, seed, [Actor(_fig(rng), tuple(keys))],
                     fps=MOTIONLESS_RATE, start=NOON, notes="lies still by day (outside the hours)")  # fmt: skip
    # at night, shifts (steps 60-90 px aside, arms up or down) every 0.3-0.6 N: never still for N
    keys, t, arm = [Key(0, x, y, h, tilt)], 0.0, 0.0
    while t < duration:
        t = min(duration, t + float(rng.uniform(0.3, 0.6)) * hold_s)
        keys.append(Key(t, x, y, h, tilt, (arm, arm)))
        arm = 90.0 - arm
        x = float(np.clip(x + float(rng.choice([-1.0, 1.0])) * float(rng.uniform(60, 90)), 80, 560))
        t = min(duration, t + 6)
        keys.append(Key(t, x, y, h, tilt, (arm, arm)))
    return _clip(name, "negative", "motionless", "cell", duration, seed, [Actor(_fig(rng), tuple(keys))],
                 fps=MOTIONLESS_RATE, start=NIGHT, notes="stands at night, shifts every 0.3-0.6 N")  # fmt: skip


# --- self-harm risk posture ----------------------------------------------------------------------


def selfharm_positive(rng: np.random.Generator, seed: int, name: str, variant: int) -> Clip:
    h = float(rng.uniform(140, 155))
    lift = float(rng.uniform(14, 30))  # feet this many pixels above the floor line (0.3-0.7 torso)
    x = float(rng.uniform(150, 500))
    y = FLOOR_Y - lift
    keys = (Key(0, x, y, h), Key(12, x, y, h))
    label = Label("selfharm", 0.0, 12.0, (0,))
    return _clip(name, "positive", "selfharm", "cell", 12, seed, [Actor(_fig(rng), keys)], [label],
                 notes=f"suspended against the back wall, feet {lift:.0f} px above the floor line")  # fmt: skip


def selfharm_negative(rng: np.random.Generator, seed: int, name: str, variant: int) -> Clip:
    h = float(rng.uniform(150, 165))
    x = float(rng.uniform(150, 500))
    y = FLOOR_Y + float(rng.uniform(12, 30))
    if variant % 2 == 0:
        keys: tuple[Key, ...] = (Key(0, x, y, h), Key(12, x, y, h))
        notes = "stands still on the floor by the back wall"
    else:  # jumps on the spot: feet above the line, but moving
        ks = []
        for k in range(13):
            ks += [Key(k, x, y, h), Key(k + 0.3, x, FLOOR_Y - 25, h)]
        keys = tuple(ks[:-1])
        notes = "jumps on the spot by the back wall (feet above the line, moving)"
    return _clip(name, "negative", "selfharm", "cell", 12, seed, [Actor(_fig(rng), keys)], notes=notes)


# --- climbing ------------------------------------------------------------------------------------


# The hips of a standing figure are this fraction of its height above its feet.
_HIP_RISE = 0.53


def _climb_heights(rng: np.random.Generator) -> tuple[float, float, float]:
    """Height, feet on the ground in front of the fence, feet when the hips are over its top."""
    h = float(rng.uniform(140, 160))
    y0 = float(rng.uniform(FENCE_BASE_Y + 45, FENCE_BASE_Y + 90))
    over = float(rng.uniform(0.1, 0.15)) * h  # hips this far above the fence top (~0.35-0.5 torso)
    return h, y0, FENCE_TOP_Y - over + _HIP_RISE * h


def climbing_positive(rng: np.random.Generator, seed: int, name: str, variant: int) -> Clip:
    h, y0, y1 = _climb_heights(rng)
    x = float(rng.uniform(120, 520))
    t_up, rise_s = float(rng.uniform(2, 3)), float(rng.uniform(1.5, 2.5))
    up = (float(rng.uniform(160, 175)), float(rng.uniform(160, 175)))
    keys = (Key(0, x, y0, h), Key(1, x, y0, h, arms=up), Key(t_up, x, y0, h, arms=up),
            Key(t_up + rise_s, x, y1, h, arms=up), Key(10, x, y1, h, arms=up))  # fmt: skip
    label = Label("climbing", t_up, 10.0, (0,))
    return _clip(name, "positive", "climbing", "yard", 10, seed, [Actor(_fig(rng), keys)], [label],
                 notes="arms raised, rises across the fence top")  # fmt: skip


def climbing_negative(rng: np.random.Generator, seed: int, name: str, variant: int) -> Clip:
    h, y0, y1 = _climb_heights(rng)
    x = float(rng.uniform(160, 480))
    kind = ("along", "arms", "rise")[variant % 3]
    if kind == "along":
        d = float(rng.choice([-1.0, 1.0]))
        keys: tuple[Key, ...] = (Key(0, 320 - d * 360, y0, h), Key(10, 320 + d * 360, y0, h))
        return _clip(name, "negative", "climbing", "yard", 10, seed, [Actor(_fig(rng), keys, GAIT)],
                     notes="walks along the fence")  # fmt: skip
    up = (170.0, 170.0) if kind == "arms" else (0.0, 0.0)
    y1 = y0 if kind == "arms" else y1
    keys = (Key(0, x, y0, h), Key(1, x, y0, h, arms=up), Key(3, x, y0, h, arms=up),
            Key(5, x, y1, h, arms=up), Key(10, x, y1, h, arms=up))  # fmt: skip
    notes = (
        "stands with arms raised, does not rise"
        if kind == "arms"
        else "rises across the fence top, arms down"
    )
    return _clip(name, "negative", "climbing", "yard", 10, seed, [Actor(_fig(rng), keys)], notes=notes)


# --- violence ------------------------------------------------------------------------------------


def _pair(rng: np.random.Generator, gap_heights: float) -> tuple[float, float, float, float]:
    y = _floor_y(rng, "cell")
    h = _standing_height(y, "cell")
    x = float(rng.uniform(200, 440))
    return x - gap_heights * h / 2, x + gap_heights * h / 2, y, h


def violence_positive(rng: np.random.Generator, seed: int, name: str, variant: int) -> Clip:
    xa, xb, y, h = _pair(rng, float(rng.uniform(0.25, 0.4)))
    t0, t1 = float(rng.uniform(1.5, 2.5)), float(rng.uniform(7.5, 9.0))
    phases = rng.uniform(0, 2 * np.pi, 2)
    a = Actor(FIGURES[0], (Key(0, xa, y, h), Key(10, xa, y + 2, h)), BLOWS, t0, t1, float(phases[0]))
    both = variant % 2 == 0
    b = Actor(
        FIGURES[1],
        (Key(0, xb, y + 2, h), Key(10, xb, y, h)),
        BLOWS if both else None,
        t0,
        t1,
        float(phases[1]),
    )
    label = Label("violence", t0, t1, (0, 1))
    return _clip(name, "positive", "violence", "cell", 10, seed, [a, b], [label],
                 notes="two within reach, " + ("both" if both else "one") + " throwing blows")  # fmt: skip


def violence_negative(rng: np.random.Generator, seed: int, name: str, variant: int) -> Clip:
    kind = ("close", "passing", "alone")[variant % 3]
    if kind == "close":
        xa, xb, y, h = _pair(rng, 0.35)
        actors = [Actor(FIGURES[0], (Key(0, xa, y, h), Key(10, xa, y, h))),
                  Actor(FIGURES[1], (Key(0, xb, y + 3, h), Key(10, xb, y + 3, h)))]  # fmt: skip
        notes = "two stand close and still (talking)"
    elif kind == "passing":
        y = _floor_y(rng, "cell")
        h = _standing_height(y, "cell")
        actors = [Actor(FIGURES[0], (Key(0, -40, y, h), Key(10, 680, y, h)), GAIT),
                  Actor(FIGURES[1], (Key(0, 680, y + 6, h), Key(10, -40, y + 6, h)), GAIT, phase=1.0)]  # fmt: skip
        notes = "two walk past each other"
    else:
        y = _floor_y(rng, "cell")
        h = _standing_height(y, "cell")
        x = float(rng.uniform(200, 440))
        keys = (Key(0, x, y, h), Key(10, x, y, h))
        actors = [Actor(_fig(rng), keys, BLOWS, 2.0, 8.0, float(rng.uniform(0, 2 * np.pi)))]
        notes = "one person alone throws blows at the air"
    return _clip(name, "negative", "violence", "cell", 10, seed, actors, notes=notes)


# --- normal activity -----------------------------------------------------------------------------


def normal(rng: np.random.Generator, seed: int, name: str, variant: int, duration: float) -> Clip:
    """Ordinary activity: walkers crossing (alone or in pairs passing), some stopping to stand a
    while, at most three in view; by day or night, in the cell or the yard."""
    scene: SceneKind = "cell" if variant % 2 == 0 else "yard"
    actors: list[Actor] = []
    t = float(rng.uniform(0, 5))
    while t < duration - 12:
        y = _floor_y(rng, scene)
        h = _standing_height(y, scene)
        speed = float(rng.uniform(50, 110))  # px/s: ~1-1.5 m/s at this scale
        d = float(rng.choice([-1.0, 1.0]))
        x0, x1 = 320 - d * 370, 320 + d * 370
        cross_s = abs(x1 - x0) / speed
        if rng.random() < 0.4:  # stops mid-way to stand (or chat) for a while
            xm, stay = float(rng.uniform(150, 490)), float(rng.uniform(5, 40))
            tm = t + abs(xm - x0) / speed
            end = tm + stay + abs(x1 - xm) / speed
            keys: tuple[Key, ...] = (
                Key(t, x0, y, h),
                Key(tm, xm, y, h),
                Key(tm + stay, xm, y, h),
                Key(end, x1, y, h),
            )
            actors.append(Actor(_fig(rng), keys, GAIT, phase=float(rng.uniform(0, 6))))
        else:
            keys = (Key(t, x0, y, h), Key(t + cross_s, x1, y, h))
            actors.append(Actor(_fig(rng), keys, GAIT, phase=float(rng.uniform(0, 6))))
            if rng.random() < 0.3:  # another one walking the other way past
                y2 = y + float(rng.uniform(-8, 8))
                back = (Key(t, x1, y2, h), Key(t + cross_s * float(rng.uniform(0.8, 1.2)), x0, y2, h))
                actors.append(Actor(_fig(rng), back, GAIT, phase=float(rng.uniform(0, 6))))
        t += float(rng.uniform(6, 25))
    start = NOON if variant % 4 < 2 else NIGHT
    return _clip(name, "normal", None, scene, duration, seed, actors, fps=NORMAL_RATE, start=start,
                 notes="people walking, standing a while, passing each other")  # fmt: skip


def clip_set(*, quick: bool = False, seed: int = 19) -> ClipSet:
    """The whole labelled set (``quick``: one positive and one negative per rule, a short normal
    clip and a 60 s motionless hold)."""
    hold = 60.0 if quick else 600.0
    per_rule = {
        "fall": (8, 6),
        "selfharm": (6, 6),
        "climbing": (6, 6),
        "violence": (6, 6),
        "motionless": (2, 2),
    }
    if quick:
        per_rule = dict.fromkeys(per_rule, (1, 1))
    builders: dict[str, tuple[Build, Build]] = {
        "fall": (fall_positive, fall_negative),
        "selfharm": (selfharm_positive, selfharm_negative),
        "climbing": (climbing_positive, climbing_negative),
        "violence": (violence_positive, violence_negative),
        "motionless": (
            lambda r, s, n, v: motionless_positive(r, s, n, v, hold),
            lambda r, s, n, v: motionless_negative(r, s, n, v, hold),
        ),
    }
    clips: list[Clip] = []

    def add(build: Build, name: str, variant: int) -> None:
        s = seed * 1000 + len(clips)  # each clip its own seed: adding one changes no other
        clips.append(build(np.random.default_rng(s), s, name, variant))

    for rule, (positives, negatives) in per_rule.items():
        pos, neg = builders[rule]
        for k in range(positives):
            add(pos, f"{rule}-positive-{k + 1}", k)
        for k in range(negatives):
            add(neg, f"{rule}-negative-{k + 1}", k)
    count, minutes = (1, 0.75) if quick else (6, 5.0)
    for k in range(count):
        add(lambda r, s, n, v: normal(r, s, n, v, minutes * 60), f"normal-{k + 1}", k)
    return ClipSet(tuple(clips), hold, quick)
