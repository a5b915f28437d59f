"""Speed on the synthetic road: known speeds recovered, the evidence complete, the limit flagged."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from kuzet.common.errors import InvalidArgument
from kuzet.common.roads.calibration import GroundCalibration, fit_calibration
from kuzet.common.roads.speed import (
    SpeedLimit,
    TrackPoint,
    speed_along_track,
    speed_between_lines,
)
from kuzet.common.roads.synthetic import CALIBRATION_GROUND, FPS, T0, SyntheticCamera

ENTRY_Y, EXIT_Y = 20.0, 45.0


def _calibration(camera: SyntheticCamera) -> GroundCalibration:
    # marked with half a pixel of error, as a person clicking on a frame would
    noise = np.random.default_rng(3).normal(0.0, 0.5, size=(len(CALIBRATION_GROUND), 2))
    image = [
        (u + du, v + dv) for (u, v), (du, dv) in zip(camera.image(CALIBRATION_GROUND), noise, strict=True)
    ]
    return fit_calibration(image, CALIBRATION_GROUND)


def _line(camera: SyntheticCamera, y: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """A line across the whole road at ground y, in image pixels."""
    return camera.pixel(-5.25, y), camera.pixel(5.25, y)


def _track(camera: SyntheticCamera, speed_kmh: float, **kwargs: Any) -> list[TrackPoint]:
    return [TrackPoint(at, point) for at, point in camera.drive(speed_kmh=speed_kmh, **kwargs)]


def _near(a: datetime, b: datetime, seconds: float) -> bool:
    return abs(a - b) <= timedelta(seconds=seconds)


@pytest.mark.parametrize("speed_kmh", [30.0, 60.0, 90.0, 130.0, 180.0])
@pytest.mark.parametrize("lane_x", [-3.5, 0.0, 3.5])
def test_speed_between_lines_is_recovered_within_two_percent(
    camera: SyntheticCamera, speed_kmh: float, lane_x: float
) -> None:
    calibration = _calibration(camera)
    track = _track(camera, speed_kmh, lane_x=lane_x, jitter_px=0.5, seed=int(speed_kmh + lane_x))
    evidence = speed_between_lines(track, _line(camera, ENTRY_Y), _line(camera, EXIT_Y), calibration)
    error = abs(evidence.speed_kmh - speed_kmh) / speed_kmh
    assert error < 0.02
    # the stated uncertainty covers the error actually made
    assert abs(evidence.speed_kmh - speed_kmh) < 3 * evidence.uncertainty_kmh
    assert evidence.distance_m == pytest.approx(EXIT_Y - ENTRY_Y, rel=0.02)
    assert evidence.start_position_m == pytest.approx((lane_x, ENTRY_Y), abs=0.5)
    assert evidence.end_position_m == pytest.approx((lane_x, EXIT_Y), abs=0.5)


@pytest.mark.parametrize("speed_kmh", [30.0, 90.0, 180.0])
def test_speed_along_the_track_is_recovered_within_two_percent(
    camera: SyntheticCamera, speed_kmh: float
) -> None:
    calibration = _calibration(camera)
    track = _track(camera, speed_kmh, jitter_px=1.0, seed=11)
    evidence = speed_along_track(track, calibration)
    assert abs(evidence.speed_kmh - speed_kmh) / speed_kmh < 0.02
    assert abs(evidence.speed_kmh - speed_kmh) < 3 * evidence.uncertainty_kmh


def test_a_window_measures_the_last_seconds(camera: SyntheticCamera) -> None:
    calibration = _calibration(camera)
    # 20 m/s for the first 24 m, then 30 m/s
    slow = camera.drive(speed_kmh=72.0, from_y=12.0, to_y=36.0, jitter_px=0.3, seed=2)
    fast = camera.drive(speed_kmh=108.0, from_y=36.0 + 30 / FPS, to_y=68.0, jitter_px=0.3, seed=3)
    shift = slow[-1][0] - fast[0][0] + timedelta(seconds=1 / FPS)
    track = [TrackPoint(at, p) for at, p in slow] + [TrackPoint(at + shift, p) for at, p in fast]
    recent = speed_along_track(track, calibration, window_s=0.8)
    assert recent.duration_s == pytest.approx(0.8, abs=1 / FPS)
    assert abs(recent.speed_kmh - 108.0) / 108.0 < 0.02
    assert speed_along_track(track[: len(slow)], calibration).speed_kmh == pytest.approx(72.0, rel=0.02)
    # over both, the fit is neither
    assert 72.0 * 1.05 < speed_along_track(track, calibration).speed_kmh < 108.0 * 0.95


def test_the_evidence_names_frames_positions_calibration_and_timing(camera: SyntheticCamera) -> None:
    calibration = fit_calibration(camera.image(CALIBRATION_GROUND), CALIBRATION_GROUND)
    track = _track(camera, 108.0)  # 30 m/s: 1.2 m per frame, the lines 25 m apart take 0.833 s
    evidence = speed_between_lines(track, _line(camera, ENTRY_Y), _line(camera, EXIT_Y), calibration)
    assert evidence.method == "between_lines"
    assert evidence.calibration_id == calibration.calibration_id
    assert evidence.calibration_rms_error_m == calibration.rms_error_m
    # entry at y = 20 m: (20 - 12) / 30 s after the first frame, between frames 6 and 7
    assert _near(evidence.start_at, T0 + timedelta(seconds=8 / 30), 0.001)
    assert _near(evidence.end_at, T0 + timedelta(seconds=33 / 30), 0.001)
    assert evidence.duration_s == pytest.approx(25 / 30, abs=0.001)
    assert evidence.distance_m == pytest.approx(25.0, abs=0.01)
    assert evidence.start_position_m == pytest.approx((0.0, ENTRY_Y), abs=0.01)
    frame_times = {p.at for p in track}
    assert evidence.start_frame_at in frame_times and evidence.end_frame_at in frame_times
    assert _near(evidence.start_frame_at, evidence.start_at, 0.5 / FPS)
    assert _near(evidence.end_frame_at, evidence.end_at, 0.5 / FPS)
    assert evidence.speed_kmh == pytest.approx(evidence.distance_m / evidence.duration_s * 3.6)
    assert evidence.speed_kmh == pytest.approx(108.0, rel=1e-4)


def test_the_limit_flags_only_beyond_tolerance_and_doubt(camera: SyntheticCamera) -> None:
    calibration = _calibration(camera)
    limit = SpeedLimit(90.0)
    assert limit.threshold_kmh == pytest.approx(93.0)

    track = _track(camera, 130.0, jitter_px=0.5, seed=5)
    fast = speed_between_lines(track, _line(camera, ENTRY_Y), _line(camera, EXIT_Y), calibration)
    assert limit.flags(fast)
    assert not limit.flags(dataclasses.replace(fast, speed_kmh=92.0, uncertainty_kmh=0.1))  # within tolerance
    assert limit.flags(dataclasses.replace(fast, speed_kmh=96.0, uncertainty_kmh=1.0))
    # over the threshold, but not beyond two standard deviations of doubt
    assert not limit.flags(dataclasses.replace(fast, speed_kmh=96.0, uncertainty_kmh=2.0))
    slow = speed_between_lines(
        _track(camera, 90.0, jitter_px=0.5, seed=6),
        _line(camera, ENTRY_Y),
        _line(camera, EXIT_Y),
        calibration,
    )
    assert not limit.flags(slow)
    assert not SpeedLimit(0.0).flags(fast)  # 0 disables
    assert SpeedLimit(60.0, tolerance_kmh=0.0, tolerance_fraction=0.1).threshold_kmh == pytest.approx(66.0)


def test_a_track_that_misses_a_line_is_refused(camera: SyntheticCamera) -> None:
    calibration = _calibration(camera)
    short = _track(camera, 60.0, to_y=30.0)
    with pytest.raises(InvalidArgument, match="does not cross the exit line"):
        speed_between_lines(short, _line(camera, ENTRY_Y), _line(camera, EXIT_Y), calibration)
    late = _track(camera, 60.0, from_y=25.0)
    with pytest.raises(InvalidArgument, match="does not cross the entry line"):
        speed_between_lines(late, _line(camera, ENTRY_Y), _line(camera, EXIT_Y), calibration)
    # a line across the other half of the road only
    beside = (camera.pixel(1.0, ENTRY_Y), camera.pixel(5.25, ENTRY_Y))
    with pytest.raises(InvalidArgument, match="does not cross the entry line"):
        speed_between_lines(_track(camera, 60.0, lane_x=-3.5), beside, _line(camera, EXIT_Y), calibration)


def test_bad_tracks_and_settings_are_refused(camera: SyntheticCamera) -> None:
    calibration = _calibration(camera)
    track = _track(camera, 60.0)
    with pytest.raises(InvalidArgument, match="strictly increasing time"):
        speed_along_track([track[0], track[2], track[1], track[3]], calibration)
    with pytest.raises(InvalidArgument, match="at least 3 track points, got 2"):
        speed_along_track(track[:2], calibration)
    with pytest.raises(InvalidArgument, match="window"):
        speed_along_track(track, calibration, window_s=0.0)
    with pytest.raises(InvalidArgument, match="pixel_sigma"):
        speed_along_track(track, calibration, pixel_sigma=-1.0)
    with pytest.raises(InvalidArgument, match="horizon"):
        speed_along_track(
            [*track, TrackPoint(track[-1].at + timedelta(seconds=0.04), (960.0, 10.0))], calibration
        )
    with pytest.raises(InvalidArgument, match="speed limit limit_kmh"):
        SpeedLimit(-5.0)
