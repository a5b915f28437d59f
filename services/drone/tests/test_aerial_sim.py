"""The simulated patrol camera: objects drawn where the camera model puts them, found by the real
detector, and the clip served over the project's RTSP server and read back."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from pyproj import Geod

from kuzet.common import testdata
from kuzet.common.errors import InvalidArgument
from kuzet.common.testing import missing_component
from kuzet.drone.geo import LocalFrame
from kuzet.drone.geolocate import project
from kuzet.drone.sim.aerial import AerialScene, FlightLine, GroundObject, Placed
from kuzet.drone.sim.aerial_sprites import SIZES_M, StreetSprites, street_sprites
from kuzet.inference.backends.embedded import EmbeddedBackend
from kuzet.inference.catalog import load_catalog
from kuzet.inference.engine import InferenceEngine
from kuzet.ingest.testing.rtsp import RtspServer, rtsp_available
from kuzet.ingest.testing.videotest import encode_frames

START = (50.42, 71.95)
VEHICLES = {"bicycle", "car", "motorcycle", "bus", "truck"}


@pytest.fixture(scope="module")
def sprites() -> StreetSprites:
    try:
        return street_sprites()
    except testdata.TestDataUnavailable as exc:
        missing_component(f"street photos unavailable: {exc}")
        raise  # missing_component skips or fails: never reached


@pytest.fixture(scope="module")
def scene(sprites: StreetSprites) -> AerialScene:
    """A person 46 m and a bus 70 m north of the start, a little off the northbound line."""
    local = LocalFrame(*START)
    person = GroundObject("person", *local.to_latlon(-2.0, 46.0), SIZES_M["person"], sprites.people[0])
    bus = GroundObject("bus", *local.to_latlon(1.0, 70.0), SIZES_M["bus"], sprites.bus)
    return AerialScene(FlightLine(*START, heading_deg=0.0), [person, bus])


@pytest.fixture(scope="module")
def engine() -> Iterator[InferenceEngine]:
    catalog = load_catalog()
    backend = EmbeddedBackend(catalog, intra_op_threads=2)
    backend.load()
    yield InferenceEngine(catalog, backend)
    backend.shutdown()


def _in_full_view(scene: AerialScene, kind: str) -> tuple[float, Placed]:
    """The first time (0.25 s steps) the object of ``kind`` is wholly inside the image."""
    for step in range(200):
        t = step / 4
        for p in scene.placed(t):
            u1, v1, u2, v2 = p.box
            if (
                p.obj.kind == kind
                and u1 >= 0
                and v1 >= 0
                and u2 <= scene.cam.width
                and v2 <= scene.cam.height
            ):
                return t, p
    raise AssertionError(f"the {kind} never comes wholly into view")


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
    return iw * ih / union


def test_pose_follows_the_flight_line(scene: AerialScene) -> None:
    pose = scene.pose(10.0)
    az, _, dist = Geod(ellps="WGS84").inv(START[1], START[0], pose.longitude, pose.latitude)
    assert dist == pytest.approx(scene.line.speed_mps * 10.0, rel=1e-3)
    assert abs(az) < 0.01  # due North
    assert (pose.altitude_m, pose.yaw_deg, pose.gimbal_pitch_deg) == (30.0, 0.0, -45.0)


def test_objects_are_drawn_where_the_camera_model_projects_them(scene: AerialScene) -> None:
    t, placed = _in_full_view(scene, "person")
    obj = placed.obj
    u, v = project(obj.latitude, obj.longitude, scene.pose(t), scene.cam)
    assert placed.foot == pytest.approx((u, v))
    # Its height in pixels is its real height at its distance from the camera.
    pose = scene.pose(t)
    east, north = LocalFrame(pose.latitude, pose.longitude).to_xy(obj.latitude, obj.longitude)
    slant = math.sqrt(east**2 + north**2 + pose.altitude_m**2)
    assert placed.box[3] - placed.box[1] == pytest.approx(scene.cam.fy * SIZES_M["person"] / slant)
    assert placed.box[3] - placed.box[1] >= 30  # big enough for the detector (see aerial.py)

    frame = scene.render(t)
    ground = AerialScene(scene.line, [], scene.cam).render(t)
    changed = np.abs(frame.astype(int) - ground.astype(int)).sum(axis=2) > 30
    u1, v1, u2, v2 = (round(c) for c in placed.box)
    inside = changed[v1 + 4 : v2 - 4, u1 + 4 : u2 - 4]
    assert inside.mean() > 0.5, "the person's pixels are not where the camera model puts them"
    outside = changed.copy()
    outside[max(0, v1 - 2) : v2 + 2, max(0, u1 - 2) : u2 + 2] = False
    assert not outside.any(), "pixels changed away from the projected object"


@pytest.mark.parametrize("kind", ["person", "bus"])
async def test_the_real_detector_finds_the_object(
    scene: AerialScene, engine: InferenceEngine, kind: str
) -> None:
    t, placed = _in_full_view(scene, kind)
    _, found = await engine.detect_objects([scene.render(t)], 0.35, ["person", *sorted(VEHICLES)])
    wanted = {"person"} if kind == "person" else VEHICLES
    hits = [o for o in found[0].objects if o.class_name in wanted]
    best = max((_iou(placed.box, (o.box.x1, o.box.y1, o.box.x2, o.box.y2)) for o in hits), default=0.0)
    assert best >= 0.23, f"no {kind} found at {placed.box}: {found[0].objects}"


def test_bad_scenes_are_refused(scene: AerialScene) -> None:
    with pytest.raises(InvalidArgument, match="above the ground"):
        AerialScene(FlightLine(*START, heading_deg=0.0, altitude_m=0.0), [])
    with pytest.raises(InvalidArgument, match="gimbal pitch"):
        AerialScene(FlightLine(*START, heading_deg=0.0, gimbal_pitch_deg=10.0), [])


def test_the_clip_is_served_over_rtsp_and_read_back(scene: AerialScene, tmp_path: Path) -> None:
    if not rtsp_available():
        missing_component("gst-rtsp-server missing: run scripts/setup/rtsp.sh")
    fps = 10
    t, placed = _in_full_view(scene, "person")
    start = round(t * fps)
    frames = [scene.render((start + i) / fps) for i in range(2 * fps)]
    clip = encode_frames(
        iter(frames),
        tmp_path / "patrol.mp4",
        width=scene.cam.width,
        height=scene.cam.height,
        fps=fps,
        gop=fps,
    )
    with (
        RtspServer({"patrol": clip}) as server,
        av.open(server.url("patrol"), options={"rtsp_transport": "tcp"}, timeout=10.0) as container,
    ):
        decoded = next(container.decode(video=0)).to_ndarray(format="bgr24")
    assert decoded.shape == frames[0].shape
    # H.264 at crf 26 over RTSP: close to the rendered frame, person included.
    u1, v1, u2, v2 = (round(c) for c in placed.box)
    diff = np.abs(decoded.astype(int) - frames[0].astype(int))
    assert diff.mean() < 12
    assert diff[v1:v2, u1:u2].mean() < 20
