"""A simulated patrol camera: frames of a moving aerial view with objects at known ground positions.

The drone flies a straight line at a constant speed, altitude and heading, its stabilised gimbal
pitched at a fixed angle, so every frame's pose is known exactly (``AerialScene.pose(t)``). The
ground is a flat plane covered by a procedural texture (aerial_texture.py); objects are real photo
crops (``Sprite``, supplied by the caller: this module fetches nothing) standing upright on the
ground, their bottom centre at the pixel ``geolocate.project`` gives for their latitude/longitude
and their size in pixels what their size in metres is at their distance from the camera. The
ground under each pixel comes from geolocate's own ray model (its private helpers), so drawn
frames and ``locate`` cannot disagree. Upright
billboards rather than true top-down views, because the shipped COCO detector was trained on
side views; the gimbal is oblique (-45 deg by default) so that is roughly what the camera sees.

Sizes that the detector can see (its input is 512 px): a 640x360 frame, 30 deg horizontal field of
view, 30 m above the ground at -45 deg puts the ground under the image centre 42 m away, where a
1.7 m person is about 48 px tall and a 4.5 m car about 128 px wide.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from kuzet.common.errors import InvalidArgument
from kuzet.drone.geo import LocalFrame
from kuzet.drone.geolocate import Intrinsics, Pose, camera_rotations, ground_offsets, project
from kuzet.drone.sim.aerial_texture import GroundTexture

__all__ = ["AerialScene", "FlightLine", "GroundObject", "Placed", "Sprite", "default_camera"]

SKY_BGR = (235, 206, 170)


def default_camera() -> Intrinsics:
    """640x360, 30 deg horizontal field of view (see the module's docstring for why)."""
    return Intrinsics.from_fov(15.0, 640, 360)


@dataclass(frozen=True)
class Sprite:
    """A real object's photo crop: BGR pixels and alpha (0..1), the object filling the crop."""

    bgr: np.ndarray
    alpha: np.ndarray

    def __post_init__(self) -> None:
        if self.bgr.ndim != 3 or self.alpha.shape != self.bgr.shape[:2]:
            raise InvalidArgument("a sprite needs HxWx3 BGR pixels and an HxW alpha mask")


@dataclass(frozen=True)
class GroundObject:
    """An object standing on the ground: ``height_m`` is its real height, ``kind`` e.g. "person"."""

    kind: str
    latitude: float
    longitude: float
    height_m: float
    sprite: Sprite


@dataclass(frozen=True)
class Placed:
    """Where an object appears in one frame: its box (u1, v1, u2, v2) and its ground pixel."""

    obj: GroundObject
    box: tuple[float, float, float, float]
    foot: tuple[float, float]


@dataclass(frozen=True)
class FlightLine:
    """A straight flight from (start_latitude, start_longitude) along ``heading_deg``."""

    start_latitude: float
    start_longitude: float
    heading_deg: float
    speed_mps: float = 8.0
    altitude_m: float = 30.0  # above the flat ground
    gimbal_pitch_deg: float = -45.0

    def position(self, t: float) -> tuple[float, float]:
        """Latitude and longitude after ``t`` seconds."""
        frame = LocalFrame(self.start_latitude, self.start_longitude)
        d = self.speed_mps * t
        h = math.radians(self.heading_deg)
        return frame.to_latlon(d * math.sin(h), d * math.cos(h))


@dataclass(frozen=True)
class AerialScene:
    line: FlightLine
    objects: Sequence[GroundObject]
    cam: Intrinsics = field(default_factory=default_camera)
    seed: int = 0
    texture_extent_m: float = 300.0  # the textured square around the start; beyond it, wraps

    def __post_init__(self) -> None:
        if self.line.altitude_m <= 0:
            raise InvalidArgument(f"altitude {self.line.altitude_m:g} m must be above the ground")
        if not -90.0 <= self.line.gimbal_pitch_deg < 0.0:
            raise InvalidArgument("gimbal pitch must look down: -90 (nadir) .. 0 (horizon) deg")

    def pose(self, t: float) -> Pose:
        lat, lon = self.line.position(t)
        return Pose(
            lat,
            lon,
            self.line.altitude_m,
            yaw_deg=self.line.heading_deg,
            gimbal_pitch_deg=self.line.gimbal_pitch_deg,
        )

    def placed(self, t: float) -> list[Placed]:
        """The objects in view at ``t``, nearest last (the order they are drawn in)."""
        pose = self.pose(t)
        frame = LocalFrame(pose.latitude, pose.longitude)
        out: list[tuple[float, Placed]] = []
        for obj in self.objects:
            east, north = frame.to_xy(obj.latitude, obj.longitude)
            slant = math.sqrt(east * east + north * north + pose.altitude_m**2)
            try:
                u, v = project(obj.latitude, obj.longitude, pose, self.cam)
            except InvalidArgument:  # behind the camera
                continue
            h_px = self.cam.fy * obj.height_m / slant
            sh, sw = obj.sprite.alpha.shape
            w_px = h_px * sw / sh
            box = (u - w_px / 2, v - h_px, u + w_px / 2, v)
            if box[2] < 0 or box[0] > self.cam.width or box[3] < 0 or box[1] > self.cam.height:
                continue
            out.append((slant, Placed(obj, box, (u, v))))
        out.sort(key=lambda p: -p[0])
        return [p for _, p in out]

    def render(self, t: float) -> np.ndarray:
        """The BGR frame at ``t`` seconds."""
        frame = self._ground(t)
        for p in self.placed(t):
            _paste(frame, p)
        return frame

    def frames(self, duration_s: float, fps: float) -> Iterator[tuple[float, np.ndarray]]:
        for i in range(int(duration_s * fps)):
            yield i / fps, self.render(i / fps)

    def _ground(self, t: float) -> np.ndarray:
        north, east, hits = _pixel_offsets(self.cam, self.line.heading_deg, self.line.gimbal_pitch_deg)
        texture = GroundTexture.of(self.seed, self.texture_extent_m)
        d = self.line.speed_mps * t
        h = math.radians(self.line.heading_deg)
        scale = self.line.altitude_m  # offsets were computed for a 1 m height
        image = texture.sample(east * scale + d * math.sin(h), north * scale + d * math.cos(h))
        image[~hits] = SKY_BGR
        return image


_OFFSETS: dict[tuple[Intrinsics, float, float], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _pixel_offsets(
    cam: Intrinsics, yaw_deg: float, gimbal_deg: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """North and East metres from the drone of every pixel's ground point at 1 m height (they
    scale with height); the same for every frame of a straight line, so computed once."""
    key = (cam, yaw_deg, gimbal_deg)
    if key not in _OFFSETS:
        v, u = np.mgrid[0 : cam.height, 0 : cam.width].astype(np.float64) + 0.5
        n = u.size
        rot = camera_rotations(
            np.full(n, math.radians(yaw_deg)),
            np.zeros(n),
            np.zeros(n),
            np.full(n, math.radians(gimbal_deg)),
        )
        north, east, hits = ground_offsets(u.ravel(), v.ravel(), cam, rot, np.ones(n))
        shape = (cam.height, cam.width)
        _OFFSETS[key] = (
            np.nan_to_num(north).reshape(shape),
            np.nan_to_num(east).reshape(shape),
            hits.reshape(shape),
        )
    return _OFFSETS[key]


def _paste(frame: np.ndarray, p: Placed) -> None:
    u1, v1, u2, v2 = p.box
    w, h = round(u2 - u1), round(v2 - v1)
    if w < 2 or h < 2:
        return
    bgr = cv2.resize(p.obj.sprite.bgr, (w, h), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(p.obj.sprite.alpha.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    x0, y0 = round(u1), round(v1)
    fh, fw = frame.shape[:2]
    xa, ya, xb, yb = max(0, x0), max(0, y0), min(fw, x0 + w), min(fh, y0 + h)
    if xa >= xb or ya >= yb:
        return
    a = alpha[ya - y0 : yb - y0, xa - x0 : xb - x0, None]
    region = frame[ya:yb, xa:xb].astype(np.float32)
    src = bgr[ya - y0 : yb - y0, xa - x0 : xb - x0].astype(np.float32)
    frame[ya:yb, xa:xb] = (a * src + (1 - a) * region).astype(np.uint8)
