"""Ground-plane calibration against a synthetic camera whose homography is known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from kuzet.common.errors import InvalidArgument
from kuzet.common.roads.calibration import calibration_from_proto, fit_calibration
from kuzet.common.roads.synthetic import CALIBRATION_GROUND, SyntheticCamera
from kuzet.common.v1 import common_pb2
from kuzet.traffic.v1 import traffic_pb2


def test_exact_points_give_the_camera_back(camera: SyntheticCamera) -> None:
    calibration = fit_calibration(camera.image(CALIBRATION_GROUND), CALIBRATION_GROUND)
    # OpenCV's solver stops at a few micrometres
    assert calibration.rms_error_m < 1e-4
    # points that were not marked, across the whole road, land where they are
    probes = [(x, y) for x in (-5.0, -1.0, 0.0, 3.3) for y in (11.0, 25.0, 47.5, 69.0)]
    np.testing.assert_allclose(calibration.to_ground_many(camera.image(probes)), probes, atol=1e-4)
    assert calibration.to_ground(camera.pixel(2.0, 30.0)) == pytest.approx((2.0, 30.0), abs=1e-4)


def test_marking_noise_shows_in_the_reprojection_error(camera: SyntheticCamera) -> None:
    noise = np.random.default_rng(7).normal(0.0, 0.5, size=(len(CALIBRATION_GROUND), 2))
    image = [
        (u + du, v + dv) for (u, v), (du, dv) in zip(camera.image(CALIBRATION_GROUND), noise, strict=True)
    ]
    calibration = fit_calibration(image, CALIBRATION_GROUND)
    assert 0.001 < calibration.rms_error_m <= calibration.max_error_m < 0.3
    # half a pixel at 60 m is tens of centimetres on the road, a few at 10 m
    assert calibration.metres_per_pixel(camera.pixel(0.0, 65.0)) > 5 * calibration.metres_per_pixel(
        camera.pixel(0.0, 12.0)
    )


def test_the_id_names_the_point_pairs(camera: SyntheticCamera) -> None:
    image = camera.image(CALIBRATION_GROUND)
    first = fit_calibration(image, CALIBRATION_GROUND)
    assert first.calibration_id.startswith("cal-") and len(first.calibration_id) == 20
    assert fit_calibration(image, CALIBRATION_GROUND).calibration_id == first.calibration_id
    moved = [(x + 0.5, y) for x, y in CALIBRATION_GROUND]
    assert fit_calibration(image, moved).calibration_id != first.calibration_id


def test_from_the_contract(camera: SyntheticCamera) -> None:
    message = traffic_pb2.GroundCalibration(
        image_points=[common_pb2.Point(x=u, y=v) for u, v in camera.image(CALIBRATION_GROUND)],
        ground_points_m=[common_pb2.Point(x=x, y=y) for x, y in CALIBRATION_GROUND],
    )
    calibration = calibration_from_proto(message)
    # Point is float32: a few hundredths of a pixel of rounding
    assert calibration.rms_error_m < 0.01
    assert calibration.to_ground(camera.pixel(1.0, 50.0)) == pytest.approx((1.0, 50.0), abs=0.01)


def test_a_point_above_the_horizon_is_refused(camera: SyntheticCamera) -> None:
    calibration = fit_calibration(camera.image(CALIBRATION_GROUND), CALIBRATION_GROUND)
    with pytest.raises(InvalidArgument, match="horizon"):
        calibration.to_ground((960.0, camera.horizon_row - 20))


def test_fewer_than_four_pairs_are_refused(camera: SyntheticCamera) -> None:
    with pytest.raises(InvalidArgument, match="at least 4 point pairs, got 3"):
        fit_calibration(camera.image(CALIBRATION_GROUND[:3]), CALIBRATION_GROUND[:3])


def test_unpaired_points_are_refused(camera: SyntheticCamera) -> None:
    with pytest.raises(InvalidArgument, match="6 image points but 5 ground points"):
        fit_calibration(camera.image(CALIBRATION_GROUND), CALIBRATION_GROUND[:5])


def test_a_point_marked_twice_is_refused(camera: SyntheticCamera) -> None:
    ground = [*CALIBRATION_GROUND[:4], (-5.25, 10.005)]
    with pytest.raises(InvalidArgument, match="ground points 1 and 5 are the same point"):
        fit_calibration([*camera.image(ground[:4]), (100.0, 100.0)], ground)
    image = camera.image(CALIBRATION_GROUND[:4])
    with pytest.raises(InvalidArgument, match="image points 2 and 5 are the same point"):
        fit_calibration([*image, (image[1][0] + 0.4, image[1][1])], [*CALIBRATION_GROUND[:4], (0.0, 40.0)])


def test_points_on_one_line_are_refused(camera: SyntheticCamera) -> None:
    ground = [(0.0, 10.0 + 10 * k) for k in range(6)]
    with pytest.raises(InvalidArgument, match="on one line"):
        fit_calibration(camera.image(ground), ground)


def test_points_nearly_on_one_line_are_refused(camera: SyntheticCamera) -> None:
    # a 1 % wobble about a line along the road: under the 2 % a general position needs
    ground = [(0.0, 10.0), (0.3, 40.0), (0.0, 70.0), (-0.3, 25.0), (0.3, 55.0)]
    with pytest.raises(InvalidArgument, match="on one line"):
        fit_calibration(camera.image(ground), ground)


def test_three_on_a_line_out_of_four_is_refused_but_not_out_of_five(camera: SyntheticCamera) -> None:
    three_in_a_row = [(-5.25, 10.0), (0.0, 10.0), (5.25, 10.0), (0.0, 70.0)]
    with pytest.raises(InvalidArgument, match="on one line"):
        fit_calibration(camera.image(three_in_a_row), three_in_a_row)
    five = [*three_in_a_row, (5.25, 70.0)]
    assert fit_calibration(camera.image(five), five).rms_error_m < 1e-4


def test_a_point_that_is_not_two_finite_numbers_is_refused(camera: SyntheticCamera) -> None:
    image = camera.image(CALIBRATION_GROUND[:4])
    with pytest.raises(InvalidArgument, match="not a finite number"):
        fit_calibration([*image[:3], (float("nan"), 1.0)], CALIBRATION_GROUND[:4])
    with pytest.raises(InvalidArgument, match="two numbers"):
        fit_calibration(image, [(1.0, 2.0, 3.0)] * 4)  # type: ignore[list-item]
