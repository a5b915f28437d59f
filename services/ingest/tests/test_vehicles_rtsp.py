"""Traffic cameras end to end: a rendered road streamed by the real RTSP server, the real
inference service (CenterNet vehicles, PP-OCRv4 plates), and a small TrafficService on loopback
that serves the camera's profile and records what ingest observes (the traffic service itself is
tested on its own)."""

from __future__ import annotations

import asyncio
import statistics
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import grpc
import pytest

from kuzet.common.roads.scene import RoadScene, VehicleTruth, road_scenario
from kuzet.common.testing import missing_component
from kuzet.ingest.testing import videotest as vt
from kuzet.ingest.testing.rtsp import RtspServer, rtsp_available
from kuzet.ingest.v1 import ingest_pb2 as pb
from kuzet.traffic.v1 import traffic_pb2

from .conftest import _ingest
from .trafficservice import Traffic, profile_of, serve_traffic

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def road(tmp_path_factory: pytest.TempPathFactory) -> tuple[RoadScene, Path]:
    scene = road_scenario()
    path = vt.encode_frames(
        scene.frames(),
        tmp_path_factory.mktemp("road") / "road.mp4",
        width=scene.width,
        height=scene.height,
        fps=scene.fps,
    )
    return scene, path


@pytest.fixture
def road_rtsp(road: tuple[RoadScene, Path]) -> Iterator[RtspServer]:
    if not rtsp_available():
        missing_component("gst-rtsp-server missing: run scripts/setup/rtsp.sh")
    with RtspServer({"road": road[1]}) as server:
        yield server


@pytest.fixture
async def traffic(road: tuple[RoadScene, Path]) -> AsyncIterator[tuple[Traffic, str]]:
    servicer = Traffic({"road-1": profile_of(road[0], "road-1")}, fail_first=1)
    async with serve_traffic(servicer) as address:
        yield servicer, address


@pytest.fixture
async def ingest_traffic(
    tmp_path: Path, inference: str, traffic: tuple[Traffic, str]
) -> AsyncIterator[dict[str, Any]]:
    async for value in _ingest(tmp_path, inference, traffic=traffic[1]):
        yield value


def road_camera(cam_id: str, url: str, models: list[str]) -> pb.Camera:
    return pb.Camera(
        id=cam_id, site_id="m4", name=cam_id, url=url, analytic_fps=5, enabled=True, enabled_models=models
    )


def match_crossings(
    observed: list[traffic_pb2.VehicleObservation], truth: list[VehicleTruth]
) -> list[tuple[traffic_pb2.VehicleObservation, VehicleTruth]]:
    """Each observation with the vehicle that crossed its line nearest its time (within 0.5 s):
    the clip's start on the wall clock is where the plates read right say it is."""
    by_plate = {t.plate: t for t in truth}
    offsets = [
        o.observed_at.ToDatetime(tzinfo=UTC).timestamp() - by_plate[o.plate].crossings[o.line_id]
        for o in observed
        if o.plate in by_plate and o.line_id in by_plate[o.plate].crossings
    ]
    assert offsets, "no plate read right: nothing to align the clip with"
    start = statistics.median(offsets)
    out = []
    for o in observed:
        at = o.observed_at.ToDatetime(tzinfo=UTC).timestamp() - start
        near = [(abs(t.crossings[o.line_id] - at), t.index) for t in truth if o.line_id in t.crossings]
        gap, index = min(near)
        if gap <= 0.5:
            out.append((o, truth[index]))
    return out


async def _health(stub: Any, cam_id: str) -> pb.CameraHealth | None:
    try:
        return (await stub.GetCameraHealth(pb.GetCameraHealthRequest(camera_id=cam_id))).health
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.NOT_FOUND  # not started yet
        return None


