"""Counting lines: one crossing per vehicle however it jitters, wrong-way flagged, counts per interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kuzet.common.errors import InvalidArgument
from kuzet.common.roads.calibration import fit_calibration
from kuzet.common.roads.lanes import FORWARD, WRONG_WAY, CountAggregator, CountingLine, Crossing, LaneCounter
from kuzet.common.roads.plates import normalise
from kuzet.common.roads.speed import TrackPoint, speed_between_lines
from kuzet.common.roads.synthetic import CALIBRATION_GROUND, T0, SyntheticCamera
from kuzet.common.timeutil import from_timestamp
from kuzet.traffic.v1 import traffic_pb2

# A line across a lane drawn left to right on the picture: the lane's traffic moves down the picture.
LINE = CountingLine(id="l1", lane="northbound-1", start=(100.0, 500.0), end=(300.0, 500.0))


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _feed(counter: LaneCounter, track_id: int, ys: list[float], x: float = 200.0) -> list[Crossing]:
    found: list[Crossing] = []
    for k, y in enumerate(ys):
        found.extend(counter.update(track_id, _at(k * 0.04), (x, y)))
    return found


def test_a_vehicle_crossing_in_the_lanes_direction_counts_once_at_the_interpolated_instant() -> None:
    counter = LaneCounter([LINE])
    crossings = _feed(counter, 7, [470.0, 480.0, 490.0, 498.0, 506.0, 514.0, 522.0])
    assert len(crossings) == 1
    crossing = crossings[0]
    assert (crossing.line_id, crossing.lane, crossing.track_id, crossing.direction) == (
        "l1",
        "northbound-1",
        7,
        FORWARD,
    )
    # last clearly before: y = 490 at 0.08 s; first clearly past: y = 506 at 0.16 s; the line at 500
    assert crossing.at == _at(0.08 + 0.08 * 10 / 16)
    assert crossing.point == pytest.approx((200.0, 500.0))


def test_jitter_on_the_line_counts_nothing_and_jitter_across_it_counts_once() -> None:
    counter = LaneCounter([LINE])
    # stopped on the line: a pixel or three either side, inside the hysteresis band
    assert _feed(counter, 1, [480.0, 490.0, 497.0, 502.0, 498.0, 503.0, 497.5, 501.0]) == []
    # rolls on, back over the line by 10 px, and on again
    more = [
        counter.update(1, _at(1 + k * 0.04), (200.0, y)) for k, y in enumerate([510.0, 490.0, 512.0, 530.0])
    ]
    assert [c.direction for found in more for c in found] == [FORWARD]
    # a noisy track crossing once: two samples beyond the band on the wrong side after crossing
    assert len(_feed(counter, 2, [480.0, 495.0, 505.0, 494.0, 507.0, 493.0, 510.0, 520.0])) == 1


def test_the_wrong_way_is_flagged_and_observed_as_such() -> None:
    counter = LaneCounter([LINE])
    crossings = _feed(counter, 3, [530.0, 515.0, 505.0, 495.0, 480.0])
    assert [c.direction for c in crossings] == [WRONG_WAY]
    observation = crossings[0].to_observation("cam-1", "car")
    assert (observation.direction, observation.lane) == (WRONG_WAY, LINE.lane)
    assert observation.observation_id == f"cam-1:3:{LINE.id}"


def test_a_track_beside_the_line_crosses_only_its_own_lane() -> None:
    other = CountingLine(id="l2", lane="northbound-2", start=(300.0, 500.0), end=(500.0, 500.0))
    counter = LaneCounter([LINE, other])
    crossings = _feed(counter, 4, [480.0, 495.0, 505.0, 520.0], x=400.0)
    assert [(c.line_id, c.direction) for c in crossings] == [("l2", FORWARD)]
    # left of both lines: it crosses their extension, not them
    crossings = _feed(counter, 5, [480.0, 495.0, 505.0, 520.0], x=50.0)
    assert crossings == []


def test_a_finished_track_is_forgotten() -> None:
    counter = LaneCounter([LINE])
    assert len(_feed(counter, 9, [480.0, 520.0])) == 1
    counter.forget(9)
    # the same id reused by the tracker later is a new vehicle
    assert len(_feed(counter, 9, [480.0, 520.0])) == 1


def test_unknown_and_bad_lines_are_refused() -> None:
    counter = LaneCounter([LINE])
    assert counter.line("l1") is LINE
    with pytest.raises(InvalidArgument, match="unknown counting line 'l9'; this camera has \\['l1'\\]"):
        counter.line("l9")
    with pytest.raises(InvalidArgument, match="defined twice"):
        LaneCounter([LINE, LINE])
    with pytest.raises(InvalidArgument, match="shorter than"):
        CountingLine(id="x", lane="a", start=(1.0, 1.0), end=(1.5, 1.0))
    with pytest.raises(InvalidArgument, match="needs a lane"):
        CountingLine(id="x", lane=" ", start=(1.0, 1.0), end=(100.0, 1.0))
    with pytest.raises(InvalidArgument, match="needs an id"):
        CountingLine(id="", lane="a", start=(1.0, 1.0), end=(100.0, 1.0))
    with pytest.raises(InvalidArgument, match="hysteresis"):
        LaneCounter([LINE], hysteresis_px=-1.0)


def test_from_the_contract() -> None:
    message = traffic_pb2.CountingLine(id="l1", lane="northbound-1")
    message.start.x, message.start.y, message.end.x, message.end.y = 100.0, 500.0, 300.0, 500.0
    assert CountingLine.from_proto(message) == LINE


def test_each_crossing_becomes_an_observation_with_its_speed_and_plate(camera: SyntheticCamera) -> None:
    calibration = fit_calibration(camera.image(CALIBRATION_GROUND), CALIBRATION_GROUND)
    # one line per lane at 20 m and at 45 m up the road, drawn right to left: the traffic goes up the picture
    lanes = {"west": -3.5, "middle": 0.0, "east": 3.5}
    entries = [
        CountingLine(f"{name}-20", name, camera.pixel(x + 1.75, 20.0), camera.pixel(x - 1.75, 20.0))
        for name, x in lanes.items()
    ]
    exits = [
        CountingLine(f"{name}-45", name, camera.pixel(x + 1.75, 45.0), camera.pixel(x - 1.75, 45.0))
        for name, x in lanes.items()
    ]
    counter = LaneCounter(entries + exits)
    plate = normalise("123 ABC 02", 0.91)
    observations = []
    for track_id, (name, x) in enumerate(lanes.items()):
        track = [TrackPoint(at, p) for at, p in camera.drive(speed_kmh=60.0 + 20 * track_id, lane_x=x)]
        crossings = [c for p in track for c in counter.update(track_id, p.at, p.point)]
        assert [(c.line_id, c.direction) for c in crossings] == [
            (f"{name}-20", FORWARD),
            (f"{name}-45", FORWARD),
        ]
        entry, exit_ = (counter.line(c.line_id) for c in crossings)
        evidence = speed_between_lines(track, (entry.start, entry.end), (exit_.start, exit_.end), calibration)
        observations.append(
            crossings[1].to_observation("cam-1", "car", speed_kmh=evidence.speed_kmh, plate=plate)
        )
    assert [round(o.speed_kmh, 1) for o in observations] == [60.0, 80.0, 100.0]
    first = observations[0]
    assert (first.camera_id, first.line_id, first.track_id, first.plate) == (
        "cam-1",
        "west-45",
        0,
        "123ABC02",
    )
    assert first.plate_confidence == pytest.approx(0.91)
    assert from_timestamp(first.observed_at) is not None


def test_counts_per_minute_and_per_quarter_hour() -> None:
    lines = [LINE, CountingLine(id="l2", lane="northbound-2", start=(300.0, 500.0), end=(500.0, 500.0))]
    minute = CountAggregator(lines, 60)
    quarter = CountAggregator(lines, 900)
    start = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    seen = [
        ("l1", 5, "car", 62.0),
        ("l1", 50, "truck", 0.0),  # speed not measured: counted, not in the mean
        ("l1", 70, "car", 58.0),
        ("l2", 10, "bus", 40.0),
        ("l1", 14 * 60 + 59, "car", 70.0),
        ("l1", 15 * 60, "motorcycle", 90.0),
    ]
    for line_id, seconds, vehicle_class, speed in seen:
        for aggregator in (minute, quarter):
            aggregator.add(line_id, start + timedelta(seconds=seconds), vehicle_class, speed)

    def table(counts: list[traffic_pb2.LaneCount]) -> list[tuple[object, ...]]:
        return [
            (
                c.line_id,
                c.lane,
                from_timestamp(c.interval_start),
                c.vehicles,
                round(c.mean_speed_kmh, 2),
                dict(c.by_class),
            )
            for c in counts
        ]

    assert table(minute.counts()) == [
        ("l1", "northbound-1", start, 2, 62.0, {"car": 1, "truck": 1}),
        ("l2", "northbound-2", start, 1, 40.0, {"bus": 1}),
        ("l1", "northbound-1", start + timedelta(minutes=1), 1, 58.0, {"car": 1}),
        ("l1", "northbound-1", start + timedelta(minutes=14), 1, 70.0, {"car": 1}),
        ("l1", "northbound-1", start + timedelta(minutes=15), 1, 90.0, {"motorcycle": 1}),
    ]
    assert table(quarter.counts()) == [
        ("l1", "northbound-1", start, 4, 63.33, {"car": 3, "truck": 1}),
        ("l2", "northbound-2", start, 1, 40.0, {"bus": 1}),
        ("l1", "northbound-1", start + timedelta(minutes=15), 1, 90.0, {"motorcycle": 1}),
    ]


def test_counts_take_observations_from_the_contract() -> None:
    aggregator = CountAggregator([LINE], 900)
    crossing = _feed(LaneCounter([LINE]), 1, [480.0, 520.0])[0]
    aggregator.add_observation(crossing.to_observation("cam-1", "bus", speed_kmh=50.0))
    (count,) = aggregator.counts()
    assert (count.line_id, count.vehicles, count.mean_speed_kmh, dict(count.by_class)) == (
        "l1",
        1,
        50.0,
        {"bus": 1},
    )


def test_bad_counts_are_refused() -> None:
    aggregator = CountAggregator([LINE], 60)
    with pytest.raises(InvalidArgument, match="unknown counting line 'l7'"):
        aggregator.add("l7", T0, "car")
    with pytest.raises(InvalidArgument, match="vehicle class 'tank'"):
        aggregator.add("l1", T0, "tank")
    with pytest.raises(InvalidArgument, match="speed"):
        aggregator.add("l1", T0, "car", -3.0)
    for interval in (0, -60, 7, 86401):
        with pytest.raises(InvalidArgument, match="count interval"):
            CountAggregator([LINE], interval)
