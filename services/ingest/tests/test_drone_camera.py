"""A drone's video as an ingest camera, with real parts: the aerial simulator's clip (real photos of
people and a bus on a textured ground, seen from a drone flying north) served by the real RTSP
server, ingest with the real inference service detecting and tracking, and the real drone
service placing what was seen from the drone's recorded telemetry and alerting on a reserve.

Ingest stamps a frame with the wall-clock time it was captured: the stream's start plus the
frame's offset in the stream. The drone's telemetry is recorded for those same wall-clock
times (the simulated flight's pose at each offset of the clip), once the camera's first frame
has said when the stream started; the frames analysed before that are skipped by the drone
service's FAILED_PRECONDITION, as on a real drone whose telemetry is not stored yet.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from kuzet.common import testdata
from kuzet.common.caller import Caller, caller_metadata, service_caller
from kuzet.common.errors import InvalidArgument, Unavailable
from kuzet.common.grpcclient import open_channel
from kuzet.common.testing import free_port_number, missing_component
from kuzet.common.timeutil import to_timestamp
from kuzet.common.v1 import common_pb2
from kuzet.drone.config import DroneSettings
from kuzet.drone.detections import DetectionReports
from kuzet.drone.flighttrack import Track
from kuzet.drone.geo import LocalFrame, haversine_m
from kuzet.drone.leadership import InProcessLeadership, LeaseTable
from kuzet.drone.server import build as build_drone
from kuzet.drone.sim.aerial import AerialScene, FlightLine, GroundObject
from kuzet.drone.sim.aerial_sprites import SIZES_M, street_sprites
from kuzet.drone.v1 import drone_pb2, drone_pb2_grpc
from kuzet.ingest.dronefeed import DroneFeed
from kuzet.ingest.testing.rtsp import RtspServer, rtsp_available
from kuzet.ingest.testing.videotest import encode_frames
from kuzet.ingest.v1 import ingest_pb2 as pb

from .conftest import _ingest

AGENCY = "prison"  # the ingest test caller's agency
PILOT = Caller("pilot-anna", AGENCY, frozenset({"pilot"}))
OTHER_PILOT = Caller("pilot-zed", "police", frozenset({"pilot"}))
START = (50.42, 71.95)
LOCAL = LocalFrame(*START)
SPEED_MPS = 2.0
CLIP_FPS = 10
CLIP_S = 20.5
# The RTSP server stops before the clip ends: ingest would otherwise reconnect and play it again,
# at wall-clock times whose recorded telemetry is of another part of the flight.
PLAYED_S = 19.5
ANALYTIC_FPS = 2.0
# Where each object stands, metres east and north of the flight's start: the camera (15 deg wide,
# pitched -45 deg, 30 m up) sees the ground 26 to 35 m ahead, 11 m wide.
LAYOUT = (
    ("person", 0, -1.5, 39.0),
    ("bus", 0, 1.0, 49.0),
    ("person", 1, 1.5, 58.0),
    ("person", 2, -1.0, 66.0),
)


def md(caller: Caller) -> list[tuple[str, str]]:
    return caller_metadata(caller, audience="drone")


@pytest.fixture
def scene() -> AerialScene:
    try:
        sprites = street_sprites()
    except testdata.TestDataUnavailable as exc:
        missing_component(f"street photos unavailable: {exc}")
        raise
    objects = [
        GroundObject(
            kind,
            *LOCAL.to_latlon(east, north),
            SIZES_M[kind],
            sprites.bus if kind == "bus" else sprites.people[k],
        )
        for kind, k, east, north in LAYOUT
    ]
    return AerialScene(FlightLine(*START, heading_deg=0.0, speed_mps=SPEED_MPS), objects)


@pytest.fixture
def clip(scene: AerialScene, tmp_path: Path) -> Path:
    frames = (scene.render(i / CLIP_FPS) for i in range(int(CLIP_S * CLIP_FPS)))
    return encode_frames(
        frames,
        tmp_path / "patrol.mp4",
        width=scene.cam.width,
        height=scene.cam.height,
        fps=CLIP_FPS,
        gop=CLIP_FPS,
    )


@pytest.fixture
async def drone(tmp_path: Path) -> AsyncIterator[tuple[Any, list[common_pb2.Event]]]:
    events: list[common_pb2.Event] = []
    (tmp_path / "drone").mkdir()
    settings = DroneSettings(
        port=free_port_number(),
        data_dir=tmp_path / "drone",
        database_url=f"sqlite:///{tmp_path / 'drone.db'}",
    )
    server = await build_drone(
        settings, leadership=InProcessLeadership("drone-0", table=LeaseTable()), publish_event=events.append
    )
    await server.start()
    yield server, events
    await server.stop(0)


@pytest.fixture
async def ingest(tmp_path: Path, inference: str, drone: tuple[Any, Any]) -> AsyncIterator[dict[str, Any]]:
    async for value in _ingest(tmp_path, inference, drone=drone[0].address):
        yield value


@pytest.fixture
def placements(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """Every (request, response) the drone service's ReportDetections answered."""
    seen: list[tuple[Any, Any]] = []
    report = DetectionReports.report

    async def spy(self: DetectionReports, d: Any, request: Any) -> Any:
        response = await report(self, d, request)
        seen.append((request, response))
        return response

    monkeypatch.setattr(DetectionReports, "report", spy)
    return seen