async def test_vehicles_counted_measured_and_read_over_rtsp(
    road: tuple[RoadScene, Path],
    road_rtsp: RtspServer,
    traffic: tuple[Traffic, str],
    ingest_traffic: dict[str, Any],
) -> None:
    scene, _ = road
    fake, _ = traffic
    stub, store = ingest_traffic["stub"], ingest_traffic["store"]
    await stub.CreateCamera(
        pb.CreateCameraRequest(camera=road_camera("road-1", road_rtsp.url("road"), ["vehicle", "plate"]))
    )
    # A traffic camera the traffic service does not know: it says so in its health.
    await stub.CreateCamera(
        pb.CreateCameraRequest(camera=road_camera("road-unknown", "rtsp://127.0.0.1:1/road", ["vehicle"]))
    )
    # One play of the clip: the stream ends, and the camera is stopped before a replay.
    started, inferred = False, 0
    for _ in range(4 * (int(scene.duration) + 30)):
        h = await _health(stub, "road-1")
        if h is not None and h.connected:
            started, inferred = True, h.frames_inferred
        elif started:
            break
        await asyncio.sleep(0.25)
    assert started
    unknown = await _health(stub, "road-unknown")
    assert unknown is not None
    assert "traffic profile of camera road-unknown unavailable: NOT_FOUND" in unknown.last_error
    await stub.DeleteCamera(pb.DeleteCameraRequest(camera_id="road-1"))
    assert await ingest_traffic["server"].observations.flush(15.0)

    observed = sorted(fake.recorded.values(), key=lambda o: o.observed_at.ToDatetime())
    truth = scene.truth
    matches = match_crossings(observed, truth)
    report: dict[str, Any] = {"analysed_fps": round(inferred / scene.duration, 1)}
    counted: dict[str, int] = defaultdict(int)
    expected: dict[str, int] = defaultdict(int)
    for t in truth:
        for line_id in t.crossings:
            expected[line_id] += 1
    for o in observed:
        counted[o.line_id] += 1
    report["counts"] = (dict(counted), dict(expected))
    errors, plates_exact, classes_right, methods = [], 0, 0, defaultdict(set)
    for o, t in matches:
        assert o.observation_id == f"road-1:{o.track_id}:{o.line_id}"
        assert o.lane == t.lane and o.direction == t.direction, (o, t)
        assert o.camera_id == "road-1" and o.snapshot.key and o.box.x2 > o.box.x1
        classes_right += o.vehicle_class == t.vehicle_class
        plates_exact += o.plate == t.plate
        if o.plate:
            assert (await store.get(o.plate_crop.key))[:2] == b"\xff\xd8" and o.plate_raw
        assert (await store.get(o.snapshot.key))[:2] == b"\xff\xd8"
        if not o.HasField("speed_evidence"):
            continue  # too few sightings before the line to measure
        errors.append((o.speed_kmh - t.speed_kmh) / t.speed_kmh)
        e = o.speed_evidence
        methods[o.line_id].add(e.method)
        for ref in (e.start_frame, e.end_frame):
            assert (await store.get(ref.key))[:2] == b"\xff\xd8"
    report["matched"] = len(matches)
    seen = {(t.index, o.line_id) for o, t in matches}
    report["missed"] = [
        (t.index, t.vehicle_class, line) for t in truth for line in t.crossings if (t.index, line) not in seen
    ]
    unmatched = [o for o in observed if all(o is not m for m, _ in matches)]
    report["unmatched"] = [(o.line_id, o.vehicle_class, round(o.speed_kmh, 1), o.plate) for o in unmatched]
    report["measured"] = len(errors)
    report["speed_error_median"] = statistics.median(abs(e) for e in errors)
    report["speed_error_max"] = max(abs(e) for e in errors)
    report["plate_exact"] = plates_exact / len(matches)
    report["class_right"] = classes_right / len(matches)
    print("traffic camera over RTSP:", report)
    # Nothing is counted that did not happen, and every crossing is, at the analysed rate a quiet
    # machine gives this clip (about 5 frames/s). A loaded one looks less often: a vehicle then
    # goes by between two looks now and then (measured: 12-13 of 15 at 3 frames/s).
    assert not report["unmatched"] and len(seen) == len(matches), report
    accuracy = len(matches) / sum(expected.values())
    assert accuracy == 1.0 or (report["analysed_fps"] < 3.5 and accuracy >= 0.8), report
    assert report["speed_error_max"] <= 0.10, (report, errors)
    assert report["plate_exact"] >= 0.8, [(o.line_id, o.plate, o.plate_raw) for o in observed]
    # The first batch failed (UNAVAILABLE) and came again with the same ids: nothing lost or doubled.
    failed = [ids for failing, ids in fake.calls if failing]
    assert failed and all(i in fake.recorded for i in failed[0])
    assert fake.duplicates == 0
    # The second line of lane 1: the speed between its two lines (along the track when a loaded
    # machine saw the vehicle before the first and after the second only), else along the track.
    assert "between_lines" in methods["lane1-2"] and methods["lane1-1"] == methods["lane2-1"] == {
        "along_track"
    }
