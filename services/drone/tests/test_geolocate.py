"""Placing a detection on the ground from the drone's pose and camera model."""

from __future__ import annotations

import math

import pytest
from pyproj import Geod

from kuzet.common.errors import InvalidArgument
from kuzet.drone.geolocate import Intrinsics, Pose, PoseErrors, locate, project

GEOD = Geod(ellps="WGS84")
CAM = Intrinsics.from_fov(70.0, 1920, 1080)
LAT, LON = 50.4142, 72.1734
EXACT = PoseErrors(horizontal_m=0, vertical_m=0, yaw_deg=0, tilt_deg=0, gimbal_deg=0, pixel=0)


def offset(lat: float, lon: float) -> tuple[float, float]:
    """North and East metres from the drone to a point."""
    az, _, d = GEOD.inv(LON, LAT, lon, lat)
    return d * math.cos(math.radians(az)), d * math.sin(math.radians(az))


def test_intrinsics_from_fov_put_the_image_edge_at_half_the_field_of_view() -> None:
    assert CAM.fx == pytest.approx(960 / math.tan(math.radians(35)))
    assert (CAM.fy, CAM.cx, CAM.cy) == (CAM.fx, 960, 540)
    other = Intrinsics.from_fov(70.0, 1920, 1080, vfov_deg=40.0)
    assert other.fy == pytest.approx(540 / math.tan(math.radians(20)))


def test_nadir_centre_is_straight_below_and_the_edge_at_the_footprint() -> None:
    pose = Pose(LAT, LON, 100.0, yaw_deg=0.0)
    centre = locate((960, 540), pose, CAM)
    assert max(map(abs, offset(centre.latitude, centre.longitude))) < 0.01
    # Image right is the drone's right: East when it heads North.
    edge = locate((1920, 540), pose, CAM, errors=EXACT)
    north, east = offset(edge.latitude, edge.longitude)
    assert east == pytest.approx(100 * math.tan(math.radians(35)), abs=0.01)
    assert abs(north) < 0.01
    # Image top is the nose: North.
    top = locate((960, 0), pose, CAM, errors=EXACT)
    assert offset(top.latitude, top.longitude)[0] == pytest.approx(540 / CAM.fy * 100, abs=0.01)


def test_oblique_gimbal_looking_east() -> None:
    pose = Pose(LAT, LON, 100.0, yaw_deg=90.0, gimbal_pitch_deg=-30.0)
    fix = locate((960, 540), pose, CAM, errors=EXACT)
    north, east = offset(fix.latitude, fix.longitude)
    assert east == pytest.approx(100 / math.tan(math.radians(30)), abs=0.01)
    assert abs(north) < 0.01
    assert fix.range_m == pytest.approx(east, abs=0.01)


def test_body_attitude_tilts_the_ray() -> None:
    # Nose up 10 deg with a body-fixed camera pointing down: the belly, and the camera, turn forward.
    fix = locate((960, 540), Pose(LAT, LON, 100.0, yaw_deg=0.0, pitch_deg=10.0), CAM, errors=EXACT)
    north, _ = offset(fix.latitude, fix.longitude)
    assert north == pytest.approx(100 * math.tan(math.radians(10)), abs=0.01)
    # Right wing down 10 deg: the camera looks to the left (West when heading North).
    fix = locate((960, 540), Pose(LAT, LON, 100.0, yaw_deg=0.0, roll_deg=10.0), CAM, errors=EXACT)
    _, east = offset(fix.latitude, fix.longitude)
    assert east == pytest.approx(-100 * math.tan(math.radians(10)), abs=0.01)