def square(east: float, north: float, half: float) -> list[common_pb2.GeoPoint]:
    corners = ((-1, -1), (1, -1), (1, 1), (-1, 1))
    return [
        common_pb2.GeoPoint(latitude=la, longitude=lo)
        for la, lo in (LOCAL.to_latlon(east + dx * half, north + dy * half) for dx, dy in corners)
    ]


async def register(
    stub: drone_pb2_grpc.DroneServiceStub, drone_id: str, system_id: int, caller: Caller
) -> None:
    drone = drone_pb2.Drone(
        drone_id=drone_id,
        agency_id=caller.agency,
        home=common_pb2.GeoPoint(latitude=START[0], longitude=START[1], altitude_m=0.0),
        system_id=system_id,
        link_url=f"udpin:127.0.0.1:{free_port_number()}",
        camera=drone_pb2.CameraSpec(horizontal_fov_deg=15.0, gimbal_pitch_deg=-45.0),
    )
    await stub.RegisterDrone(drone_pb2.RegisterDroneRequest(drone=drone), metadata=md(caller))


async def stream_start(stub: Any, camera_id: str, within_s: float = 30.0) -> float:
    """When the camera's stream started, wall clock: its first sampled frame's time. The newest
    sampled frame is ``frames_sampled - 1`` analytic periods into the stream; two equal reads in a
    row mean the count and the time belong to the same frame."""
    deadline = time.monotonic() + within_s
    last: tuple[int, float] | None = None
    while time.monotonic() < deadline:
        try:
            h = (await stub.GetCameraHealth(pb.GetCameraHealthRequest(camera_id=camera_id))).health
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:  # not started yet
                raise
            h = pb.CameraHealth()
        now = (h.frames_sampled, h.last_frame_at.ToDatetime(UTC).timestamp()) if h.frames_sampled else None
        if now is not None and now == last:
            return now[1] - (now[0] - 1) / ANALYTIC_FPS
        last = now
        await asyncio.sleep(0.05)
    raise AssertionError(f"camera {camera_id} delivered no frame within {within_s} s")


async def record_flight(server: Any, drone_id: str, scene: AerialScene, started: float) -> None:
    """The flight's telemetry at 10 Hz for the wall-clock times the clip plays, as a finished
    mission's recorded track."""
    mission_id = f"m-{drone_id}"
    track = Track(mission_id)
    for i in range(-10, int(CLIP_S * 10) + 20):
        p = scene.pose(i / 10)
        track.add(started + i / 10, p.latitude, p.longitude, p.altitude_m)
    mission = drone_pb2.Mission(
        mission_id=mission_id,
        drone_id=drone_id,
        agency_id=AGENCY,
        state=drone_pb2.MISSION_STATE_COMPLETED,
        dispatched_at=to_timestamp(datetime.fromtimestamp(started, UTC) - timedelta(seconds=30)),
    )
    await server.fleet.store.put_mission(mission)
    await server.fleet.store.put_track(mission, track.to_bytes())


