"""The behaviour rules on video: labelled clips (kuzet.ingest.testing.clips) served by the real
RTSP server, analysed by ingest with the real inference service (CenterNet people, MoveNet
keypoints attached to their tracks). One positive and one negative clip per rule; crowding and
loitering ride on the same cameras. Each test runs one rule's two cameras side by side."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kuzet.common.testing import missing_component
from kuzet.common.v1 import common_pb2
from kuzet.ingest.testing.clips import Clip, clip_set, lines, write_mp4
from kuzet.ingest.testing.clips.catalogue import motionless_negative, motionless_positive
from kuzet.ingest.testing.rtsp import RtspServer, rtsp_available
from kuzet.ingest.v1 import ingest_pb2 as pb

from .conftest import _ingest

W, H = 640, 360
FPS = 5  # the clips' analysed rate
MOTIONLESS_N = 6.0
LEAD_IN_S = 6.0  # the first frame held this long before the clip (write_mp4)  # seconds: the rule's N, short for a test


def _motionless_clips() -> list[Clip]:
    """Still and shifting at night, N = MOTIONLESS_N, 14 s at 2 fps (the set's are minutes long)."""
    out = []
    for build, name in (
        (motionless_positive, "motionless-positive-1"),
        (motionless_negative, "motionless-negative-1"),
    ):
        clip = build(np.random.default_rng(7), 7, name, 1, MOTIONLESS_N)
        out.append(dataclasses.replace(clip, duration=14.0, fps=2.0))
    return out


def _clips() -> dict[str, Clip]:
    quick = [c for c in clip_set(quick=True).clips if c.rule not in (None, "motionless", "fall")]
    # Fall's negative is the bend (to 45-50 degrees and back): the slow lying down of the quick
    # set falls on video as often as not (docs/behaviour.md, "On video").
    full = {c.name: c for c in clip_set().clips}
    falls = [full["fall-positive-1"], full["fall-negative-2"]]
    # A person lying still from the first frame whom CenterNet never tracks (scores under 0.3):
    # found only by posing the zone without tracks (poses.py).
    untracked = dataclasses.replace(full["motionless-positive-2"], duration=14.0, fps=2.0)
    return {c.name: c for c in [*falls, *quick, *_motionless_clips(), untracked]}


CLIPS = _clips()


@pytest.fixture(scope="module")
def clips_rtsp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RtspServer]:
    if not rtsp_available():
        missing_component("gst-rtsp-server missing: run scripts/setup/rtsp.sh")
    folder = tmp_path_factory.mktemp("clips")
    # A motionless clip's person stands still through the lead-in: with N = 6 s, 6 s of it made
    # the negative (still at most 0.6 N between shifts) still for longer than N at its start,
    # which ingest, posing people without a track too, rightly took for motionless.
    mounts = {
        name: write_mp4(
            clip, folder / f"{name}.mp4", lead_in_s=1.0 if clip.rule == "motionless" else LEAD_IN_S
        )
        for name, clip in CLIPS.items()
    }
    with RtspServer(mounts) as server:
        yield server


@pytest.fixture
async def ingest(tmp_path: Path, inference: str) -> AsyncIterator[dict[str, Any]]:
    async for value in _ingest(tmp_path, inference):
        yield value


def P(x: float, y: float) -> common_pb2.Point:
    return common_pb2.Point(x=x, y=y)


WHOLE = pb.Zone(id="all", points=[P(0, 0), P(W, 0), P(W, H), P(0, H)])
RULE_TYPES = {
    "fall": pb.RULE_TYPE_PERSON_DOWN,
    "motionless": pb.RULE_TYPE_MOTIONLESS,
    "selfharm": pb.RULE_TYPE_SELF_HARM,
    "climbing": pb.RULE_TYPE_CLIMBING,
    "violence": pb.RULE_TYPE_VIOLENCE,
}
EVENTS = {
    "fall": "person_down",
    "motionless": "motionless",
    "selfharm": "self_harm_risk",
    "climbing": "climbing",
    "violence": "violence",
}


def camera(server: RtspServer, name: str, *extra: pb.Rule) -> pb.Camera:
    clip = CLIPS[name]
    rule = clip.rule or ""
    calibration = pb.Calibration()
    for field, ((ax, ay), (bx, by)) in lines(clip.scene).items():
        getattr(calibration, field).CopyFrom(pb.CalibrationLine(a=P(ax, ay), b=P(bx, by)))
    behaviour = pb.Rule(id=rule, type=RULE_TYPES[rule], cooldown_seconds=600)
    if rule == "motionless":
        behaviour.dwell_seconds = MOTIONLESS_N
        behaviour.thresholds["window_s"] = 3.0
    return pb.Camera(
        id=name,
        site_id="block-a",
        url=server.url(name),
        analytic_fps=clip.fps,
        enabled=True,
        width=W,
        height=H,
        zones=[WHOLE],
        calibration=calibration,
        rules=[behaviour, *extra],
        clip_recording=True,
    )


