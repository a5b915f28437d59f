"""A vehicle's speed on the calibrated road plane, and the evidence a speeding citation needs.

Two measurements:

- ``speed_between_lines``: the time between crossing two lines across the road (each crossing
  instant interpolated between the frames on either side of the line) and the distance driven
  between the crossing points. This is the enforcement measurement.
- ``speed_along_track``: a least-squares line through the ground positions against time, per axis
  (a vehicle's jitter across the lane does not lengthen the path as summing steps would). This is
  the speed an observation reports.

Uncertainty (one standard deviation) is propagated from three stated sources: the calibration's
RMS reprojection error and the tracker's localisation error in pixels (scaled to metres where the
vehicle is), each counted at both ends of the measurement, and the frames' timestamp jitter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from kuzet.common.errors import InvalidArgument
from kuzet.common.geometry import Pt, cross, segments_intersect
from kuzet.common.roads.calibration import GroundCalibration

MS_TO_KMH = 3.6
# Defaults of the error model: a tracked box's bottom centre wanders about a pixel from frame to
# frame; RTP timestamps of a camera's frames are exact to well under a millisecond, the 5 ms allow
# for a clock that stamps on arrival.
PIXEL_SIGMA = 1.0
TIME_SIGMA_S = 0.005
# A flag needs the speed above the threshold by this many standard deviations (about 97.7 % one-sided).
CONFIDENCE_SIGMAS = 2.0

Segment = tuple[Pt, Pt]


@dataclass(frozen=True)
class TrackPoint:
    at: datetime
    # the vehicle's ground contact point in source-frame pixels (its box's bottom centre)
    point: Pt


@dataclass(frozen=True)
class SpeedEvidence:
    """What a citation shows: where and when the measurement started and ended, and with what."""

    method: str  # "between_lines" or "along_track"
    calibration_id: str
    calibration_rms_error_m: float
    # the instants the measurement spans (between lines: the interpolated crossings)
    start_at: datetime
    end_at: datetime
    # the two frames a citation shows: the recorded frames nearest to start_at and end_at
    start_frame_at: datetime
    end_frame_at: datetime
    start_position_m: Pt
    end_position_m: Pt
    distance_m: float
    duration_s: float
    speed_kmh: float
    uncertainty_kmh: float

    @property
    def lower_bound_kmh(self) -> float:
        return self.speed_kmh - CONFIDENCE_SIGMAS * self.uncertainty_kmh


@dataclass(frozen=True)
class SpeedLimit:
    """A camera's limit and the margin above it before an observation is flagged.

    The threshold is the limit plus the larger of ``tolerance_kmh`` and ``tolerance_fraction`` of
    the limit; an observation is flagged only when even its lower bound (the speed less
    CONFIDENCE_SIGMAS standard deviations) is above the threshold.
    """

    limit_kmh: float
    tolerance_kmh: float = 3.0
    tolerance_fraction: float = 0.03

    def __post_init__(self) -> None:
        for name in ("limit_kmh", "tolerance_kmh", "tolerance_fraction"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise InvalidArgument(f"speed limit {name} must be a non-negative number, got {value}")

    @property
    def threshold_kmh(self) -> float:
        return self.limit_kmh + max(self.tolerance_kmh, self.tolerance_fraction * self.limit_kmh)

    def flags(self, evidence: SpeedEvidence) -> bool:
        """True when the measurement is over the limit beyond doubt; a limit of 0 flags nothing."""
        return self.limit_kmh > 0 and evidence.lower_bound_kmh > self.threshold_kmh


def speed_between_lines(
    track: Sequence[TrackPoint],
    entry: Segment,
    exit_: Segment,
    calibration: GroundCalibration,
    *,
    pixel_sigma: float = PIXEL_SIGMA,
    time_sigma_s: float = TIME_SIGMA_S,
) -> SpeedEvidence:
    """The speed between the track's first crossing of ``entry`` and its next crossing of ``exit_``.

    The lines are image segments (counting lines); the crossings are found on the road plane, where
    a vehicle's motion between two frames is a straight step at a steady speed.
    """
    _check_sigmas(pixel_sigma, time_sigma_s)
    times, ground = _ground_track(track, calibration, minimum=2)
    entry_g = _ground_segment(entry, calibration)
    exit_g = _ground_segment(exit_, calibration)
    first = _first_crossing(ground, entry_g, after=0)
    if first is None:
        raise InvalidArgument("the track does not cross the entry line")
    second = _first_crossing(ground, exit_g, after=first[0] + 1)
    if second is None:
        raise InvalidArgument("the track does not cross the exit line after the entry line")
    (i, fi), (j, fj) = first, second
    start_pos = ground[i] + fi * (ground[i + 1] - ground[i])
    end_pos = ground[j] + fj * (ground[j + 1] - ground[j])
    start_s = times[i] + fi * (times[i + 1] - times[i])
    end_s = times[j] + fj * (times[j + 1] - times[j])
    duration = end_s - start_s
    # the path between the crossings: the rest of step i, the whole steps between, the start of step j
    path = np.vstack([start_pos, ground[i + 1 : j + 1], end_pos])
    distance = float(np.sum(np.linalg.norm(np.diff(path, axis=0), axis=1)))
    if duration <= 0:
        raise InvalidArgument("the track crosses the entry and exit lines at the same instant")
    speed_ms = distance / duration
    start_px = _image_point_at(track, i, fi)
    end_px = _image_point_at(track, j, fj)
    sigma_d = math.hypot(
        _position_sigma(calibration, start_px, pixel_sigma), _position_sigma(calibration, end_px, pixel_sigma)
    )
    sigma_ms = speed_ms * math.hypot(sigma_d / distance, math.sqrt(2) * time_sigma_s / duration)
    t0 = track[0].at
    return SpeedEvidence(
        method="between_lines",
        calibration_id=calibration.calibration_id,
        calibration_rms_error_m=calibration.rms_error_m,
        start_at=t0 + timedelta(seconds=start_s),
        end_at=t0 + timedelta(seconds=end_s),
        start_frame_at=track[i if fi < 0.5 else i + 1].at,
        end_frame_at=track[j if fj < 0.5 else j + 1].at,
        start_position_m=(float(start_pos[0]), float(start_pos[1])),
        end_position_m=(float(end_pos[0]), float(end_pos[1])),
        distance_m=distance,
        duration_s=duration,
        speed_kmh=speed_ms * MS_TO_KMH,
        uncertainty_kmh=sigma_ms * MS_TO_KMH,
    )


def speed_along_track(
    track: Sequence[TrackPoint],
    calibration: GroundCalibration,
    *,
    window_s: float | None = None,
    pixel_sigma: float = PIXEL_SIGMA,
    time_sigma_s: float = TIME_SIGMA_S,
) -> SpeedEvidence:
    """The track's speed over its last ``window_s`` seconds (all of it when None), fitted per axis.

    Assumes straight, steady motion over the window: keep the window short on a bend.
    """
    _check_sigmas(pixel_sigma, time_sigma_s)
    if window_s is not None and not (math.isfinite(window_s) and window_s > 0):
        raise InvalidArgument(f"speed window must be a positive number of seconds, got {window_s}")
    if window_s is not None and track:
        last = track[-1].at
        track = [p for p in track if (last - p.at).total_seconds() <= window_s]
    times, ground = _ground_track(track, calibration, minimum=3)
    t = times - times.mean()
    spread = float(np.sum(t**2))
    design = np.column_stack([np.ones_like(t), t])
    coeffs, *_ = np.linalg.lstsq(design, ground, rcond=None)
    centre, velocity = coeffs[0], coeffs[1]
    residuals = ground - design @ coeffs
    # per-axis slope variance from the scatter about the fitted line (n - 2 degrees of freedom)
    slope_var = np.sum(residuals**2, axis=0) / (len(t) - 2) / spread
    speed_ms = float(np.linalg.norm(velocity))
    duration = float(times[-1] - times[0])
    fit_var = (
        float(np.sum(velocity**2 * slope_var)) / speed_ms**2 if speed_ms > 0 else float(np.sum(slope_var))
    )
    # the calibration's error and the localisation at both ends do not average out along the window
    end_sigma = math.hypot(
        _position_sigma(calibration, track[0].point, pixel_sigma),
        _position_sigma(calibration, track[-1].point, pixel_sigma),
    )
    sigma_ms = math.sqrt(
        fit_var + (end_sigma / duration) ** 2 + (speed_ms * math.sqrt(2) * time_sigma_s / duration) ** 2
    )
    start_pos = centre + velocity * t[0]
    end_pos = centre + velocity * t[-1]
    return SpeedEvidence(
        method="along_track",
        calibration_id=calibration.calibration_id,
        calibration_rms_error_m=calibration.rms_error_m,
        start_at=track[0].at,
        end_at=track[-1].at,
        start_frame_at=track[0].at,
        end_frame_at=track[-1].at,
        start_position_m=(float(start_pos[0]), float(start_pos[1])),
        end_position_m=(float(end_pos[0]), float(end_pos[1])),
        distance_m=speed_ms * duration,
        duration_s=duration,
        speed_kmh=speed_ms * MS_TO_KMH,
        uncertainty_kmh=sigma_ms * MS_TO_KMH,
    )


def _check_sigmas(pixel_sigma: float, time_sigma_s: float) -> None:
    if not (math.isfinite(pixel_sigma) and pixel_sigma >= 0):
        raise InvalidArgument(f"pixel_sigma must be a non-negative number, got {pixel_sigma}")
    if not (math.isfinite(time_sigma_s) and time_sigma_s >= 0):
        raise InvalidArgument(f"time_sigma_s must be a non-negative number, got {time_sigma_s}")


def _ground_track(
    track: Sequence[TrackPoint], calibration: GroundCalibration, *, minimum: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Seconds since the first point, and ground positions; the times must strictly increase."""
    if len(track) < minimum:
        raise InvalidArgument(f"a speed needs at least {minimum} track points, got {len(track)}")
    t0 = track[0].at
    times = np.array([(p.at - t0).total_seconds() for p in track])
    if np.any(np.diff(times) <= 0):
        raise InvalidArgument("track points must be in strictly increasing time order")
    return times, calibration.to_ground_many([p.point for p in track])


