"""Traffic cameras without video: the vehicle analysis fed the exact boxes of a rendered road
(so every figure is checked against the truth), the observation outbox and the profile follower
against a TrafficService on loopback, and the camera settings."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from kuzet.common.caller import service_caller
from kuzet.common.errors import InvalidArgument
from kuzet.common.grpcclient import open_channel
from kuzet.common.objectstore import LocalObjectStore
from kuzet.common.roads.scene import RoadScene, road_scenario
from kuzet.common.roads.synthetic import T0
from kuzet.common.v1 import common_pb2
from kuzet.ingest.cameras import to_config
from kuzet.ingest.detect import ObjectDetector
from kuzet.ingest.observations import ObservationSender
from kuzet.ingest.pipeline import CameraPipeline, PipelineOptions
from kuzet.ingest.profiles import ProfileFollower, TrafficProfiles
from kuzet.ingest.source import Frame
from kuzet.ingest.tracking import Detection, TrackIds
from kuzet.ingest.v1 import ingest_pb2 as pb
from kuzet.ingest.vehicles import PlateText, TrafficLinks, VehicleAnalysis
from kuzet.traffic.v1 import traffic_pb2

from .conftest import ListSink
from .trafficservice import Traffic, profile_of, serve_traffic

FPS = 5.0


@functools.cache
def scene() -> RoadScene:
    return road_scenario()


class FixedReader:
    """Reads the same text on every crop (a stand-in for inference's ReadPlates)."""

    def __init__(self, text: str) -> None:
        self.text, self.crops = text, 0

    async def read(self, crops: Sequence[np.ndarray]) -> list[list[PlateText]]:
        self.crops += len(crops)
        return [[PlateText(self.text, 0.97, (2.0, 2.0, 40.0, 12.0))] for _ in crops]


@pytest.fixture
async def traffic() -> AsyncIterator[tuple[Traffic, TrafficLinks, FixedReader]]:
    fake = Traffic({"road-1": profile_of(scene(), "road-1")}, fail_first=1)
    async with serve_traffic(fake) as address:
        channel = open_channel(
            address, audience="traffic", caller=service_caller("ingest", roles=("service",))
        )
        sender = ObservationSender(channel, batch_size=4, initial_backoff_s=0.05)
        sender.start()
        reader = FixedReader("B125A02")  # ambiguous: 812SA02 or B125AOZ
        yield fake, TrafficLinks(TrafficProfiles(channel, initial_backoff_s=0.05), sender, reader), reader
        await sender.close()
        await channel.close()


def camera(models: list[str]) -> pb.Camera:
    return pb.Camera(
        id="road-1", agency_id="police", site_id="m4", url="rtsp://10.0.0.1/road", enabled_models=models
    )


def test_plate_reading_needs_the_vehicle_model() -> None:
    assert to_config(camera(["vehicle", "plate"]), "", "").reads_plates
    assert not to_config(camera(["person"]), "", "").traffic
    with pytest.raises(InvalidArgument, match="plate reading needs vehicle"):
        to_config(camera(["plate"]), "", "")


async def test_each_crossing_is_one_observation_with_its_speed_and_evidence(
    tmp_path: Path, traffic: tuple[Traffic, TrafficLinks, FixedReader]
) -> None:
    fake, links, reader = traffic
    road = scene()
    store = LocalObjectStore(tmp_path / "objects")
    analysis = VehicleAnalysis(
        to_config(camera(["vehicle", "plate"]), "", ""), ids=TrackIds(), links=links, store=store
    )
    analysis.start()
    for _ in range(100):
        if analysis.follower.profile is not None:
            break
        await asyncio.sleep(0.05)
    image = np.zeros((road.height, road.width, 3), np.uint8)
    for k in range(int(road.duration * FPS)):
        t = k / FPS
        boxes = [
            (b, road.vehicles[i].vehicle_class) for i in range(len(road.vehicles)) if (b := road.box(i, t))
        ]
        # the picture shows what lies inside it
        dets = [
            Detection((max(0.0, x1), max(0.0, y1), min(road.width, x2), min(road.height, y2)), 0.8, cls)
            for (x1, y1, x2, y2), cls in boxes
            if y1 < road.height and y2 > 0
        ]
        dets += [Detection(d.box, 0.4, "truck") for d in dets]  # the detector's second opinion
        await analysis.update(Frame("road-1", image, T0.timestamp() + t, True, k), dets, 1 / FPS)
    await analysis.stop()
    assert await links.sender.flush(10.0)

    truth = road.truth
    expected = {(t.index, line) for t in truth for line in t.crossings}
    assert len(fake.recorded) == len(expected) == analysis.observations
    found = set()
    for o in fake.recorded.values():
        at = (o.observed_at.ToDatetime() - T0.replace(tzinfo=None)).total_seconds()
        t = min(
            (v for v in truth if o.line_id in v.crossings), key=lambda v: abs(v.crossings[o.line_id] - at)
        )
        assert abs(t.crossings[o.line_id] - at) < 0.05, (o, t)
        found.add((t.index, o.line_id))
        assert o.observation_id == f"road-1:{o.track_id}:{o.line_id}"
        assert (o.lane, o.direction, o.vehicle_class) == (t.lane, t.direction, t.vehicle_class)
        assert abs(o.speed_kmh - t.speed_kmh) / t.speed_kmh < 0.02, (o.speed_kmh, t)
        e = o.speed_evidence
        assert e.method == ("between_lines" if o.line_id == "lane1-2" else "along_track")
        assert e.calibration_id.startswith("cal-") and e.distance_m > 0 and e.uncertainty_kmh > 0
        for ref in (e.start_frame, e.end_frame, o.snapshot):
            assert (await store.get(ref.key))[:2] == b"\xff\xd8"
        # an ambiguous read is no plate, but what was read is kept with its crop
        assert o.plate == "" and o.plate_raw == "B125A02" and o.plate_crop.key
    assert found == expected
    # at most three reads a vehicle
    assert 0 < reader.crops <= 3 * len(truth)
    # the first batch failed and came again whole: nothing lost, nothing twice
    failed = [ids for failing, ids in fake.calls if failing]
    assert failed and set(failed[0]) <= set(fake.recorded) and fake.duplicates == 0


async def test_a_refused_observation_does_not_take_its_batch_with_it() -> None:
    fake = Traffic({})
    async with serve_traffic(fake) as address:
        channel = open_channel(
            address, audience="traffic", caller=service_caller("ingest", roles=("service",))
        )
        sender = ObservationSender(channel, batch_size=8)
        sender.start()
        for i in range(5):
            cls = "tank" if i == 2 else "car"
            sender.submit(traffic_pb2.VehicleObservation(observation_id=f"c:{i}:l", vehicle_class=cls))
        assert await sender.flush(10.0)
        await sender.close()
        await channel.close()
    assert sorted(fake.recorded) == ["c:0:l", "c:1:l", "c:3:l", "c:4:l"]
    assert sender.stats.rejected == 1 and sender.stats.recorded == 4


async def test_profile_follower_says_why_there_is_no_profile_and_recovers() -> None:
    road = scene()
    fake = Traffic({})
    async with serve_traffic(fake) as address:
        channel = open_channel(
            address, audience="traffic", caller=service_caller("ingest", roles=("service",))
        )
        follower = ProfileFollower(
            "road-1", TrafficProfiles(channel, initial_backoff_s=0.05, max_backoff_s=0.1)
        )
        follower.start()

        async def until(check: object) -> None:
            for _ in range(100):
                if callable(check) and check():
                    return
                await asyncio.sleep(0.05)
            raise AssertionError(follower.status)

        await until(lambda: "NOT_FOUND" in follower.status)
        assert follower.profile is None
        assert follower.status.startswith("traffic profile of camera road-1 unavailable: NOT_FOUND")
        bad = profile_of(road, "road-1")
        bad.lines[0].end.CopyFrom(bad.lines[0].start)
        fake.profiles["road-1"] = bad
        await until(lambda: "invalid" in follower.status)
        assert "shorter than" in follower.status
        fake.profiles["road-1"] = profile_of(road, "road-1")
        await until(lambda: follower.profile is not None and not follower.status)
        assert [line.id for line in follower.profile.lines] == ["lane1-1", "lane1-2", "lane2-1"]
        assert follower.profile.calibration is not None
        await follower.stop()
        await channel.close()


async def test_a_traffic_camera_asks_for_vehicles_and_for_people_only_where_rules_watch(
    tmp_path: Path, traffic: tuple[Traffic, TrafficLinks, FixedReader]
) -> None:
    _, links, _ = traffic
    zone = pb.Zone(id="verge", points=[common_pb2.Point(x=x, y=y) for x, y in ((0, 0), (100, 0), (100, 100))])
    watched = camera(["vehicle"])
    watched.zones.append(zone)
    watched.rules.append(pb.Rule(id="no-walking", type=pb.RULE_TYPE_INTRUSION, zone_id="verge"))
    ordinary = camera(["person"])
    ordinary.zones.append(zone)
    ordinary.rules.append(pb.Rule(id="no-walking", type=pb.RULE_TYPE_INTRUSION, zone_id="verge"))

    def classes(cam: pb.Camera) -> tuple[str, ...]:
        pipeline = CameraPipeline(
            to_config(cam, "", ""),
            detector=ObjectDetector(open_channel("127.0.0.1:1", audience="inference")),  # never called
            sink=ListSink(),
            store=LocalObjectStore(tmp_path),
            options=PipelineOptions(),
            traffic=links,
        )
        return pipeline.classes

    vehicles = ("bicycle", "bus", "car", "motorcycle", "truck")
    assert classes(camera(["vehicle"])) == vehicles
    assert classes(watched) == ("person", *vehicles)
    assert classes(ordinary) == ("person",)
