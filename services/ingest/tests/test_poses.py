"""Poses attached to tracks (poses.py) and the pose rules run by the rule engine on them."""

from __future__ import annotations

from kuzet.common.inference.results import BODY_PARTS, Box, Keypoint, Pose
from kuzet.common.v1 import common_pb2
from kuzet.ingest.cameras import to_config
from kuzet.ingest.poses import TrackPoses, attach
from kuzet.ingest.rules import RuleEngine
from kuzet.ingest.tracking import Track, TrackIds
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
    poses = TrackPoses(span_s=30.0, zones=[None], ids=TrackIds())
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
    assert poses.histories == {} and not poses.wanted(T0 + 40.5, [])


def P(x: float, y: float) -> common_pb2.Point:
    return common_pb2.Point(x=x, y=y)


def fall_engine() -> RuleEngine:
    """The rule engine of a camera with a fall rule over the whole frame (N = 1 s)."""
    cam = pb.Camera(
        id="c1",
        agency_id="prison",
        site_id="s",
        url="rtsp://cam.local/stream",
        width=640,
        height=360,
        rules=[pb.Rule(id="fall", type=pb.RULE_TYPE_PERSON_DOWN, dwell_seconds=1.0)],
    )
    return RuleEngine(to_config(cam, "", ""))


def test_the_engine_runs_a_pose_rule_on_the_posed_people() -> None:
    engine = fall_engine()
    assert engine.pose_interval_s == 0.25 and engine.pose_zones == [None]
    poses = TrackPoses(span_s=engine.history_s + 5, zones=engine.pose_zones, ids=TrackIds())
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


def test_a_person_the_detector_never_tracks_is_found_by_a_sweep_and_followed() -> None:
    ids = TrackIds()
    poses = TrackPoses(span_s=30.0, zones=[None], ids=ids, sweep_s=1.0)
    lying = pose_of(T0, (300, 300), angle=88)
    assert poses.wanted(T0, [])  # never posed: the zones are due a sweep
    poses.attach(T0, [], [lying])
    (pid,) = poses.histories
    assert pid > ids.base and poses.latest([pid])  # an id of the camera's, keypoints by it
    # The person has no track: pose the frame at the rules' rate, and follow the person.
    assert poses.wanted(T0 + 0.5, [])
    for t in times(T0 + 0.5, T0 + 3, 0.5):
        poses.attach(t, [], [pose_of(t, (302, 300), angle=88)])
    assert list(poses.histories) == [pid] and len(poses.histories[pid].since(T0)) == 6
    # MoveNet drops such a person under its floor now and then: seconds without their pose
    # keep them (a lost track's person is kept handover_s only).
    poses.attach(T0 + 4, [], [])
    poses.attach(T0 + 7, [], [pose_of(T0 + 7, (302, 300), angle=88)])
    assert list(poses.histories) == [pid]
    # The detector finds them at last: the track takes the person's history over.
    later = pose_of(T0 + 7.5, (302, 300), angle=88)
    poses.attach(T0 + 7.5, [track_of(40, later)], [later])
    assert poses.people == {pid: 40} and list(poses.histories) == [pid]


def test_the_second_person_of_a_clinch_inside_one_track_is_a_person_of_their_own() -> None:
    a, b = pose_of(T0, (300, 250)), pose_of(T0, (325, 250))
    both = Track(3, (a.box.x1 - 3, a.box.y1 - 3, b.box.x2 + 3, b.box.y2 + 3), 0.8)
    poses = TrackPoses(span_s=30.0, zones=[None], ids=TrackIds())
    poses.attach(T0, [both], [a, b])
    assert len(poses.histories) == 2 and poses.people == {3: 3}


def test_a_pose_makes_nobody_when_faint_outside_the_zones_or_a_loose_tracks_own() -> None:
    zone = ((0.0, 0.0), (250.0, 0.0), (250.0, 400.0), (0.0, 400.0))
    poses = TrackPoses(span_s=30.0, zones=[zone], ids=TrackIds())
    inside, outside = pose_of(T0, (150, 250)), pose_of(T0, (450, 250))
    faint = Pose(inside.box, 0.2, inside.keypoints)
    poses.attach(T0, [], [faint, outside])
    assert poses.histories == {}
    # A track whose box is far bigger than its pose's (IoU under 0.3): the pose is its own.
    loose = Track(9, (inside.box.x1 - 60, inside.box.y1 - 60, inside.box.x2 + 60, inside.box.y2 + 60), 0.6)
    poses.attach(T0 + 1, [loose], [inside])
    assert poses.histories == {}
    assert not poses.wanted(T0 + 1.5, [Track(10, (400, 150, 500, 300), 0.7)])


def test_the_engine_raises_a_fall_of_a_person_without_a_track() -> None:
    engine = fall_engine()
    poses = TrackPoses(span_s=engine.history_s + 5, zones=engine.pose_zones, ids=TrackIds())
    hits = []
    for t in times(T0, T0 + 4, 0.25):
        poses.attach(t, [], [pose_of(t, (300, 250), angle=0 if t < T0 + 1.5 else 88)])
        hits += engine.evaluate(t, [], poses=poses.histories, people=poses.people)[0]
    (hit,) = hits
    (pid,) = poses.histories
    (track,) = hit.tracks
    assert hit.subject == f"track:{pid}" and track.track_id == pid
    assert track.box[2] > track.box[0] and track.box[3] > track.box[1]  # the keypoints' box


def test_two_tracks_never_feed_one_persons_history() -> None:
    """In a clinch the detector's tracks come and go: a new track handed a person whose own
    track was missed, and that track back, must still give two people two histories."""
    poses = TrackPoses(span_s=30.0, zones=[None], ids=TrackIds())
    for t in times(T0, T0 + 1, 0.25):
        p, q = pose_of(t, (300, 250)), pose_of(t, (330, 250))
        poses.attach(t, [track_of(10, p), track_of(20, q)], [p, q])
    p, q = pose_of(T0 + 1.25, (300, 250)), pose_of(T0 + 1.25, (330, 250))
    poses.attach(T0 + 1.25, [track_of(10, p), track_of(30, q)], [p, q])  # 20 missed; 30 is Q
    assert poses.people == {10: 10, 20: 30}
    p, q = pose_of(T0 + 1.5, (300, 250)), pose_of(T0 + 1.5, (330, 250))
    poses.attach(T0 + 1.5, [track_of(20, p), track_of(30, q)], [p, q])  # 10 lost; 20 back, on P
    fresh = [pid for pid, h in poses.histories.items() if h.latest is not None and h.latest.t == T0 + 1.5]
    assert len(fresh) == 2 and len(set(poses.people.values()) & {20, 30}) == 2