def _ground_segment(segment: Segment, calibration: GroundCalibration) -> tuple[Pt, Pt]:
    a, b = calibration.to_ground_many(list(segment))
    return (float(a[0]), float(a[1])), (float(b[0]), float(b[1]))


def _first_crossing(
    ground: NDArray[np.float64], line: tuple[Pt, Pt], *, after: int
) -> tuple[int, float] | None:
    """(step index, fraction along the step) of the first step from ``after`` on that crosses ``line``."""
    a, b = line
    for i in range(after, len(ground) - 1):
        p: Pt = (float(ground[i][0]), float(ground[i][1]))
        q: Pt = (float(ground[i + 1][0]), float(ground[i + 1][1]))
        start_side, end_side = cross(a, b, p), cross(a, b, q)
        if start_side == end_side or not segments_intersect(p, q, a, b):
            continue
        # a step that starts on the line crossed it on the step before; one that ends on it counts here
        if start_side == 0:
            continue
        return i, start_side / (start_side - end_side)
    return None


def _image_point_at(track: Sequence[TrackPoint], i: int, fraction: float) -> Pt:
    (x0, y0), (x1, y1) = track[i].point, track[i + 1].point
    return (x0 + fraction * (x1 - x0), y0 + fraction * (y1 - y0))


def _position_sigma(calibration: GroundCalibration, point: Pt, pixel_sigma: float) -> float:
    return math.hypot(calibration.rms_error_m, pixel_sigma * calibration.metres_per_pixel(point))
