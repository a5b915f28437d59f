"""Ground-plane calibration: a homography from source-frame pixels to metres on the road surface.

A person marks four or more points in the picture whose positions on the road are known (lane
marking corners, measured with a tape or read off a survey); the homography maps any other image
point on the road plane to metres. Points off the plane (a roof, a bumper) are not measured by
it: the vehicle's ground contact point is (a box's bottom centre).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from kuzet.common.errors import InvalidArgument
from kuzet.common.geometry import Pt
from kuzet.traffic.v1 import traffic_pb2

MIN_POINTS = 4
# The general-position search tries every four points; 32 points are 35,960 quadruples, and a
# person marks 4 to 12.
MAX_POINTS = 32
# Two points closer than this are one point marked twice.
DUPLICATE_PX = 1.0
DUPLICATE_M = 0.01
# The degeneracy test: a homography needs four points with no three on a line, in the image and on
# the ground. Three points count as on a line when the third lies within this fraction of the
# longest side from it (a triangle's height over its longest side); 2 % of a 20 m lane marking is
# 0.4 m, more than any real marking error, so only a set that cannot fix the plane is refused.
MIN_FLATNESS = 0.02


@dataclass(frozen=True)
class GroundCalibration:
    # "cal-" and 16 hex digits of SHA-256 over the point pairs: the same pairs, the same id, so a
    # citation names the calibration it was measured with
    calibration_id: str
    image_points: tuple[Pt, ...]
    ground_points_m: tuple[Pt, ...]
    # the calibration points mapped through the homography against where they are: what the
    # homography gets wrong where it was measured (it knows nothing better elsewhere)
    rms_error_m: float
    max_error_m: float
    homography: NDArray[np.float64] = field(repr=False, compare=False)
    # the sign of the homogeneous w of the calibration points: a point whose w has the other sign
    # lies beyond the horizon of the road plane
    w_sign: float = field(repr=False, compare=False, default=1.0)

    def to_ground(self, point: Pt) -> Pt:
        x, y = self.to_ground_many([point])[0]
        return (float(x), float(y))

    def to_ground_many(self, points: Sequence[Pt]) -> NDArray[np.float64]:
        """Metres on the road plane, one row per image point; a point at or above the horizon is refused."""
        return _project(self.homography, self.w_sign, _as_array(points, "image point"))

    def metres_per_pixel(self, point: Pt) -> float:
        """How far one pixel of displacement at ``point`` moves on the road, per axis (RMS of the two)."""
        h = self.homography
        x, y = point
        w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
        u = (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / w
        v = (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / w
        jacobian = (
            np.array(
                [
                    [h[0, 0] - u * h[2, 0], h[0, 1] - u * h[2, 1]],
                    [h[1, 0] - v * h[2, 0], h[1, 1] - v * h[2, 1]],
                ]
            )
            / w
        )
        return float(math.sqrt(float(np.sum(jacobian**2)) / 2))


def fit_calibration(image_points: Sequence[Pt], ground_points_m: Sequence[Pt]) -> GroundCalibration:
    """The least-squares homography through every pair, or InvalidArgument for a set that cannot fix one."""
    image = _as_array(image_points, "image point")
    ground = _as_array(ground_points_m, "ground point")
    if len(image) != len(ground):
        raise InvalidArgument(f"calibration has {len(image)} image points but {len(ground)} ground points")
    if len(image) < MIN_POINTS:
        raise InvalidArgument(f"calibration needs at least {MIN_POINTS} point pairs, got {len(image)}")
    if len(image) > MAX_POINTS:
        raise InvalidArgument(f"calibration takes at most {MAX_POINTS} point pairs, got {len(image)}")
    _refuse_duplicates(image, DUPLICATE_PX, "image", "px")
    _refuse_duplicates(ground, DUPLICATE_M, "ground", "m")
    if not _has_general_quadruple(image, ground):
        raise InvalidArgument(
            "calibration points are (nearly) on one line: no four of them have, both in the image and "
            f"on the ground, every triangle at least {MIN_FLATNESS:.0%} as high as its longest side"
        )
    found, _ = cv2.findHomography(image, ground, 0)
    if found is None or not np.all(np.isfinite(found)):
        raise InvalidArgument("calibration points admit no homography")
    homography: NDArray[np.float64] = np.asarray(found, dtype=np.float64)
    w = np.hstack([image, np.ones((len(image), 1))]) @ homography[2]
    if not (np.all(w > 0) or np.all(w < 0)):
        raise InvalidArgument("calibration points lie on both sides of the road plane's horizon")
    w_sign = 1.0 if w[0] > 0 else -1.0
    errors = np.linalg.norm(_project(homography, w_sign, image) - ground, axis=1)
    return GroundCalibration(
        calibration_id=_calibration_id(image, ground),
        image_points=tuple((float(x), float(y)) for x, y in image),
        ground_points_m=tuple((float(x), float(y)) for x, y in ground),
        rms_error_m=float(np.sqrt(np.mean(errors**2))),
        max_error_m=float(errors.max()),
        homography=homography,
        w_sign=w_sign,
    )


def calibration_from_proto(message: traffic_pb2.GroundCalibration) -> GroundCalibration:
    return fit_calibration(
        [(p.x, p.y) for p in message.image_points],
        [(p.x, p.y) for p in message.ground_points_m],
    )


def _as_array(points: Sequence[Pt], what: str) -> NDArray[np.float64]:
    if len(points) == 0:
        return np.zeros((0, 2))
    try:
        pts = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"each {what} must be two numbers (x, y)") from exc
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise InvalidArgument(f"each {what} must be two numbers (x, y)")
    if not np.all(np.isfinite(pts)):
        raise InvalidArgument(f"{what} is not a finite number")
    return pts


def _project(homography: NDArray[np.float64], w_sign: float, pts: NDArray[np.float64]) -> NDArray[np.float64]:
    if len(pts) == 0:
        return np.zeros((0, 2))
    homogeneous = np.hstack([pts, np.ones((len(pts), 1))]) @ homography.T
    w = homogeneous[:, 2] * w_sign
    if np.any(w <= 1e-12):
        bad = pts[int(np.argmin(w))]
        raise InvalidArgument(
            f"image point ({bad[0]:g}, {bad[1]:g}) is at or above the horizon of the calibrated road plane"
        )
    return homogeneous[:, :2] / homogeneous[:, 2:3]


def _refuse_duplicates(points: NDArray[np.float64], tolerance: float, what: str, unit: str) -> None:
    for i, j in itertools.combinations(range(len(points)), 2):
        if np.linalg.norm(points[i] - points[j]) < tolerance:
            raise InvalidArgument(
                f"calibration {what} points {i + 1} and {j + 1} are the same point "
                f"(closer than {tolerance:g} {unit})"
            )


def _has_general_quadruple(image: NDArray[np.float64], ground: NDArray[np.float64]) -> bool:
    quads = np.array(list(itertools.combinations(range(len(image)), 4)), dtype=np.intp)
    return bool(np.any(_not_flat(image, quads) & _not_flat(ground, quads)))


def _not_flat(points: NDArray[np.float64], quads: NDArray[np.intp]) -> NDArray[np.bool_]:
    ok = np.ones(len(quads), dtype=bool)
    for i, j, k in itertools.combinations(range(4), 3):
        a, b, c = points[quads[:, i]], points[quads[:, j]], points[quads[:, k]]
        ab, ac, bc = b - a, c - a, c - b
        twice_area = np.abs(ab[:, 0] * ac[:, 1] - ab[:, 1] * ac[:, 0])
        longest_sq = np.maximum(np.maximum(np.sum(ab**2, 1), np.sum(ac**2, 1)), np.sum(bc**2, 1))
        # height over the longest side = twice the area / longest side; over the longest side again
        ok &= twice_area >= MIN_FLATNESS * longest_sq
    return ok


def _calibration_id(image: NDArray[np.float64], ground: NDArray[np.float64]) -> str:
    canonical = json.dumps({"image": image.round(3).tolist(), "ground_m": ground.round(4).tolist()})
    return "cal-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]
