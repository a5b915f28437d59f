"""Where on the ground a pixel of a drone's camera lies, and how sure that is.

Model and conventions:
- Pinhole camera, no lens distortion (undistort the pixel first for a wide-angle lens); OpenCV
  axes: x right, y down in the image, z along the optical axis; intrinsics fx, fy, cx, cy in pixels.
- The drone's attitude is yaw (heading, clockwise from North), pitch (nose up) and roll (right
  wing down), applied Z-Y-X to the body axes forward-right-down, as MAVLink ATTITUDE reports them.
  The camera sits on a gimbal pitched from the body's forward axis (-90 deg: straight down), the
  image's top towards the nose. For a stabilised gimbal whose attitude is known in the earth frame,
  pass its attitude as the pose with pitch and roll 0 and its pitch as gimbal_pitch_deg.
- The ground is a horizontal plane at `ground_elevation_m`, in the datum of the pose's altitude
  (with 0, the altitude is height above the ground). Earth curvature is left out (8 cm at 1 km).
  Uneven terrain is an error source the caller states as part of the vertical error.
- The ground point's latitude/longitude follow from its distance and azimuth from the drone on
  the WGS84 ellipsoid (pyproj's geodesic, exact both ways).
- Uncertainty: the stated 1-sigma errors (horizontal position per axis, altitude, yaw, pitch/roll,
  gimbal pitch, pixel) are taken as independent and normal, and sampled around the reported pose
  (a fixed seed: the same inputs give the same radius). The radius holds 95 % of the sampled
  ground points around the nominal one. Sampling, not first-order propagation, because near the
  horizon the mapping is far from linear; a sampled ray that misses the ground counts as infinitely
  far, so a radius can be infinite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pyproj import Geod

from kuzet.common.errors import InvalidArgument

_GEOD = Geod(ellps="WGS84")

# A ray must point at least this far below the horizon: nearer to it, a degree of attitude error
# moves the ground point by kilometres and a flat ground is no model of the terrain.
MIN_DEPRESSION_DEG = 1.0
UNCERTAINTY_QUANTILE = 0.95
SAMPLES = 512


@dataclass(frozen=True)
class Intrinsics:
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise InvalidArgument(f"image size {self.width}x{self.height} must be positive")
        if self.fx <= 0 or self.fy <= 0:
            raise InvalidArgument(f"focal lengths fx={self.fx:g}, fy={self.fy:g} must be positive pixels")

    @classmethod
    def from_fov(cls, hfov_deg: float, width: int, height: int, vfov_deg: float | None = None) -> Intrinsics:
        """A centred principal point; square pixels unless the vertical field of view is given."""
        if not 1.0 <= hfov_deg <= 170.0 or (vfov_deg is not None and not 1.0 <= vfov_deg <= 170.0):
            raise InvalidArgument("fields of view must be within 1..170 degrees")
        fx = width / 2.0 / math.tan(math.radians(hfov_deg) / 2.0)
        fy = fx if vfov_deg is None else height / 2.0 / math.tan(math.radians(vfov_deg) / 2.0)
        return cls(fx=fx, fy=fy, cx=width / 2.0, cy=height / 2.0, width=width, height=height)


@dataclass(frozen=True)
class Pose:
    """The drone (or stabilised gimbal) at the frame's time."""

    latitude: float
    longitude: float
    altitude_m: float
    yaw_deg: float
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    gimbal_pitch_deg: float = -90.0


@dataclass(frozen=True)
class PoseErrors:
    """1-sigma errors of the reported pose. The defaults: a consumer GNSS receiver without RTK,
    barometric height over gentle terrain, a magnetometer-aided yaw, a gimbal IMU, and a detector's
    box centre."""

    horizontal_m: float = 1.5  # per axis (East, North)
    vertical_m: float = 1.0
    yaw_deg: float = 2.0
    tilt_deg: float = 0.5  # pitch and roll, each
    gimbal_deg: float = 0.5
    pixel: float = 3.0


@dataclass(frozen=True)
class GroundFix:
    latitude: float
    longitude: float
    uncertainty_m: float  # radius holding 95 % of the ground points the stated errors allow
    range_m: float  # horizontal distance from the drone


def camera_rotations(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray, gimbal: np.ndarray) -> np.ndarray:
    """Camera axes -> North-East-Down, one 3x3 matrix per sample (angles in radians)."""
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    cr, sr, cg, sg = np.cos(roll), np.sin(roll), np.cos(gimbal), np.sin(gimbal)
    one, zero = np.ones_like(yaw), np.zeros_like(yaw)
    rz = np.stack([cy, -sy, zero, sy, cy, zero, zero, zero, one], -1).reshape(-1, 3, 3)
    ry = np.stack([cp, zero, sp, zero, one, zero, -sp, zero, cp], -1).reshape(-1, 3, 3)
    rx = np.stack([one, zero, zero, zero, cr, -sr, zero, sr, cr], -1).reshape(-1, 3, 3)
    # Columns: the camera's x (right), y (image down) and z (optical axis) in body axes.
    cam = np.stack([zero, sg, cg, one, zero, zero, zero, cg, -sg], -1).reshape(-1, 3, 3)
    out: np.ndarray = rz @ ry @ rx @ cam
    return out


