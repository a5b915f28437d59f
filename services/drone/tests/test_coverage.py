"""Coverage planning of a protected area with several drones: validation, sweep, split, checks, coverage."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import LineString

from kuzet.common.errors import InvalidArgument
from kuzet.common.v1 import common_pb2
from kuzet.drone import geo, planning
from kuzet.drone.coverage.area import SurveyArea, survey_area
from kuzet.drone.coverage.coverage import coverage_ratio, seen_by_path, seen_by_plan
from kuzet.drone.coverage.footprint import Camera, camera_of, footprint, line_spacing, vfov_for_aspect
from kuzet.drone.coverage.split import CLEARANCE_M, plan_coverage
from kuzet.drone.coverage.sweep import SweepFrame
from kuzet.drone.coverage.transit import Transit
from kuzet.drone.v1 import drone_pb2

GEOD = Geod(ellps="WGS84")
FRAME = geo.LocalFrame(50.0, 72.0)  # a steppe reserve; coordinates below in metres East/North of it
OUTLINE = [(0, 0), (3000, -200), (3200, 1200), (2000, 1500), (1800, 2100), (200, 1900), (-100, 900)]
HOLE = [(800, 600), (1100, 600), (1100, 900), (800, 900)]
NO_FLY = [(2000, 500), (2400, 450), (2450, 900), (2050, 950)]
FENCE = [(-600, -700), (3700, -700), (3700, 2600), (-600, 2600)]


def pts(xy: Sequence[tuple[float, float]]) -> list[common_pb2.GeoPoint]:
    return [
        common_pb2.GeoPoint(latitude=lat, longitude=lon)
        for lat, lon in (FRAME.to_latlon(x, y) for x, y in xy)
    ]


def zone(name: str, kind: int, xy: Sequence[tuple[float, float]]) -> drone_pb2.Zone:
    return drone_pb2.Zone(zone_id=name, name=name, kind=kind, polygon=pts(xy))


ZONES = [
    zone("reserve fence", drone_pb2.ZONE_KIND_GEOFENCE, FENCE),
    zone("eagle nest", drone_pb2.ZONE_KIND_NO_FLY, NO_FLY),
]


def drone(
    drone_id: str, x: float, y: float, *, endurance_s: float = 1800.0, max_alt: float = 120.0
) -> drone_pb2.Drone:
    [home] = pts([(x, y)])
    return drone_pb2.Drone(
        drone_id=drone_id,
        home=home,
        limits=drone_pb2.DroneLimits(
            max_altitude_m=max_alt,
            max_range_m=6000,
            min_launch_battery_pct=30,
            return_reserve_pct=20,
            endurance_s=endurance_s,
            cruise_speed_mps=12,
        ),
        camera=drone_pb2.CameraSpec(horizontal_fov_deg=70, side_overlap=0.2),
    )


FLEET = [drone("west", -300, 0), drone("east", 3400, 600), drone("north", 1000, 2300)]


@pytest.fixture(scope="module")
def area() -> SurveyArea:
    return survey_area(pts(OUTLINE), [pts(HOLE)], ZONES)


def geodesic_area(xy: Sequence[tuple[float, float]]) -> float:
    ring = pts(xy)
    area, _ = GEOD.polygon_area_perimeter([p.longitude for p in ring], [p.latitude for p in ring])
    return abs(area)


def test_area_has_its_hole_and_no_fly_zone_subtracted(area: SurveyArea) -> None:
    # Against the area on the ellipsoid itself (the planning frame's sphere is 0.3 % off here).
    asked = geodesic_area(OUTLINE) - geodesic_area(HOLE)
    assert area.asked.area == pytest.approx(asked, rel=1e-5)
    assert area.allowed.area == pytest.approx(asked - geodesic_area(NO_FLY), rel=1e-5)


def test_three_drones_cover_the_reserve_with_every_leg_inside(area: SurveyArea) -> None:
    plan = plan_coverage(area, FLEET, 80.0)
    assert {s.drone_id for s in plan.strips} == {"west", "east", "north"}
    by_drone = {d: [leg for leg in plan.legs if leg.drone_id == d] for d in ("west", "east", "north")}
    assert all(len(legs) >= 2 for legs in by_drone.values())  # more than a battery each: several legs
    assert area.geofence is not None
    for leg in plan.legs:
        line = LineString(leg.path_m)
        assert area.geofence.buffer(-CLEARANCE_M + 0.01).covers(line), (leg.drone_id, leg.index)
        assert line.distance(area.no_fly) >= CLEARANCE_M - 0.01, (leg.drone_id, leg.index)
        assert leg.battery_pct <= 100 - 20
        assert len(leg.waypoints) <= planning.MAX_WAYPOINTS
    # The legs of a drone fly its strip in order: each resumes where the previous one turned back.
    for legs in by_drone.values():
        assert [leg.index for leg in legs] == list(range(1, len(legs) + 1))
    ratio = coverage_ratio(seen_by_plan(plan), area.allowed)
    assert ratio >= 0.98
    # Each strip is one contiguous band and the drones share the area by what a battery covers.
    assert sum(s.area_m2 for s in plan.strips) == pytest.approx(
        area.allowed.area, rel=0.03
    )  # less the clearance band around the no-fly zone
    shares = [s.area_m2 for s in plan.strips]
    assert max(shares) / min(shares) == pytest.approx(1.0, abs=0.01)


def test_a_drone_with_twice_the_endurance_takes_twice_the_share(area: SurveyArea) -> None:
    fleet = [drone("west", -300, 0), drone("east", 3400, 600, endurance_s=3600)]
    plan = plan_coverage(area, fleet, 80.0)
    share = {s.drone_id: s.area_m2 for s in plan.strips}
    assert share["east"] / share["west"] == pytest.approx(2.0, rel=0.01)


def test_area_outside_the_geofence_is_left_out_and_reported() -> None:
    # The fence stops at x = 2500: the east of the reserve may not be flown.
    fence = [(-600, -700), (2500, -700), (2500, 2600), (-600, 2600)]
    zones = [zone("west fence", drone_pb2.ZONE_KIND_GEOFENCE, fence)]
    area = survey_area(pts(OUTLINE), [pts(HOLE)], zones)
    plan = plan_coverage(area, [drone("west", -300, 0), drone("north", 1000, 2300)], 80.0)
    assert area.geofence is not None
    assert all(area.geofence.covers(LineString(leg.path_m)) for leg in plan.legs)
    outside = area.allowed.difference(area.geofence).area
    assert outside < plan.unflyable_m2 < outside * 1.1  # and the clearance band along the fence
    assert coverage_ratio(seen_by_plan(plan), area.allowed.intersection(area.geofence)) >= 0.98


def test_line_spacing_follows_altitude_fov_and_overlap() -> None:
    cam = Camera(hfov_deg=70.0, vfov_deg=vfov_for_aspect(70.0), side_overlap=0.2)
    assert line_spacing(cam, 100.0) == pytest.approx(2 * 100 * math.tan(math.radians(35)) * 0.8)
    assert line_spacing(cam, 200.0) == pytest.approx(2 * line_spacing(cam, 100.0))
    wide = Camera(hfov_deg=90.0, vfov_deg=70.0, side_overlap=0.2)
    assert line_spacing(wide, 100.0) == pytest.approx(2 * 100 * 0.8)
    half = Camera(hfov_deg=70.0, vfov_deg=50.0, side_overlap=0.5)
    none = Camera(hfov_deg=70.0, vfov_deg=50.0, side_overlap=0.0)
    assert line_spacing(half, 100.0) == pytest.approx(line_spacing(none, 100.0) / 2)
    fp = footprint(cam, 100.0)
    assert fp.across_m / fp.along_m == pytest.approx(4 / 3)
    # The same rule as single-drone patrol planning.
    assert line_spacing(camera_of(FLEET[0]), 80.0) == pytest.approx(planning.sweep_spacing(FLEET[0], 80.0))
    with pytest.raises(InvalidArgument, match=r"side overlap 0\.95 is outside"):
        Camera(hfov_deg=70.0, vfov_deg=50.0, side_overlap=0.95)


def test_sweep_lines_are_evenly_spaced_within_the_spacing() -> None:
    frame = SweepFrame(shapely.box(0, 0, 2000, 1000), 0.0)
    lines = frame.lines(0.0, 1000.0, 90.0)
    ys = [line[0][0][1] for line in lines]
    assert len(ys) == 12
    assert ys[0] == pytest.approx(1000 / 24) and ys[-1] == pytest.approx(1000 - 1000 / 24)
    assert all(b - a == pytest.approx(1000 / 12) for a, b in itertools.pairwise(ys))
    assert all(line == [((0.0, y), (2000.0, y))] for line, y in zip(lines, ys, strict=True))


def test_a_join_across_a_no_fly_zone_goes_around_it() -> None:
    blocked = shapely.box(400, -100, 600, 100)
    room = shapely.box(-1000, -1000, 2000, 1000).difference(blocked.buffer(10))
    path = Transit(room, blocked, None, 10.0).path((0.0, 0.0), (1000.0, 0.0), "test")
    assert path  # not straight
    flown = LineString([(0, 0), *path, (1000, 0)])
    assert flown.distance(blocked) >= 10 - 0.01
    assert flown.length < 1000 + 2 * 130  # over the near corners, not a long way round


def test_a_join_between_the_arms_of_a_u_shaped_geofence_stays_inside() -> None:
    fence = shapely.box(0, 0, 1000, 1000).difference(shapely.box(300, 300, 700, 1000))
    room = fence.buffer(-10)
    path = Transit(room, shapely.Polygon(), fence, 10.0).path((150.0, 900.0), (850.0, 900.0), "test")
    flown = LineString([(150, 900), *path, (850, 900)])
    assert fence.buffer(-10 + 0.01).covers(flown)
    assert flown.length < 2 * 900 + 700  # down one arm, across, up the other


def test_seen_area_of_a_straight_pass_is_the_swept_footprint() -> None:
    cam = Camera(hfov_deg=70.0, vfov_deg=vfov_for_aspect(70.0), side_overlap=0.2)
    fp = footprint(cam, 100.0)
    seen = seen_by_path([(0.0, 0.0), (1000.0, 0.0)], fp)
    assert seen.area == pytest.approx(fp.across_m * (1000 + fp.along_m))
    assert coverage_ratio(seen, shapely.box(0, -10, 1000, 10)) == pytest.approx(1.0)


def test_self_intersecting_outline_is_refused_naming_where() -> None:
    with pytest.raises(InvalidArgument, match=r"area outline crosses itself near \(50\.00"):
        survey_area(pts([(0, 0), (1000, 1000), (1000, 0), (0, 1000)]))


def test_hole_outside_the_outline_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="area outline has a hole outside its outline"):
        survey_area(pts(OUTLINE), [pts([(5000, 0), (5100, 0), (5100, 100)])])


def test_too_few_corners_and_bad_positions_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="at least 3 corners"):
        survey_area(pts([(0, 0), (100, 0)]))
    with pytest.raises(InvalidArgument, match=r"hole 0 corner 1 .* is not a WGS84 position"):
        survey_area(pts(OUTLINE), [[*pts([(0, 0)]), common_pb2.GeoPoint(latitude=95, longitude=72)]])


def test_altitude_above_the_legal_limit_is_refused(area: SurveyArea) -> None:
    with pytest.raises(InvalidArgument, match="altitude 150 m is above the legal limit of 120 m"):
        plan_coverage(area, FLEET, 150.0)


def test_altitude_above_a_drones_own_limit_is_refused_naming_drone_and_leg(area: SurveyArea) -> None:
    fleet = [drone("west", -300, 0), drone("low", 3400, 600, max_alt=60)]
    with pytest.raises(
        InvalidArgument, match=r"drone 'low' leg 1 of \d+: altitude 80 m is above the drone's limit 60 m"
    ):
        plan_coverage(area, fleet, 80.0)


def test_a_sweep_that_cannot_return_on_its_battery_is_refused() -> None:
    far_area = survey_area(pts(OUTLINE))
    far = drone("far", -4000, -4000, endurance_s=600)
    with pytest.raises(InvalidArgument, match=r"drone 'far' leg 1: .* cannot get there and return"):
        plan_coverage(far_area, [far], 80.0)


def test_a_home_in_a_no_fly_zone_is_refused(area: SurveyArea) -> None:
    with pytest.raises(InvalidArgument, match="drone 'nest' home is outside the geofence or within 10 m"):
        plan_coverage(area, [drone("nest", 2200, 700)], 80.0)