def family(object_class: str) -> str:
    return "person" if object_class == "person" else "vehicle"


def nearest(objects: list[GroundObject], lat: float, lon: float) -> tuple[int, float]:
    return min(
        ((k, haversine_m(o.latitude, o.longitude, lat, lon)) for k, o in enumerate(objects)),
        key=lambda ke: ke[1],
    )


async def test_a_drone_video_places_its_objects_and_alerts_once_each(
    scene: AerialScene,
    clip: Path,
    drone: tuple[Any, list[common_pb2.Event]],
    ingest: dict[str, Any],
    placements: list[tuple[Any, Any]],
) -> None:
    if not rtsp_available():
        missing_component("gst-rtsp-server missing: run scripts/setup/rtsp.sh")
    server, events = drone
    channel = open_channel(server.address, audience="drone")
    drones = drone_pb2_grpc.DroneServiceStub(channel)
    await register(drones, "ranger-1", 41, PILOT)
    await register(drones, "police-1", 42, OTHER_PILOT)
    # A reserve around the whole line; its one permitted track is far away, so anyone in it is
    # off track by day, and at night in it at all: either way one alert per object.
    far = [
        common_pb2.GeoPoint(latitude=la, longitude=lo)
        for la, lo in (LOCAL.to_latlon(400, 0), LOCAL.to_latlon(400, 100))
    ]
    reserve = (
        await drones.CreateProtectedArea(
            drone_pb2.CreateProtectedAreaRequest(
                area=drone_pb2.ProtectedArea(
                    name="Synthetic reserve",
                    kind=drone_pb2.PROTECTED_AREA_KIND_RESERVE,
                    outline=square(0, 50, 60),
                    time_zone="UTC",
                    tracks=[drone_pb2.PermittedTrack(name="far track", buffer_m=5.0, points=far)],
                )
            ),
            metadata=md(PILOT),
        )
    ).area
    stub = ingest["stub"]

    with RtspServer({"patrol": clip}) as rtsp:
        camera = pb.Camera(
            id="drone-cam",
            site_id="reserve",
            url=rtsp.url("patrol"),
            analytic_fps=ANALYTIC_FPS,
            enabled=True,
            drone_id="ranger-1",
        )
        for drone_id, why in (
            ("no-such-drone", "no drone"),
            ("police-1", "no drone"),
            ("bad id", "no spaces"),
        ):
            bad = pb.Camera()
            bad.CopyFrom(camera)
            bad.id, bad.drone_id = "refused", drone_id
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.CreateCamera(pb.CreateCameraRequest(camera=bad))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, drone_id
            assert "camera.drone_id" in (err.value.details() or "") and why in (err.value.details() or "")
        created = (await stub.CreateCamera(pb.CreateCameraRequest(camera=camera))).camera
        assert created.drone_id == "ranger-1"
        started = await stream_start(stub, "drone-cam")
        await record_flight(server, "ranger-1", scene, started)
        await asyncio.sleep(max(0.0, started + PLAYED_S - time.time()))
        rtsp.stop()
        # The last analysed frame's detection and report.
        await asyncio.sleep(2.0)
        assert await ingest["server"].drones.flush(10.0)
        health = (await stub.GetCameraHealth(pb.GetCameraHealthRequest(camera_id="drone-cam"))).health
    await channel.close()

    feed = ingest["server"].drones.stats
    # The motion gate passes every frame of a flying camera; no "moved" fault either.
    assert health.frames_motion_skipped == 0 and health.frames_inferred >= CLIP_S * ANALYTIC_FPS * 0.6, health
    assert pb.FAULT_MOVED not in health.faults
    assert feed.rejected == 0 and feed.dropped == 0 and feed.reported >= 5, feed
    objects = list(scene.objects)
    placed: dict[int, list[tuple[float, float]]] = {k: [] for k in range(len(objects))}
    for request, response in placements:
        assert request.camera_id == "drone-cam" and request.frame.key.startswith(
            f"snapshots/{AGENCY}/drone-cam/"
        )
        assert (request.frame_width, request.frame_height) == (scene.cam.width, scene.cam.height)
        for p in response.placed:
            k, error = nearest(objects, p.location.latitude, p.location.longitude)
            placed[k].append((error, p.location.accuracy_m))
    # (error, stated radius) in metres per object, for the assertion messages
    report = {objects[k].kind + str(k): [(round(e, 1), round(a, 1)) for e, a in v] for k, v in placed.items()}
    for k, fixes in placed.items():
        assert len(fixes) >= 2, (objects[k].kind, report)
        for error, radius in fixes:
            assert error <= radius, (objects[k].kind, error, radius, report)

    alerts = [e for e in events if e.type == "reserve_intrusion"]
    per_object: dict[int, list[common_pb2.Event]] = {}
    for e in alerts:
        k, error = nearest(objects, e.location.latitude, e.location.longitude)
        assert error <= e.location.accuracy_m, (objects[k].kind, error, e.location.accuracy_m)
        per_object.setdefault(k, []).append(e)
        assert e.zone_id == reserve.area_id and e.attributes["reason"] in ("night", "off_track")
        assert e.source.kind == common_pb2.SOURCE_KIND_DRONE and e.source.id == "ranger-1"
        assert e.attributes["camera_id"] == "drone-cam" and e.snapshot.key.startswith(
            f"snapshots/{AGENCY}/drone-cam/"
        )
        assert await ingest["store"].get(e.snapshot.key)  # the frame ingest stored
    # One alert per object and class: the bus's photo (a street scene) has people standing in
    # front of the bus, and the detector rightly finds them there too, where the bus stands.
    # The bus may be boxed as a truck: the class is the detector's.
    own = {
        k: [e for e in per_object.get(k, []) if family(e.attributes["object_class"]) == family(o.kind)]
        for k, o in enumerate(objects)
    }
    shown = {
        objects[k].kind + str(k): [e.attributes["object_class"] for e in v] for k, v in per_object.items()
    }
    assert all(len(v) == 1 for v in own.values()), shown
    assert all(
        objects[k].kind == "bus" and family(e.attributes["object_class"]) == "person"
        for k, v in per_object.items()
        for e in v
        if e not in own[k]
    ), shown


