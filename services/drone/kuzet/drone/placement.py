"""The camera's pose at a frame's time, from a mission's recorded track (``flighttrack``).

The track holds time, position and height above home, not the attitude, so the pose is a model:
- position and height: linear between the two recorded points around the frame's time (points are
  at most 5 m or 2 s apart, so a straight leg is exact and a corner is cut by under a metre);
  a frame up to ``AHEAD_S`` after the newest point keeps that point, its error grown by the
  distance flown meanwhile; points more than ``LINK_GAP_S`` apart mean the link was lost there and
  nothing is placed;
- the ground: a plane at the home's elevation (height above ground = height above home);
- yaw: the course over the ground. ArduCopter's default WP_YAW_BEHAVIOR points the nose at the
  next waypoint, so on a sweep or transit line nose and course agree; a slow drone takes the
  course over the narrowest span of points around the frame in which it moved ``HOVER_M``, within
  ``HEADING_WINDOW_S``; a drone that hovered longer cannot be placed;
- the camera: a stabilised gimbal at the registered pitch (``CameraSpec.gimbal_pitch_deg``, nadir
  by default), so pitch and roll of the body do not reach it.
The stated 1-sigma errors (``frame_errors``) are then sampled by ``geolocate.locate``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kuzet.common.errors import FailedPrecondition
from kuzet.drone.coveragereport import LINK_GAP_S
from kuzet.drone.geo import LocalFrame
from kuzet.drone.geolocate import Pose, PoseErrors

AHEAD_S = 1.0
HOVER_M = 1.0
HEADING_WINDOW_S = 30.0
MIN_HEIGHT_M = 2.0
# Frame capture time (ingest's clock) against telemetry receive time (this service's clock): NTP
# offset, link latency and the 10 Hz sampling together, 1 sigma.
TIMING_S = 0.2
GNSS_M = 1.5  # per axis, consumer GNSS without RTK
VERTICAL_M = 2.0  # barometric height and a ground that is not quite the home's elevation
YAW_DEG = 5.0  # course taken for the nose: wind gusts, the turn into a line
TILT_DEG = 1.0  # stabilised gimbal residual
GIMBAL_DEG = 1.0
PIXEL = 3.0  # a detector box's bottom edge


@dataclass(frozen=True)
class FramePose:
    pose: Pose
    errors: PoseErrors
    speed_mps: float


def covers(points: np.ndarray, t: float) -> bool:
    return len(points) > 0 and points[0, 0] <= t <= points[-1, 0] + AHEAD_S


def _course(points: np.ndarray, i: int, t: float) -> float:
    """Degrees clockwise from North of the movement around segment i: the narrowest span of
    recorded points around it in which the drone moved ``HOVER_M`` (a slow drone moves less than
    that between two points)."""
    frame = LocalFrame(float(points[i, 1]), float(points[i, 2]))
    last = len(points) - 1
    for r in range(len(points)):
        j, k = max(0, i - r), min(last, i + 1 + r)
        x0, y0 = frame.to_xy(float(points[j, 1]), float(points[j, 2]))
        x1, y1 = frame.to_xy(float(points[k, 1]), float(points[k, 2]))
        if math.hypot(x1 - x0, y1 - y0) >= HOVER_M:
            return math.degrees(math.atan2(x1 - x0, y1 - y0)) % 360.0
        if (j == 0 and k == last) or max(t - points[j, 0], points[k, 0] - t) > HEADING_WINDOW_S:
            break
    raise FailedPrecondition(
        f"the drone hovered within {HOVER_M:g} m for {HEADING_WINDOW_S:g} s around the frame's time: "
        "its heading is not recorded, so the frame cannot be placed"
    )


def pose_at(points: np.ndarray, t: float, gimbal_pitch_deg: float) -> FramePose:
    """The camera's pose at unix time ``t`` from track rows (time, lat, lon, height above home)."""
    if not covers(points, t):
        raise FailedPrecondition("the track does not cover the frame's time")
    times = points[:, 0]
    i = int(np.searchsorted(times, t, side="right")) - 1
    if len(points) == 1:
        raise FailedPrecondition("the track has one position: the drone's heading is unknown")
    late = 0.0
    if i >= len(points) - 1:
        i, late = len(points) - 2, t - times[-1]
        f = 1.0
    else:
        t0, t1 = times[i], times[i + 1]
        if t1 - t0 > LINK_GAP_S:
            raise FailedPrecondition(
                f"no telemetry between {t1 - t0:.1f} s apart positions around the frame's time "
                "(the link was lost): the frame cannot be placed"
            )
        f = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
    a, b = points[i], points[i + 1]
    lat, lon, height = (a[1:] + f * (b[1:] - a[1:])).tolist()
    if height < MIN_HEIGHT_M:
        raise FailedPrecondition(
            f"the drone was {height:.1f} m above home (on the ground) at the frame's time"
        )
    frame = LocalFrame(float(a[1]), float(a[2]))
    x1, y1 = frame.to_xy(float(b[1]), float(b[2]))
    speed = math.hypot(x1, y1) / max(b[0] - a[0], 1e-3)
    errors = PoseErrors(
        horizontal_m=math.hypot(GNSS_M, speed * TIMING_S) + speed * late,
        vertical_m=VERTICAL_M,
        yaw_deg=YAW_DEG,
        tilt_deg=TILT_DEG,
        gimbal_deg=GIMBAL_DEG,
        pixel=PIXEL,
    )
    pose = Pose(
        lat,
        lon,
        height,
        yaw_deg=_course(points, i, t),
        gimbal_pitch_deg=gimbal_pitch_deg,
    )
    return FramePose(pose, errors, speed)