@pytest.mark.parametrize(
    "pose",
    [
        Pose(LAT, LON, 100.0, yaw_deg=37.0, pitch_deg=3.0, roll_deg=-4.0),
        Pose(LAT, LON, 120.0, yaw_deg=-150.0, pitch_deg=-2.0, roll_deg=5.0, gimbal_pitch_deg=-40.0),
        Pose(-33.9, 18.4, 650.0, yaw_deg=200.0, gimbal_pitch_deg=-60.0),
    ],
)
def test_round_trip_ground_point_to_pixel_and_back_within_centimetres(pose: Pose) -> None:
    ground = 530.0 if pose.altitude_m > 500 else 0.0
    # Pixel -> ground -> pixel.
    for u, v in [(960, 540), (100, 900), (1800, 120)]:
        first = locate((u, v), pose, CAM, ground_elevation_m=ground, errors=EXACT)
        pu, pv = project(first.latitude, first.longitude, pose, CAM, ground_elevation_m=ground)
        assert (pu, pv) == pytest.approx((u, v), abs=1e-6)
    # And a ground point placed independently: 10 m beyond where the optical axis meets the ground.
    reach = (pose.altitude_m - ground) * math.tan(math.radians(90.0 + pose.gimbal_pitch_deg)) + 10.0
    lon, lat, _ = GEOD.fwd(pose.longitude, pose.latitude, pose.yaw_deg + 3.0, reach)
    pu, pv = project(lat, lon, pose, CAM, ground_elevation_m=ground)
    back = locate((pu, pv), pose, CAM, ground_elevation_m=ground, errors=EXACT)
    _, _, miss = GEOD.inv(lon, lat, back.longitude, back.latitude)
    assert miss < 0.02


def test_ground_elevation_is_in_the_altitude_datum() -> None:
    low = locate((300, 200), Pose(LAT, LON, 100.0, yaw_deg=10.0), CAM, errors=EXACT)
    high = locate(
        (300, 200), Pose(LAT, LON, 1100.0, yaw_deg=10.0), CAM, ground_elevation_m=1000.0, errors=EXACT
    )
    assert (high.latitude, high.longitude) == pytest.approx((low.latitude, low.longitude), abs=1e-9)


def test_rays_at_or_above_the_horizon_are_refused() -> None:
    level = Pose(LAT, LON, 100.0, yaw_deg=0.0, gimbal_pitch_deg=0.0)
    for pixel in [(960, 540), (960, 0)]:
        with pytest.raises(InvalidArgument, match="at or above the horizon"):
            locate(pixel, level, CAM)
    # Below the horizon at the bottom of the same image.
    assert locate((960, 1080), level, CAM).range_m == pytest.approx(100 / (540 / CAM.fy), rel=1e-6)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="not above the ground"):
        locate((960, 540), Pose(LAT, LON, 90.0, yaw_deg=0.0), CAM, ground_elevation_m=100.0)
    with pytest.raises(InvalidArgument, match="outside the 1920x1080 image"):
        locate((2000, 540), Pose(LAT, LON, 90.0, yaw_deg=0.0), CAM)
    with pytest.raises(InvalidArgument, match="behind the camera"):
        lon, lat, _ = GEOD.fwd(LON, LAT, 180.0, 500.0)
        project(lat, lon, Pose(LAT, LON, 100.0, yaw_deg=0.0, gimbal_pitch_deg=0.0), CAM)


def test_uncertainty_grows_with_altitude_and_matches_the_stated_errors() -> None:
    radii = [locate((1500, 800), Pose(LAT, LON, h, yaw_deg=0.0), CAM).uncertainty_m for h in (50, 100, 200)]
    assert radii[0] < radii[1] < radii[2]
    assert locate((1500, 800), Pose(LAT, LON, 100.0, yaw_deg=0.0), CAM, errors=EXACT).uncertainty_m == 0.0
    # Position error alone: the 95 % radius of a 2-D normal is sigma * sqrt(chi2_2(0.95)) = 2.45 sigma.
    gnss = PoseErrors(horizontal_m=2.0, vertical_m=0, yaw_deg=0, tilt_deg=0, gimbal_deg=0, pixel=0)
    r = locate((960, 540), Pose(LAT, LON, 100.0, yaw_deg=0.0), CAM, errors=gnss).uncertainty_m
    assert r == pytest.approx(2.0 * math.sqrt(5.991), rel=0.15)


def test_a_grazing_view_has_an_infinite_radius_when_samples_miss_the_ground() -> None:
    # 1.2 deg below the horizon: a 0.5 deg gimbal error lifts a good share of the rays above it.
    pose = Pose(LAT, LON, 100.0, yaw_deg=0.0, gimbal_pitch_deg=-1.2)
    fix = locate((960, 540), pose, CAM)
    assert fix.range_m == pytest.approx(100 / math.tan(math.radians(1.2)), rel=1e-6)
    assert math.isinf(fix.uncertainty_m)