async def test_the_feed_skips_frames_without_telemetry_and_says_when_the_drone_service_is_down(
    drone: tuple[Any, list[common_pb2.Event]],
) -> None:
    server, _ = drone
    pilot = open_channel(server.address, audience="drone")
    await register(drone_pb2_grpc.DroneServiceStub(pilot), "ranger-2", 43, PILOT)
    await pilot.close()
    me = service_caller("ingest", roles=("service",))
    report = drone_pb2.ReportDetectionsRequest(
        drone_id="ranger-2",
        frame_time=to_timestamp(datetime.now(UTC)),
        frame_width=640,
        frame_height=360,
        camera_id="drone-cam",
    )
    report.detections.add(
        box=common_pb2.Box(x1=300, y1=100, x2=330, y2=180),
        object_class=drone_pb2.OBJECT_CLASS_PERSON,
        score=0.8,
        track_id=7,
    )
    up = DroneFeed(server.address, me)
    up.start()
    # A drone on the ground has no telemetry: its frames are skipped, once each, not retried.
    up.submit(report)
    assert await up.flush(10.0)
    assert (up.stats.no_telemetry, up.stats.retries, up.stats.rejected, up.status) == (1, 0, 0, "")
    await up.check_drone("ranger-2", AGENCY)
    with pytest.raises(InvalidArgument, match="no drone 'ranger-2'"):
        await up.check_drone("ranger-2", "police")
    await up.close()

    down = DroneFeed("127.0.0.1:1", me, initial_backoff_s=0.05, max_backoff_s=0.2)
    down.start()
    down.submit(report)
    for _ in range(200):
        if down.stats.retries >= 2:
            break
        await asyncio.sleep(0.05)
    assert down.stats.retries >= 2 and down.status.startswith("drone service unreachable (UNAVAILABLE)")
    with pytest.raises(Unavailable, match="cannot check drone 'ranger-2'"):
        await down.check_drone("ranger-2", AGENCY)
    await down.close(drain_s=0.1)
