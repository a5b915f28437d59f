"""The labelled behaviour clip set (kuzet.ingest.testing.clips): it is the same on every run, its
labels say what its frames show, and the real MoveNet model on its frames gives each rule's
event on a positive clip and not on a negative one."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from kuzet.common.grpcclient import open_channel
from kuzet.common.inference.client import InferenceClient
from kuzet.ingest.behaviour import Skeleton
from kuzet.ingest.behaviour import keypoints as kp
from kuzet.ingest.testing.clips import Clip, clip_set, lines, render, write_labels
from kuzet.ingest.testing.clips import catalogue as cat
from kuzet.ingest.testing.clips.evaluate import ClipRun, actor_at, score, truth_skeletons


def digest(clip: Clip, frames: int) -> str:
    h = hashlib.sha256()
    for frame in render(clip):
        if frame.index >= frames:
            break
        h.update(frame.image.tobytes())
        for actor, placed in sorted(frame.truth.items()):
            h.update(f"{actor}{placed.box}".encode())
    return h.hexdigest()


def test_the_clip_set_is_deterministic(tmp_path: Path) -> None:
    one, two = clip_set(quick=True), clip_set(quick=True)
    assert one.to_json() == two.to_json()
    full = clip_set()
    assert [c.name for c in full.clips[:2]] == ["fall-positive-1", "fall-positive-2"]
    assert full.normal_hours >= 0.5  # 30 minutes of normal activity
    assert {c.rule for c in full.clips if c.purpose == "positive"} == {
        "fall",
        "motionless",
        "selfharm",
        "climbing",
        "violence",
    }
    for clip in (one.clips[0], one.clips[6]):  # a fall, a violence clip
        assert digest(clip, 12) == digest(clip, 12)
    labels = json.loads(write_labels(one, tmp_path / "labels.json").read_text())
    fall = labels["clips"][0]
    assert fall["labels"][0]["rule"] == "fall" and fall["calibration"]["floor_line"][0][1] == 200.0


def test_labels_line_up_with_what_is_rendered() -> None:
    """The rules on the rendered people's true keypoints find every label and nothing else; and
    the labelled postures are there in the pixels' truth (lying, feet up, hips over the fence)."""
    clips = clip_set(quick=True)
    found = {}
    for clip in clips.clips:
        run = ClipRun(clip, clips.motionless_hold_s)
        for frame in render(clip):
            true = truth_skeletons(frame, clip.width, clip.height)
            run.feed(frame.t, true, {k: k for k in true})
            late = frame.t - clip.start > 0.8 * clip.duration
            if clip.purpose == "positive" and late:
                check_posture(clip, true[0])
        found[clip.name] = run.detections
    for rule, s in score(clips, found).items():
        assert (s.recall, s.precision, s.normal_events) == (1.0, 1.0, 0), (rule, s)


def check_posture(clip: Clip, sk: Skeleton) -> None:
    angle = kp.torso_angle(sk, 0.3)
    assert angle is not None
    calibration = lines(clip.scene)
    if clip.rule == "fall":
        assert angle > 75
    elif clip.rule == "selfharm":
        floor_y = calibration["floor_line"][0][1]
        assert angle < 10 and all(sk.points[i, 1] < floor_y for i in kp.ANKLES)
    elif clip.rule == "climbing":
        hips = kp.hip_centre(sk, 0.3)
        assert hips is not None and hips[1] < calibration["fence_line"][0][1]
        assert kp.hands_above_head(sk, 0.3)


# One positive and one negative clip per rule for the real model, by builder and variant (the
# motionless ones with a 20 s N): a person standing still at night (MoveNet at its 256-px input
# finds no one lying still from the start: the bench counts that against the rule), and one
# stepping aside every 6-12 s.
HOLD_S = 20.0
PAIRS = {
    "fall": (cat.fall_positive, 0, cat.fall_negative, 0),
    "motionless": (
        lambda r, s, n, v: cat.motionless_positive(r, s, n, v, HOLD_S),
        0,
        lambda r, s, n, v: cat.motionless_negative(r, s, n, v, HOLD_S),
        1,
    ),
    "selfharm": (cat.selfharm_positive, 0, cat.selfharm_negative, 0),
    "climbing": (cat.climbing_positive, 1, cat.climbing_negative, 1),
    "violence": (cat.violence_positive, 0, cat.violence_negative, 0),
}


async def rules_on_movenet(client: InferenceClient, clip: Clip) -> list[str]:
    """MoveNet on every frame; each pose is the rendered person its box overlaps (tracking is
    not under test here); the rules' started events."""
    frames = list(render(clip))
    found = []
    for i in range(0, len(frames), 16):  # 16 raw 640x360 frames: 11 MB, within a message's 32 MB
        found += await client.estimate_poses([f.image for f in frames[i : i + 16]])
    run = ClipRun(clip, HOLD_S)
    for frame, image_poses in zip(frames, found, strict=True):
        people = {}
        for pose in image_poses.poses:
            actor = actor_at((pose.box.x1, pose.box.y1, pose.box.x2, pose.box.y2), frame)
            if actor is not None and actor not in people:
                people[actor] = Skeleton.from_pose(frame.t, pose)
        run.feed(frame.t, people, {k: k for k in people})
    return [d.rule for d in run.detections]


@pytest.mark.slow
async def test_the_real_pose_model_gives_each_rule_on_its_positive_clip_only(inference: str) -> None:
    outcome = {}
    async with open_channel(inference, audience="inference") as channel:
        client = InferenceClient(channel)
        for k, (rule, (positive, pos_variant, negative, neg_variant)) in enumerate(PAIRS.items()):
            s = 7000 + 10 * k + pos_variant
            pos = positive(np.random.default_rng(s), s, f"{rule}-positive", pos_variant)
            neg = negative(np.random.default_rng(s + 1), s + 1, f"{rule}-negative", neg_variant)
            outcome[rule] = (
                rule in await rules_on_movenet(client, pos),
                rule in await rules_on_movenet(client, neg),
            )
    assert outcome == dict.fromkeys(PAIRS, (True, False)), outcome
