"""Behaviour rules (issue #19) on synthetic keypoint sequences, and MoveNet's real keypoints
feeding them."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np
import pytest

from kuzet.common.errors import InvalidArgument
from kuzet.common.grpcclient import open_channel
from kuzet.common.inference.client import InferenceClient
from kuzet.common.testdata import street_photos
from kuzet.ingest.behaviour import (
    BehaviourEvent,
    BehaviourRule,
    CalibrationLine,
    Fall,
    FallConfig,
    KeypointHistory,
    Motionless,
    MotionlessConfig,
    Scope,
    SelfHarm,
    SelfHarmConfig,
    Skeleton,
    Violence,
    ViolenceConfig,
    behaviours,
    create,
)
from kuzet.ingest.behaviour import keypoints as kp
from kuzet.ingest.behaviour.episode import spread
from kuzet.ingest.cameras import Window

W, H = 1280, 720
FRAME = Scope(W, H)
NIGHT = datetime(2026, 11, 23, 23, 0, tzinfo=UTC).timestamp()  # a Monday, 23:00 UTC
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()
T0 = NOON

# A standing person in body coordinates: (lateral, up) from the hip centre, in torso lengths.
BODY = np.array(
    [
        (0.0, 1.45), (-0.08, 1.55), (0.08, 1.55), (-0.18, 1.5), (0.18, 1.5),  # nose, eyes, ears
        (-0.4, 1.0), (0.4, 1.0), (-0.5, 0.45), (0.5, 0.45),  # shoulders, elbows
        (-0.5, -0.05), (0.5, -0.05), (-0.2, 0.0), (0.2, 0.0),  # wrists, hips
        (-0.22, -0.9), (0.22, -0.9), (-0.25, -1.8), (0.25, -1.8),  # knees, ankles
    ]
)  # fmt: skip
ARMS_UP = {
    kp.LEFT_ELBOW: (-0.4, 1.5),
    kp.RIGHT_ELBOW: (0.4, 1.5),
    kp.LEFT_WRIST: (-0.3, 2.0),
    kp.RIGHT_WRIST: (0.3, 2.0),
}


def skeleton(
    t: float,
    hips: tuple[float, float],
    *,
    torso: float = 100.0,
    angle: float = 0.0,
    parts: dict[int, tuple[float, float]] | None = None,
    hidden: Iterable[int] = (),
    jitter: float = 0.0,
    rng: np.random.Generator | None = None,
) -> Skeleton:
    """A person whose hip centre is at ``hips`` (pixels), torso ``torso`` pixels long, leaning
    ``angle`` degrees clockwise from upright (90: lying), some parts moved (body coordinates) or
    hidden (scored 0.1), keypoints shaken by ``jitter`` pixels."""
    body = BODY.copy()
    for i, at in (parts or {}).items():
        body[i] = at
    a = math.radians(angle)
    lateral, up = np.array([math.cos(a), math.sin(a)]), np.array([math.sin(a), -math.cos(a)])
    xy = np.array(hips) + torso * (body[:, :1] * lateral + body[:, 1:] * up)
    if jitter:
        xy += (rng or np.random.default_rng(0)).normal(0, jitter, xy.shape)
    scores = np.full((17, 1), 0.9)
    scores[list(hidden)] = 0.1
    return Skeleton(t, np.hstack([xy, scores]))


def run(rule: BehaviourRule[Any], frames: Iterable[dict[int, Skeleton]]) -> list[BehaviourEvent]:
    """Feeds the rule frame by frame as ingest would; every event it made."""
    histories: dict[int, KeypointHistory] = {}
    events: list[BehaviourEvent] = []
    for frame in frames:
        now = max(sk.t for sk in frame.values())
        for tid, sk in frame.items():
            histories.setdefault(tid, KeypointHistory(span_s=60.0)).add(sk)
        events += rule.update(histories, now)
    return events


def times(start: float, stop: float, step: float) -> list[float]:
    return [start + i * step for i in range(round((stop - start) / step))]


def at(t: float) -> Any:
    """Equal to the epoch time t within a microsecond (approx's relative default would allow
    half an hour at epoch scale)."""
    return pytest.approx(t, abs=1e-6)


def started(events: Sequence[BehaviourEvent]) -> list[BehaviourEvent]:
    return [e for e in events if e.phase == "started"]


# --- keypoints ------------------------------------------------------------------------------


def test_torso_angle_length_and_hands() -> None:
    up, lying, leaning = (
        skeleton(0, (500, 400)),
        skeleton(0, (500, 400), angle=90),
        skeleton(0, (500, 400), angle=-45),
    )
    assert kp.torso_angle(up, 0.3) == pytest.approx(0)
    assert kp.torso_angle(lying, 0.3) == pytest.approx(90)
    assert kp.torso_angle(leaning, 0.3) == pytest.approx(45)
    assert kp.torso_angle(skeleton(0, (500, 400), angle=180), 0.3) == pytest.approx(180)
    assert kp.torso_length(up, 0.3) == pytest.approx(100)
    assert kp.hands_above_head(up, 0.3) is False
    assert kp.hands_above_head(skeleton(0, (500, 400), parts=ARMS_UP), 0.3) is True
    # Not seen is not evidence.
    assert kp.hands_above_head(skeleton(0, (500, 400), parts=ARMS_UP, hidden=[kp.LEFT_WRIST]), 0.3) is None
    assert kp.torso_angle(skeleton(0, (500, 400), hidden=[*kp.HIPS]), 0.3) is None
    # One shoulder and one hip (seen side-on) still give the torso.
    side = skeleton(0, (500, 400), hidden=[kp.LEFT_SHOULDER, kp.LEFT_HIP])
    assert kp.torso_angle(side, 0.3) == pytest.approx(0, abs=15)


def test_limb_speed_is_relative_to_the_body_and_scale_free() -> None:
    punch = {kp.RIGHT_WRIST: (1.2, 1.0)}
    for torso in (50.0, 200.0):
        a = skeleton(0.0, (500, 500), torso=torso)
        b = skeleton(0.5, (500, 500), torso=torso, parts=punch)
        distance = math.dist(BODY[kp.RIGHT_WRIST], punch[kp.RIGHT_WRIST])
        assert kp.limb_speed(a, b, 0.3) == pytest.approx(distance / 0.5)
    # A walker: the whole body moves, the limbs do not move relative to it.
    walk = kp.limb_speed(skeleton(0.0, (500, 500)), skeleton(0.5, (560, 500)), 0.3)
    assert walk == pytest.approx(0)
    hidden = skeleton(0.5, (500, 500), parts=punch, hidden=[*kp.LIMB_ENDS])
    assert kp.limb_speed(skeleton(0.0, (500, 500)), hidden, 0.3) is None


def test_motion_energy_and_history() -> None:
    rng = np.random.default_rng(1)
    still = [skeleton(t, (500, 500), jitter=1.0, rng=rng) for t in times(0, 10, 0.5)]
    moving = [skeleton(t, (500 + 40 * t, 500)) for t in times(0, 10, 0.5)]
    energy_still = kp.motion_energy(still, 0.3)
    assert energy_still is not None and energy_still < 0.05
    assert kp.motion_energy(moving, 0.3) == pytest.approx(0.4)
    # Low-score points do not count: with almost nothing seen, motion cannot be told.
    dim = [skeleton(t, (500, 500), hidden=range(13)) for t in times(0, 3, 0.5)]
    assert kp.motion_energy(dim, 0.3) is None
    history = KeypointHistory(span_s=5.0)
    for sk in moving:
        history.add(sk)
    assert len(history) == 11 and history.latest is moving[-1]
    assert [s.t for s in history.since(9.0)] == [9.0, 9.5]
    with pytest.raises(ValueError, match="not after"):
        history.add(skeleton(9.5, (0, 0)))
    with pytest.raises(ValueError, match="17 keypoints"):
        Skeleton(0, np.zeros((16, 3)))
    assert spread([float(i) for i in range(100)], 8) == (0, 14, 28, 42, 57, 71, 85, 99)


# --- fall -----------------------------------------------------------------------------------


def fall_frames(down_for: float, *, hidden_when_down: Iterable[int] = ()) -> list[dict[int, Skeleton]]:
    """Standing 2 s, falling within 0.5 s, lying ``down_for`` seconds, standing again."""
    frames = [{7: skeleton(t, (600, 400))} for t in times(T0, T0 + 2, 0.25)]
    frames += [
        {7: skeleton(t, (640, 560), angle=90, hidden=hidden_when_down)}
        for t in times(T0 + 2.25, T0 + 2.25 + down_for, 0.25)
    ]
    frames += [{7: skeleton(t, (600, 400))} for t in times(T0 + 2.25 + down_for, T0 + 4.25 + down_for, 0.25)]
    return frames


def test_fall_fires_when_an_upright_person_stays_down() -> None:
    events = run(Fall(FallConfig(scope=FRAME, hold_s=3.0)), fall_frames(5.0))
    assert [e.phase for e in events] == ["started", "ended"]
    first, ended = events
    assert first.track_ids == (7,) and first.subject == "track:7" and first.rule == "fall"
    assert first.start == at(T0 + 2.25) and first.end == at(T0 + 5.25)
    assert first.frames[0] == first.start and first.frames[-1] == first.end and len(first.frames) <= 8
    assert first.attributes["torso_angle_deg"] == pytest.approx(90)
    assert ended.start == first.start and ended.end == at(T0 + 7.0)


def test_fall_does_not_fire_for_a_brief_lie_or_someone_always_lying() -> None:
    assert run(Fall(FallConfig(scope=FRAME, hold_s=3.0)), fall_frames(1.0)) == []
    lying = [{7: skeleton(t, (640, 560), angle=90)} for t in times(T0, T0 + 10, 0.25)]
    assert run(Fall(FallConfig(scope=FRAME, hold_s=3.0)), lying) == []


def test_fall_does_not_fire_on_a_torso_it_cannot_see() -> None:
    frames = fall_frames(5.0, hidden_when_down=[*kp.SHOULDERS, *kp.HIPS])
    assert run(Fall(FallConfig(scope=FRAME, hold_s=3.0)), frames) == []


def test_fall_outside_the_zone_is_not_seen() -> None:
    corner = Scope(W, H, zone=((0, 0), (300, 0), (300, 300), (0, 300)))
    assert run(Fall(FallConfig(scope=corner, hold_s=3.0)), fall_frames(5.0)) == []


# --- motionless -----------------------------------------------------------------------------


def still_frames(start: float, minutes: float) -> list[dict[int, Skeleton]]:
    rng = np.random.default_rng(2)
    return [
        {3: skeleton(t, (600, 400), jitter=1.0, rng=rng)} for t in times(start, start + minutes * 60, 2.0)
    ]


def night_scope() -> Scope:
    # 22:00 to 06:00, Paris time (23:00 UTC is midnight there).
    return Scope(W, H, windows=(Window(22 * 60, 6 * 60, frozenset()),), time_zone="Europe/Paris")


def test_motionless_at_night_fires_after_n_minutes() -> None:
    rule = Motionless(MotionlessConfig(scope=night_scope(), hold_s=600.0))
    (event,) = run(rule, still_frames(NIGHT, 11))
    assert event.phase == "started" and event.track_ids == (3,)
    assert event.end - event.start == pytest.approx(600, abs=2.0)
    assert event.attributes["motion_energy"] < 0.1 and len(event.frames) == 8


def test_motionless_during_the_day_or_moving_does_not_fire() -> None:
    assert run(Motionless(MotionlessConfig(scope=night_scope(), hold_s=600.0)), still_frames(NOON, 11)) == []
    # At night, but turning over every 3 minutes.
    frames = still_frames(NIGHT, 11)
    for i in range(0, len(frames), 90):
        frames[i] = {3: skeleton(frames[i][3].t, (600, 400), angle=60)}
    assert run(Motionless(MotionlessConfig(scope=night_scope(), hold_s=600.0)), frames) == []


# --- self-harm ------------------------------------------------------------------------------

FLOOR = CalibrationLine((100, 600), (1200, 600))
LIGATURE = CalibrationLine((100, 150), (1200, 150))


def posture(
    feet_above_floor: float,
    *,
    parts: dict[int, tuple[float, float]] | None = None,
    hidden: Iterable[int] = (),
) -> list[dict[int, Skeleton]]:
    """A person standing still for 8 s, feet ``feet_above_floor`` pixels above the floor line."""
    rng = np.random.default_rng(3)
    hips = (600.0, 600 - feet_above_floor - 180)
    return [
        {5: skeleton(t, hips, parts=parts, hidden=hidden, jitter=0.5, rng=rng)}
        for t in times(T0, T0 + 8, 0.5)
    ]


def test_selfharm_fires_for_feet_above_the_floor_line() -> None:
    (event,) = run(SelfHarm(SelfHarmConfig(scope=FRAME, floor_line=FLOOR, hold_s=5.0)), posture(40))
    assert event.phase == "started" and event.end - event.start == pytest.approx(5.0)


def test_selfharm_does_not_fire_for_feet_on_the_floor_or_unseen_feet() -> None:
    assert run(SelfHarm(SelfHarmConfig(scope=FRAME, floor_line=FLOOR, hold_s=5.0)), posture(0)) == []
    unseen = posture(40, hidden=kp.ANKLES)
    assert run(SelfHarm(SelfHarmConfig(scope=FRAME, floor_line=FLOOR, hold_s=5.0)), unseen) == []


def test_selfharm_takes_a_faint_second_ankle_once_one_is_clear() -> None:
    cfg = SelfHarmConfig(scope=FRAME, floor_line=FLOOR, hold_s=5.0)

    def scored(frames: list[dict[int, Skeleton]], left: float, right: float) -> list[dict[int, Skeleton]]:
        for frame in frames:
            frame[5].points[kp.ANKLES, 2] = (left, right)
        return frames

    # MoveNet's far ankle of a small suspended person: 0.22-0.29, the near one clear.
    assert len(run(SelfHarm(cfg), scored(posture(40), 0.25, 0.6))) == 1
    # Too faint, or both faint: the feet are not seen, nothing is told.
    assert run(SelfHarm(cfg), scored(posture(40), 0.15, 0.6)) == []
    assert run(SelfHarm(cfg), scored(posture(40), 0.25, 0.25)) == []
    # Feet on the floor stay on the floor, however faint.
    assert run(SelfHarm(cfg), scored(posture(0), 0.25, 0.6)) == []
    # A faint ankle drawn at the floor beside a clear lifted one does not say "no": it cannot tell,
    # and does not break a posture the other samples hold.
    lifted = posture(40)
    rule = SelfHarm(cfg)
    hist = KeypointHistory(span_s=60.0)
    for frame in lifted:
        hist.add(frame[5])
    sk = lifted[-1][5]
    sk.points[kp.ANKLES[0], 1] = 600.0  # on the floor line
    sk.points[kp.ANKLES, 2] = (0.25, 0.6)
    assert rule.condition(5, hist, sk) is None
    sk.points[kp.ANKLES, 2] = (0.6, 0.6)
    assert rule.condition(5, hist, sk) is False
    with pytest.raises(InvalidArgument, match="second_ankle_min_score"):
        SelfHarmConfig(scope=FRAME, floor_line=FLOOR, second_ankle_min_score=0.5)


def test_selfharm_head_bowed_below_the_ligature_line() -> None:
    cfg = SelfHarmConfig(scope=FRAME, floor_line=FLOOR, ligature_line=LIGATURE, hold_s=5.0)
    bowed = {kp.NOSE: (0.0, 1.15), kp.LEFT_EYE: (-0.08, 1.2), kp.RIGHT_EYE: (0.08, 1.2)}
    assert len(run(SelfHarm(cfg), posture(0, parts=bowed))) == 1
    assert run(SelfHarm(cfg), posture(0)) == []  # head up


# --- climbing -------------------------------------------------------------------------------

FENCE = CalibrationLine((0, 300), (1280, 300))


def test_climbing_fires_for_hips_rising_over_the_fence_with_hands_up() -> None:
    climb = [{9: skeleton(t, (400, 500 - 150 * (t - T0)), parts=ARMS_UP)} for t in times(T0, T0 + 2.0, 0.25)]
    climb += [{9: skeleton(t, (400, 200), parts=ARMS_UP)} for t in times(T0 + 2.0, T0 + 3.0, 0.25)]
    events = run(create("climbing", FRAME, {"fence_line": FENCE}), climb)
    (event,) = started(events)
    assert event.rule == "climbing" and event.track_ids == (9,)
    assert event.start == at(T0 + 1.5)  # the first sample with the hips above


def test_climbing_does_not_fire_walking_along_the_fence_or_without_hands_up() -> None:
    along = [{9: skeleton(t, (200 + 100 * (t - T0), 500), parts=ARMS_UP)} for t in times(T0, T0 + 6, 0.25)]
    assert run(create("climbing", FRAME, {"fence_line": FENCE}), along) == []
    rising = [{9: skeleton(t, (400, 500 - 150 * (t - T0)))} for t in times(T0, T0 + 3, 0.25)]
    assert run(create("climbing", FRAME, {"fence_line": FENCE}), rising) == []
    hands_unseen = [
        {9: skeleton(t, (400, 500 - 150 * (t - T0)), parts=ARMS_UP, hidden=kp.WRISTS)}
        for t in times(T0, T0 + 3, 0.25)
    ]
    assert run(create("climbing", FRAME, {"fence_line": FENCE}), hands_unseen) == []


def test_climbing_survives_a_pose_dropout_within_the_rise_window() -> None:
    """The model loses the climber for 1.5 s (longer than grace_s) while the hips cross the
    fence: that the hips were below is kept for rise_window_s, so the climb still fires."""
    bystander = {2: skeleton(0, (1000, 500))}

    def frame(t: float, climber: dict[int, Skeleton]) -> dict[int, Skeleton]:
        return {**climber, 2: dataclasses.replace(bystander[2], t=t)}

    below = [
        frame(t, {9: skeleton(t, (400, 500 - 150 * (t - T0)), parts=ARMS_UP)})
        for t in times(T0, T0 + 1.0, 0.25)
    ]
    lost = [frame(t, {}) for t in times(T0 + 1.0, T0 + 2.5, 0.25)]
    above = [frame(t, {9: skeleton(t, (400, 200), parts=ARMS_UP)}) for t in times(T0 + 2.5, T0 + 3.5, 0.25)]
    (event,) = started(run(create("climbing", FRAME, {"fence_line": FENCE}), below + lost + above))
    assert event.track_ids == (9,) and event.start == at(T0 + 2.5)
    # Past the rise window the dropout does lose it: first seen above, no climb.
    late = [frame(t, {9: skeleton(t, (400, 200), parts=ARMS_UP)}) for t in times(T0 + 4.0, T0 + 5.0, 0.25)]
    assert started(run(create("climbing", FRAME, {"fence_line": FENCE}), below + lost + late)) == []


# --- violence -------------------------------------------------------------------------------


def pair_frames(apart: float, punching: bool) -> list[dict[int, Skeleton]]:
    """Two people ``apart`` pixels (torso 100) for 4 s; person 1 throws a blow every 0.5 s."""
    frames = []
    for i, t in enumerate(times(T0, T0 + 4, 0.25)):
        blow = {kp.RIGHT_WRIST: (1.3, 1.0), kp.RIGHT_ELBOW: (0.9, 1.0)} if punching and i % 2 else None
        frames.append({1: skeleton(t, (500, 500), parts=blow), 2: skeleton(t, (500 + apart, 500))})
    return frames


def test_violence_fires_for_close_people_with_fast_limbs() -> None:
    # After the fight person 2 leaves the picture: the pair's episode ends with them.
    after = [{1: skeleton(t, (500, 500))} for t in times(T0 + 4, T0 + 6, 0.25)]
    started_, ended = run(
        Violence(ViolenceConfig(scope=FRAME, hold_s=2.0)), pair_frames(150, punching=True) + after
    )
    assert started_.phase == "started" and started_.track_ids == (1, 2) and started_.subject == "tracks:1+2"
    assert started_.end - started_.start >= 2.0
    assert started_.attributes["apart_torso_lengths"] == pytest.approx(1.5)
    # Person 2's last sample (3.75 s) still pairs with person 1's up to sync_s (0.5 s) later.
    assert ended.phase == "ended" and ended.start == started_.start and ended.end == at(T0 + 4.25)


def test_violence_does_not_fire_for_close_still_people_or_blows_out_of_reach() -> None:
    assert run(Violence(ViolenceConfig(scope=FRAME, hold_s=2.0)), pair_frames(150, punching=False)) == []
    assert run(Violence(ViolenceConfig(scope=FRAME, hold_s=2.0)), pair_frames(500, punching=True)) == []


# --- configuration --------------------------------------------------------------------------


def test_every_rule_type_is_registered_and_documented() -> None:
    assert set(behaviours()) == {"fall", "motionless", "selfharm", "climbing", "violence"}
    # How much history ingest must keep per track for a rule.
    assert create("motionless", FRAME, {"window_s": 20.0}).history_s == 20.0
    for kind in behaviours().values():
        # The docstring is the definition: it names every threshold the rule reads.
        doc = kind.__doc__ or ""
        shared = {"scope", "min_score", "grace_s"}
        thresholds = [
            f.name
            for f in dataclasses.fields(kind.config_type)
            if f.name not in shared and not f.name.endswith("_line")
        ]
        assert thresholds and all(f"``{name}``" in doc for name in thresholds), kind.name


@pytest.mark.parametrize(
    ("kind", "scope", "settings", "message"),
    [
        ("selfharm", FRAME, {}, "selfharm: floor_line is required"),
        ("climbing", FRAME, {"hold_s": 1.0}, "climbing: fence_line is required"),
        (
            "climbing",
            FRAME,
            {"fence_line": CalibrationLine((0, 300), (1400, 300))},
            "fence_line lies outside the 1280x720 frame",
        ),
        (
            "selfharm",
            FRAME,
            {"floor_line": FLOOR, "ligature_line": CalibrationLine((0, -5), (50, -5))},
            "ligature_line lies outside",
        ),
        ("fall", FRAME, {"hold_s": 0}, r"fall: hold_s \(N\) must be > 0"),
        ("motionless", FRAME, {"hold_s": -60}, r"hold_s \(N\) must be > 0"),
        ("violence", FRAME, {"reach": 0}, "violence: reach must be > 0"),
        ("fall", FRAME, {"upright_max_deg": 70}, "upright_max_deg < horizontal_min_deg"),
        ("fall", FRAME, {"min_score": 1.5}, r"min_score must be in \(0, 1\)"),
        ("fall", FRAME, {"down_seconds": 3}, r"fall: unknown settings \['down_seconds'\]"),
        (
            "loitering",
            FRAME,
            {},
            r"unknown behaviour rule type 'loitering' \(known: climbing, fall, motionless, selfharm, violence\)",
        ),
    ],
)
def test_bad_configurations_are_refused_clearly(
    kind: str, scope: Scope, settings: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        create(kind, scope, settings)


def test_bad_scopes_and_lines_are_refused_clearly() -> None:
    with pytest.raises(InvalidArgument, match="the zone lies outside the 1280x720 frame"):
        Scope(W, H, zone=((1000, 500), (1400, 500), (1400, 700)))
    with pytest.raises(InvalidArgument, match="frame size must be positive"):
        Scope(0, H)
    with pytest.raises(InvalidArgument, match="unknown time zone"):
        Scope(W, H, time_zone="Mars/Olympus")
    with pytest.raises(InvalidArgument, match="within 45 degrees of horizontal"):
        CalibrationLine((100, 0), (110, 600))
    with pytest.raises(InvalidArgument, match="two ends must differ"):
        CalibrationLine((100, 100), (100, 100))
    with pytest.raises(InvalidArgument, match="takes a ViolenceConfig"):
        Violence(FallConfig(scope=FRAME))  # type: ignore[arg-type]


# --- real keypoints -------------------------------------------------------------------------


@pytest.mark.slow
async def test_movenet_keypoints_of_a_real_photo_feed_the_rules(inference: str) -> None:
    """The real MoveNet model (the inference service's embedded backend) on a real photo of
    standing people: the best-scored person's torso is upright; on the photo turned 90 degrees it
    is horizontal; standing then turned for 4 s is a fall."""
    image = cv2.imread(str(street_photos()[0]))  # bus.jpg: people standing in a street
    assert image is not None
    turned = np.ascontiguousarray(np.rot90(image))
    async with open_channel(inference, audience="inference") as channel:
        upright, lying = await InferenceClient(channel).estimate_poses([image, turned])
    stand = Skeleton.from_pose(T0, upright.poses[0])
    down = Skeleton.from_pose(T0 + 0.5, lying.poses[0])
    angle_up, angle_down = kp.torso_angle(stand, 0.3), kp.torso_angle(down, 0.3)
    assert angle_up is not None and angle_up < 15, angle_up
    assert angle_down is not None and abs(angle_down - 90) < 15, angle_down
    torso = kp.torso_length(stand, 0.3)
    assert torso is not None and 0.08 * image.shape[0] < torso < 0.5 * image.shape[0], torso

    size = max(image.shape[:2])
    frames = [{1: Skeleton(T0 + t, stand.points)} for t in (0.0, 0.5, 1.0)]
    frames += [{1: Skeleton(T0 + 1.5 + t, down.points)} for t in times(0.0, 4.0, 0.5)]
    (event,) = run(Fall(FallConfig(scope=Scope(size, size), hold_s=3.0)), frames)
    assert event.phase == "started" and event.start == at(T0 + 1.5)