CROWD = pb.Rule(id="crowd", type=pb.RULE_TYPE_CROWDING, zone_id="all", max_count=1, cooldown_seconds=600)
LOITER = pb.Rule(
    id="loiter", type=pb.RULE_TYPE_LOITERING, zone_id="all", dwell_seconds=4, cooldown_seconds=600
)
LONG_LOITER = pb.Rule(
    id="loiter", type=pb.RULE_TYPE_LOITERING, zone_id="all", dwell_seconds=60, cooldown_seconds=600
)

# Per rule: the positive clip's camera (with the rules riding on it) and the negative's.
SCENARIOS: dict[
    str, tuple[tuple[str, tuple[pb.Rule, ...], set[str]], tuple[str, tuple[pb.Rule, ...], set[str]]]
] = {
    # (clip, extra rules, the event types it must publish; any other is a failure)
    "fall": (("fall-positive-1", (CROWD,), {"person_down"}), ("fall-negative-2", (LONG_LOITER,), set())),
    "motionless": (
        ("motionless-positive-1", (LOITER,), {"motionless", "loitering"}),
        ("motionless-negative-1", (), set()),
    ),
    "motionless-untracked": (
        ("motionless-positive-2", (), {"motionless"}),
        ("motionless-negative-1", (), set()),
    ),
    "selfharm": (("selfharm-positive-1", (), {"self_harm_risk"}), ("selfharm-negative-1", (), set())),
    "climbing": (("climbing-positive-1", (), {"climbing"}), ("climbing-negative-1", (), set())),
    "violence": (
        ("violence-positive-1", (CROWD,), {"violence", "crowding"}),
        ("violence-negative-1", (), set()),
    ),
}
BEHAVIOUR_TYPES = {*EVENTS.values(), "crowding", "loitering"}


def published(sink: Any, camera_id: str) -> set[str]:
    return {e.type for e in sink.events if e.source.id == camera_id and e.type in BEHAVIOUR_TYPES}


@pytest.mark.parametrize("rule", list(SCENARIOS))
async def test_rule_on_video(rule: str, ingest: dict[str, Any], clips_rtsp: RtspServer) -> None:
    stub, sink = ingest["stub"], ingest["sink"]
    (pos, pos_rules, pos_want), (neg, neg_rules, neg_want) = SCENARIOS[rule]
    for name, extra in ((pos, pos_rules), (neg, neg_rules)):
        await stub.CreateCamera(pb.CreateCameraRequest(camera=camera(clips_rtsp, name, *extra)))
    # The positive's events, once; then the rest of the clips' time for the negative.
    assert await sink.wait_for(lambda _: published(sink, pos) >= pos_want, 40), [
        (e.type, e.source.id) for e in sink.events
    ]
    await sink.wait_for(lambda _: False, max(0.0, CLIPS[neg].duration - 6))
    assert published(sink, pos) == pos_want
    assert published(sink, neg) == neg_want, [(e.type, e.summary) for e in sink.events if e.source.id == neg]
    kind = CLIPS[pos].rule or ""
    behaviour = next(e for e in sink.events if e.source.id == pos and e.type == EVENTS[kind])
    # Each behaviour event names the frames that show it, the people's keypoints, its evidence.
    frames = list(behaviour.attributes["frames"])
    assert frames and all(a <= b for a, b in itertools.pairwise(frames))
    assert behaviour.rule_id == kind and behaviour.track_ids and behaviour.snapshot.key
    keypoints = behaviour.attributes["keypoints"]
    assert {str(int(t)) for t in behaviour.track_ids} & set(keypoints.keys())
    assert behaviour.clip.key


async def test_pose_rule_needs_its_calibration_line(ingest: dict[str, Any]) -> None:
    import grpc

    bad = pb.Camera(
        id="no-fence",
        site_id="block-a",
        url="rtsp://127.0.0.1:1/none",
        width=W,
        height=H,
        rules=[pb.Rule(id="climb", type=pb.RULE_TYPE_CLIMBING)],
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await ingest["stub"].CreateCamera(pb.CreateCameraRequest(camera=bad))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "fence_line is required" in (err.value.details() or "")
