"""Rules, geometry and sharding on hand-made tracks (no video needed)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from kuzet.common.errors import InvalidArgument
from kuzet.common.geometry import point_in_polygon
from kuzet.common.v1 import common_pb2
from kuzet.ingest import geometry
from kuzet.ingest.cameras import to_config
from kuzet.ingest.rules import RuleEngine
from kuzet.ingest.shard import ShardOwner, owner
from kuzet.ingest.tracking import Track
from kuzet.ingest.v1 import ingest_pb2 as pb

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()  # a Monday, 12:00 UTC


def P(x: float, y: float) -> common_pb2.Point:
    return common_pb2.Point(x=x, y=y)


def camera(*rules: pb.Rule, tz: str = "UTC") -> pb.Camera:
    return pb.Camera(
        id="c1",
        agency_id="prison",
        site_id="s",
        url="rtsp://cam.local/stream",
        schedule=pb.Schedule(time_zone=tz),
        zones=[pb.Zone(id="z", points=[P(100, 100), P(300, 100), P(300, 300), P(100, 300)])],
        lines=[pb.Line(id="l", a=P(400, 300), b=P(400, 0))],
        rules=list(rules),
    )


def person(tid: int, x: float, y: float, w: float = 40, h: float = 120) -> Track:
    return Track(tid, (x - w / 2, y - h, x + w / 2, y), 0.8)


def sized(cam: pb.Camera) -> None:
    cam.width, cam.height = 640, 360


def engine(*rules: pb.Rule, tz: str = "UTC") -> RuleEngine:
    return RuleEngine(to_config(camera(*rules, tz=tz), "", ""))


def test_geometry() -> None:
    sq = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]
    assert (
        point_in_polygon((5, 5), sq) and point_in_polygon((10, 5), sq) and not point_in_polygon((11, 5), sq)
    )
    up = ((5.0, 10.0), (5.0, 0.0))  # pointing up the image: its left is x < 5
    assert geometry.crossing((1, 5), (9, 5), *up) == "left_to_right"
    assert geometry.crossing((9, 5), (1, 5), *up) == "right_to_left"
    assert geometry.crossing((1, 15), (9, 15), *up) == ""  # passes beyond the segment's end


def test_intrusion_once_per_track_and_cooldown() -> None:
    eng = engine(pb.Rule(id="r", type=pb.RULE_TYPE_INTRUSION, zone_id="z", cooldown_seconds=60))
    hits = [eng.evaluate(T0 + i, [person(1, 50 + i * 40, 200)])[0] for i in range(6)]
    fired = [i for i, h in enumerate(hits) if h]
    assert fired == [2]  # x = 130 enters the zone, staying inside fires nothing more
    assert hits[2][0].event_type == "zone_intrusion" and hits[2][0].subject == "track:1"
    assert eng.evaluate(T0 + 7, [person(2, 200, 200)])[0]  # another person: another subject


def test_line_direction() -> None:
    eng = engine(
        pb.Rule(
            id="out", type=pb.RULE_TYPE_LINE_CROSSING, line_id="l", direction=pb.LINE_DIRECTION_LEFT_TO_RIGHT
        )
    )
    assert not eng.evaluate(T0, [person(1, 380, 200)])[0]
    (hit,) = eng.evaluate(T0 + 1, [person(1, 420, 200)])[0]
    assert hit.attributes["direction"] == "left_to_right"
    assert not eng.evaluate(T0 + 2, [person(1, 380, 200)])[0]  # coming back is the other way


def test_loitering_crowding_post() -> None:
    eng = engine(
        pb.Rule(id="loit", type=pb.RULE_TYPE_LOITERING, zone_id="z", dwell_seconds=10),
        pb.Rule(id="crowd", type=pb.RULE_TYPE_CROWDING, zone_id="z", max_count=2),
    )
    types = []
    for i in range(12):
        people = [person(1, 200, 200)]
        if i >= 5:
            people += [person(2, 150, 250), person(3, 250, 250, w=120, h=40)]
        types.append([h.rule.id for h in eng.evaluate(T0 + i, people)[0]])
    assert types[5] == ["crowd"] and types[10] == ["loit"]
    assert sum(len(t) for t in types) == 2
    post = engine(pb.Rule(id="post", type=pb.RULE_TYPE_POST_UNATTENDED, zone_id="z", dwell_seconds=5))
    fired = [bool(post.evaluate(T0 + i, [person(1, 200, 200)] if i < 3 else [])[0]) for i in range(12)]
    assert fired.index(True) == 7 and fired.count(True) == 1  # last seen staffed at 2, empty 5 s


def test_active_windows_across_midnight() -> None:
    lights_out = pb.TimeWindow(start_minute=22 * 60, end_minute=6 * 60)
    eng = engine(
        pb.Rule(id="r", type=pb.RULE_TYPE_INTRUSION, zone_id="z", active_windows=[lights_out]),
        tz="Europe/Paris",
    )
    noon = T0
    assert not eng.evaluate(noon, [person(1, 200, 200)])[0]
    night = datetime(2026, 11, 23, 23, 30, tzinfo=UTC).timestamp()  # 00:30 in Paris
    assert eng.evaluate(night, [person(2, 200, 200)])[0]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: setattr(c, "url", "ftp://x/y"), "scheme 'ftp' not supported"),
        (lambda c: setattr(c, "url", "rtsp://user:pw@cam/x"), "must not carry credentials"),
        (lambda c: setattr(c, "analytic_fps", 60), "analytic_fps"),
        (
            lambda c: c.rules.append(pb.Rule(id="x", type=pb.RULE_TYPE_INTRUSION, zone_id="nope")),
            "'nope' is not a zone",
        ),
        (lambda c: c.zones.append(pb.Zone(id="flat", points=[P(0, 0), P(1, 1), P(2, 2)])), "no area"),
        (lambda c: c.rules.append(pb.Rule(id="x", type=pb.RULE_TYPE_CROWDING, zone_id="z")), "max_count"),
        (lambda c: setattr(c.schedule, "time_zone", "Mars/Olympus"), "unknown time zone"),
        (lambda c: c.rules.append(pb.Rule(id="x", type=99)), "type 99 is not an installed rule type"),
        # The pose rules: frame size, calibration, thresholds.
        (lambda c: c.rules.append(pb.Rule(id="x", type=pb.RULE_TYPE_PERSON_DOWN)), "needs camera.width"),
        (
            lambda c: (sized(c), c.rules.append(pb.Rule(id="x", type=pb.RULE_TYPE_CLIMBING))),
            r"\(x\): climbing: fence_line is required",
        ),
        (
            lambda c: (sized(c), c.rules.append(pb.Rule(id="x", type=pb.RULE_TYPE_SELF_HARM, zone_id="z"))),
            "floor_line is required",
        ),
        (
            lambda c: (
                sized(c),
                c.calibration.fence_line.CopyFrom(pb.CalibrationLine(a=P(0, 100), b=P(900, 100))),
                c.rules.append(pb.Rule(id="x", type=pb.RULE_TYPE_CLIMBING)),
            ),
            "outside the 640x360 frame",
        ),
        (
            lambda c: (
                sized(c),
                c.zones.append(pb.Zone(id="far", points=[P(0, 0), P(700, 0), P(700, 50)])),
                c.rules.append(pb.Rule(id="x", type=pb.RULE_TYPE_VIOLENCE, zone_id="far")),
            ),
            "zone 'far' lies outside the 640x360 frame",
        ),
        (
            lambda c: (
                sized(c),
                c.rules.append(pb.Rule(id="x", type=pb.RULE_TYPE_MOTIONLESS, thresholds={"speed": 1})),
            ),
            r"unknown thresholds \['speed'\]",
        ),
        (
            lambda c: (
                sized(c),
                c.rules.append(pb.Rule(id="x", type=pb.RULE_TYPE_VIOLENCE, thresholds={"reach": -1})),
            ),
            "reach must be > 0",
        ),
    ],
)
def test_validation(mutate: object, message: str) -> None:
    cam = camera()
    mutate(cam)  # type: ignore[operator]
    with pytest.raises(InvalidArgument, match=message):
        to_config(cam, "", "")


def test_rendezvous_moves_only_the_lost_replicas_cameras() -> None:
    cams = [f"cam-{i}" for i in range(300)]
    three = {c: owner(c, ["a", "b", "c"]) for c in cams}
    two = {c: owner(c, ["a", "c"]) for c in cams}
    assert 70 < sum(1 for o in three.values() if o == "b") < 130
    assert all(two[c] == o for c, o in three.items() if o != "b")  # the others keep theirs
    assert all(two[c] in ("a", "c") for c in cams)


async def test_shard_owner_follows_an_async_source() -> None:
    sets: asyncio.Queue[list[str]] = asyncio.Queue()

    async def members():  # type: ignore[no-untyped-def]
        while True:
            yield await sets.get()

    shard = ShardOwner("a", members())
    await shard.start()
    await sets.put(["a", "b"])
    await asyncio.wait_for(shard.changed.wait(), 2)
    assert shard.replicas == ("a", "b")
    mine = {c for c in (f"cam-{i}" for i in range(50)) if shard.mine(c)}
    shard.changed.clear()
    await sets.put(["a"])  # b is gone: a owns everything
    await asyncio.wait_for(shard.changed.wait(), 2)
    assert all(shard.mine(f"cam-{i}") for i in range(50)) and 0 < len(mine) < 50
    await shard.stop()
