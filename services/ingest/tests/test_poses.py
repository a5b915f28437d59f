"""Poses attached to tracks (poses.py) and the pose rules run by the rule engine on them."""

from __future__ import annotations

from kuzet.common.inference.results import BODY_PARTS, Box, Keypoint, Pose
from kuzet.common.v1 import common_pb2
from kuzet.ingest.cameras import to_config
from kuzet.ingest.poses import TrackPoses, attach
from kuzet.ingest.rules import RuleEngine
from kuzet.ingest.tracking import Track
from kuzet.ingest.v1 import ingest_pb2 as pb

from .test_behaviour_rules import T0, skeleton, times


def pose_of(t: float, hips: tuple[float, float], angle: float = 0.0) -> Pose:
    """A MoveNet-like pose of the test skeleton (torso 40 px), its box around its keypoints."""
    pts = skeleton(t, hips, torso=40.0, angle=angle).points
    xs, ys = pts[:, 0], pts[:, 1]
    keypoints = [
        Keypoint(part, float(x), float(y), float(s)) for part, (x, y, s) in zip(BODY_PARTS, pts, strict=True)
    ]
    return Pose(Box(float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())), 0.4, keypoints)


def track_of(tid: int, pose: Pose) -> Track:
    b = pose.box
    return Track(tid, (b.x1 - 3, b.y1 - 3, b.x2 + 3, b.y2 + 3), 0.7)


def test_each_pose_goes_to_the_track_it_overlaps_most() -> None:
    left, right = pose_of(T0, (200, 250)), pose_of(T0, (400, 250))
    tracks = [track_of(1, right), track_of(2, left), Track(3, (600, 10, 620, 40), 0.5)]
    assert attach(tracks, [left, right]) == {2: left, 1: right}
    assert attach([Track(4, (0, 0, 10, 10), 0.9)], [left]) == {}  # overlaps nothing


def test_a_fall_that_breaks_the_track_keeps_the_persons_history() -> None:
    poses = TrackPoses(span_s=30.0, zones=[None])
    for t in times(T0, T0 + 1, 0.25):
        up = pose_of(t, (300, 250))
        poses.attach(t, [track_of(7, up)], [up])
    # The box turns wide: the tracker loses 7 and starts 8 on the lying person, whom the
    # detector then misses once.
    lying = pose_of(T0 + 1.0, (330, 300), angle=85)
    poses.attach(T0 + 1.0, [track_of(8, lying)], [lying])
    assert poses.people == {7: 8}
    assert poses.wanted(T0 + 1.25, [])  # the person was lost lately: pose the frame anyway
    poses.attach(T0 + 1.25, [], [lying])
    poses.attach(T0 + 1.5, [track_of(8, lying)], [lying])
    assert list(poses.histories) == [7] and poses.people == {7: 8}
    assert [round(sk.t - T0, 2) for sk in poses.histories[7].since(T0 + 0.75)] == [0.75, 1.0, 1.25, 1.5]
    assert set(poses.latest([8])) == {"8"} and len(poses.latest([8])["8"]) == 17
    # Nothing moved: the last skeleton holds; long gone: the history goes.
    poses.repeat(T0 + 2.0)
    assert poses.histories[7].latest is not None and poses.histories[7].latest.t == T0 + 2.0
    poses.attach(T0 + 40, [], [])
    assert poses.histories == {} and not poses.wanted(T0 + 40, [])


def P(x: float, y: float) -> common_pb2.Point:
    return common_pb2.Point(x=x, y=y)


def test_the_engine_runs_a_pose_rule_on_the_posed_people() -> None:
    cam = pb.Camera(
        id="c1",
        agency_id="prison",
        site_id="s",
        url="rtsp://cam.local/stream",
        width=640,
        height=360,
        rules=[pb.Rule(id="fall", type=pb.RULE_TYPE_PERSON_DOWN, dwell_seconds=1.0)],
    )
    engine = RuleEngine(to_config(cam, "", ""))
    assert engine.pose_interval_s == 0.25 and engine.pose_zones == [None]
    poses = TrackPoses(span_s=engine.history_s + 5, zones=engine.pose_zones)
    hits = []
    for t in times(T0, T0 + 4, 0.25):
        pose = pose_of(t, (300, 250), angle=0 if t < T0 + 1.5 else 88)
        tracks = [track_of(5, pose)]
        poses.attach(t, tracks, [pose])
        hits += engine.evaluate(t, tracks, poses=poses.histories, people=poses.people)[0]
    (hit,) = hits
    assert (
        hit.event_type == "person_down"
        and hit.subject == "track:5"
        and [t.track_id for t in hit.tracks] == [5]
    )
    assert hit.frames and hit.frames[-1] == T0 + 2.5 and hit.attributes["behaviour"] == "fall"