def _check(pose: Pose, ground_elevation_m: float) -> float:
    if not (-90.0 <= pose.latitude <= 90.0 and -180.0 <= pose.longitude <= 180.0):
        raise InvalidArgument(f"drone position ({pose.latitude}, {pose.longitude}) is not a WGS84 position")
    height = pose.altitude_m - ground_elevation_m
    if height <= 0:
        raise InvalidArgument(
            f"the camera at {pose.altitude_m:g} m is not above the ground at {ground_elevation_m:g} m"
        )
    return height


def ground_offsets(
    u: np.ndarray, v: np.ndarray, cam: Intrinsics, rot: np.ndarray, height: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """North and East metres of each ray's ground point from the camera; and which rays hit it."""
    ray = np.stack([(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy, np.ones_like(u)], -1)
    ned = np.einsum("nij,nj->ni", rot, ray)
    down = ned[:, 2] / np.linalg.norm(ned, axis=1)
    hits = down > math.sin(math.radians(MIN_DEPRESSION_DEG))
    t = np.where(hits, height / np.where(hits, ned[:, 2], 1.0), np.nan)
    return t * ned[:, 0], t * ned[:, 1], hits


def locate(
    pixel: tuple[float, float],
    pose: Pose,
    cam: Intrinsics,
    *,
    ground_elevation_m: float = 0.0,
    errors: PoseErrors | None = None,
) -> GroundFix:
    """The ground point under `pixel` (u right, v down, pixels) and its uncertainty radius."""
    errors = errors or PoseErrors()
    u0, v0 = pixel
    if not (0.0 <= u0 <= cam.width and 0.0 <= v0 <= cam.height):
        raise InvalidArgument(f"pixel ({u0:g}, {v0:g}) is outside the {cam.width}x{cam.height} image")
    height = _check(pose, ground_elevation_m)
    rng = np.random.default_rng(0)
    n = SAMPLES + 1  # sample 0 is the nominal ray: no error drawn
    noise = rng.standard_normal((n, 9))
    noise[0] = 0.0
    rad = math.radians
    rot = camera_rotations(
        rad(pose.yaw_deg) + noise[:, 0] * rad(errors.yaw_deg),
        rad(pose.pitch_deg) + noise[:, 1] * rad(errors.tilt_deg),
        rad(pose.roll_deg) + noise[:, 2] * rad(errors.tilt_deg),
        rad(pose.gimbal_pitch_deg) + noise[:, 3] * rad(errors.gimbal_deg),
    )
    north, east, hits = ground_offsets(
        u0 + noise[:, 4] * errors.pixel,
        v0 + noise[:, 5] * errors.pixel,
        cam,
        rot,
        np.maximum(height + noise[:, 6] * errors.vertical_m, 0.0),
    )
    if not hits[0]:
        raise InvalidArgument(
            f"pixel ({u0:g}, {v0:g}) looks at or above the horizon (less than {MIN_DEPRESSION_DEG:g} deg "
            "below it): it has no place on the ground"
        )
    # A position error moves the drone, and the whole ray with it.
    dn = north[1:] + noise[1:, 7] * errors.horizontal_m - north[0]
    de = east[1:] + noise[1:, 8] * errors.horizontal_m - east[0]
    spread = np.where(hits[1:], np.hypot(dn, de), np.inf)
    radius = float(np.quantile(spread, UNCERTAINTY_QUANTILE, method="higher"))
    distance = math.hypot(north[0], east[0])
    lon, lat, _ = _GEOD.fwd(
        pose.longitude, pose.latitude, math.degrees(math.atan2(east[0], north[0])), distance
    )
    return GroundFix(latitude=float(lat), longitude=float(lon), uncertainty_m=radius, range_m=distance)


def project(
    latitude: float, longitude: float, pose: Pose, cam: Intrinsics, *, ground_elevation_m: float = 0.0
) -> tuple[float, float]:
    """The pixel (u, v) where a ground point appears: the inverse of `locate`'s nominal point."""
    height = _check(pose, ground_elevation_m)
    az, _, distance = _GEOD.inv(pose.longitude, pose.latitude, longitude, latitude)
    ned = np.array([distance * math.cos(math.radians(az)), distance * math.sin(math.radians(az)), height])
    rad = math.radians
    rot = camera_rotations(
        np.array([rad(pose.yaw_deg)]),
        np.array([rad(pose.pitch_deg)]),
        np.array([rad(pose.roll_deg)]),
        np.array([rad(pose.gimbal_pitch_deg)]),
    )[0]
    x, y, z = rot.T @ ned
    if z <= 0:
        raise InvalidArgument(f"ground point ({latitude}, {longitude}) is behind the camera")
    return (cam.fx * x / z + cam.cx, cam.fy * y / z + cam.cy)
