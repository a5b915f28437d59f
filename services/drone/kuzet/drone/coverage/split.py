"""A coverage plan: the area divided across drones, swept, cut into legs, every leg checked.

The area is cut across its longest axis into one contiguous strip per drone, each strip's area in
proportion to what its drone covers on one battery (cruise speed x its line spacing x the flight
time its battery allows above the return reserve): every drone then flies about the same number
of legs. Strips go to drones in the order of their homes along that axis, so each flies to the
strip nearest it, and each strip is swept along its own longest axis (``sweep``).

Every leg is checked with the service's own patrol checks (``planning.check_route``: geofences,
no-fly zones, range and altitude limits; ``planning.estimate``: battery with the return reserve)
in the drone's own planning frame before the plan is returned; any violation refuses the whole plan
with InvalidArgument naming the drone and the leg. Paths keep ``CLEARANCE_M`` from no-fly zones and
geofence edges (GNSS error, the waypoint acceptance radius, and the difference between this
module's projection and the planning frame).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import shapely
from shapely import affinity
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from kuzet.common.errors import InvalidArgument
from kuzet.drone import geo, planning
from kuzet.drone.coverage.area import LatLon, SurveyArea
from kuzet.drone.coverage.footprint import Footprint, camera_of, footprint, line_spacing
from kuzet.drone.coverage.legs import Flight, cut_legs
from kuzet.drone.coverage.sweep import SweepFrame, boustrophedon, sweep_angle
from kuzet.drone.coverage.transit import Transit
from kuzet.drone.v1 import drone_pb2

XY = tuple[float, float]

CLEARANCE_M = 10.0
# The usual legal ceiling for small drones (EU open category, US Part 107: 120 m / 400 ft above ground).
LEGAL_MAX_ALTITUDE_M = 120.0
# Without a geofence, transits may use this much room around the area and the homes.
FREE_MARGIN_M = 2_000.0
MAX_DRONES = 50


@dataclass(frozen=True)
class Leg:
    drone_id: str
    index: int  # from 1 within the drone
    waypoints: tuple[LatLon, ...]  # home left out at both ends, as a patrol's waypoints
    path_m: tuple[XY, ...]  # home, waypoints, home in the area's metres
    distance_m: float
    duration_s: float
    battery_pct: float


@dataclass(frozen=True)
class Strip:
    drone_id: str
    area_m2: float
    spacing_m: float
    footprint: Footprint
    speed_mps: float


@dataclass(frozen=True)
class CoveragePlan:
    altitude_m: float
    strips: tuple[Strip, ...]
    legs: tuple[Leg, ...]
    # Of the allowed area, what no leg may sweep: outside the geofence or in the clearance bands.
    unflyable_m2: float


def _check_altitude(altitude_m: float, legal_max_altitude_m: float) -> None:
    if altitude_m <= 0:
        raise InvalidArgument(f"altitude {altitude_m:g} m must be above 0 (metres above home)")
    if altitude_m > legal_max_altitude_m:
        raise InvalidArgument(
            f"altitude {altitude_m:g} m is above the legal limit of {legal_max_altitude_m:g} m"
        )


def _flyable(area: SurveyArea, homes: list[XY]) -> BaseGeometry:
    if area.geofence is not None:
        room = area.geofence.buffer(-CLEARANCE_M)
    else:
        room = shapely.union_all([area.asked.envelope, *(Point(h) for h in homes)]).envelope
        room = room.buffer(FREE_MARGIN_M, join_style="mitre")
    return room.difference(area.no_fly.buffer(CLEARANCE_M))


def _weights(drones: Sequence[drone_pb2.Drone], spacings: list[float], speeds: list[float]) -> list[float]:
    out = []
    for d, spacing, speed in zip(drones, spacings, speeds, strict=True):
        lim = d.limits
        if lim.endurance_s <= 0:
            raise InvalidArgument(
                f"drone '{d.drone_id}' has no endurance_s; it is needed for the battery estimate"
            )
        if not 0 <= lim.return_reserve_pct < 100:
            raise InvalidArgument(
                f"drone '{d.drone_id}' return reserve {lim.return_reserve_pct:g}% is outside 0..100"
            )
        usable_s = lim.endurance_s * (100.0 - lim.return_reserve_pct) / 100.0 / planning.BATTERY_MARGIN
        out.append(speed * spacing * usable_s)
    return out


def _strips(region: BaseGeometry, weights: list[float], homes: list[XY]) -> list[BaseGeometry]:
    """The region cut across its longest axis into strips with areas in proportion to the weights,
    the i-th for the i-th home."""
    angle = sweep_angle(region)
    rot = affinity.rotate(region, -angle, origin=(0.0, 0.0), use_radians=True)
    minx, miny, maxx, maxy = rot.bounds

    def between(x0: float, x1: float) -> BaseGeometry:
        cut = rot.intersection(shapely.box(x0, miny - 1.0, x1, maxy + 1.0))
        # Only the surface: a cut along an edge can leave slivers of line or points beside it.
        return shapely.union_all([g for g in shapely.get_parts(cut) if g.area > 0])

    c, s = math.cos(angle), math.sin(angle)
    order = sorted(range(len(homes)), key=lambda i: homes[i][0] * c + homes[i][1] * s)
    total, acc = rot.area, 0.0
    edges = [minx - 1.0]
    for i in order[:-1]:
        acc += weights[i] / sum(weights) * total
        lo, hi = edges[-1], maxx + 1.0
        for _ in range(50):
            mid = (lo + hi) / 2
            if between(minx - 1.0, mid).area < acc:
                lo = mid
            else:
                hi = mid
        edges.append((lo + hi) / 2)
    edges.append(maxx + 1.0)
    strips: list[BaseGeometry] = [shapely.Polygon()] * len(homes)
    for k, i in enumerate(order):
        strips[i] = affinity.rotate(
            between(edges[k], edges[k + 1]), angle, origin=(0.0, 0.0), use_radians=True
        )
    return strips


def _speed(drone: drone_pb2.Drone, speed_mps: float | None) -> float:
    speed = speed_mps or drone.limits.cruise_speed_mps
    if not 0.5 <= speed <= 30.0:
        raise InvalidArgument(f"drone '{drone.drone_id}' speed {speed:g} m/s is outside 0.5..30")
    return speed


def _checked_leg(
    area: SurveyArea, drone: drone_pb2.Drone, route_m: list[XY], flight: Flight, index: int, count: int
) -> Leg:
    what = f"drone '{drone.drone_id}' leg {index} of {count}"
    waypoints = area.projection.to_latlon(route_m)
    frame = geo.LocalFrame(drone.home.latitude, drone.home.longitude)
    route = [frame.to_xy(lat, lon) for lat, lon in waypoints]
    if len(route) > planning.MAX_WAYPOINTS:
        raise InvalidArgument(
            f"{what} has {len(route)} waypoints; at most {planning.MAX_WAYPOINTS} fit an autopilot"
        )
    violations = planning.check_route(route, flight.altitude_m, drone, area.zones, frame)
    if violations:
        raise InvalidArgument(f"{what}: " + "; ".join(v.message for v in violations))
    distance = geo.path_length([(0.0, 0.0), *route, (0.0, 0.0)])
    duration, battery = planning.estimate(
        distance, len(route), flight.altitude_m, flight.speed_mps, 0.0, flight.endurance_s
    )
    if battery > 100.0 - flight.reserve_pct:
        raise InvalidArgument(
            f"{what} needs about {battery:.0f}% of a battery; with the {flight.reserve_pct:.0f}% "
            "return reserve it cannot return"
        )
    return Leg(
        drone_id=drone.drone_id,
        index=index,
        waypoints=tuple(waypoints),
        path_m=(flight.home, *route_m, flight.home),
        distance_m=distance,
        duration_s=duration,
        battery_pct=battery,
    )


def plan_coverage(
    area: SurveyArea,
    drones: Sequence[drone_pb2.Drone],
    altitude_m: float,
    *,
    speed_mps: float | None = None,
    legal_max_altitude_m: float = LEGAL_MAX_ALTITUDE_M,
) -> CoveragePlan:
    """Legs for every drone covering the allowed area; InvalidArgument before anything can fly."""
    _check_altitude(altitude_m, legal_max_altitude_m)
    if not 1 <= len(drones) <= MAX_DRONES:
        raise InvalidArgument(f"a coverage plan needs 1..{MAX_DRONES} drones, got {len(drones)}")
    ids = [d.drone_id for d in drones]
    if len(set(ids)) != len(ids):
        raise InvalidArgument("a drone is listed twice in the coverage plan")
    for d in drones:
        planning.check_point(d.home, f"drone '{d.drone_id}' home")
    homes = area.projection.to_xy([(d.home.latitude, d.home.longitude) for d in drones])
    flyable = _flyable(area, homes)
    for d, h in zip(drones, homes, strict=True):
        if not flyable.covers(Point(h)):
            raise InvalidArgument(
                f"drone '{d.drone_id}' home is outside the geofence or within {CLEARANCE_M:.0f} m of a "
                "no-fly zone or the geofence's edge"
            )
    # One metre inside the flyable region, so a sweep line's ends are not on its boundary.
    region = area.allowed.intersection(flyable.buffer(-1.0))
    if region.area < 1.0:
        raise InvalidArgument(
            "no part of the area can be flown: it lies outside the geofence or in no-fly zones"
        )
    cameras = [camera_of(d) for d in drones]
    spacings = [line_spacing(c, altitude_m) for c in cameras]
    speeds = [_speed(d, speed_mps) for d in drones]
    weights = _weights(drones, spacings, speeds)
    transit = Transit(flyable, area.no_fly, area.geofence, CLEARANCE_M)
    strips: list[Strip] = []
    legs: list[Leg] = []
    for i, strip in enumerate(_strips(region, weights, homes)):
        d = drones[i]
        what = f"drone '{d.drone_id}'"
        path: list[XY] = []
        if strip.area > 0:
            frame = SweepFrame(strip, sweep_angle(strip))
            _, y0, _, y1 = frame.region.bounds
            path = boustrophedon(frame, frame.lines(y0, y1, spacings[i]), homes[i], transit, what)
        flight = Flight(homes[i], altitude_m, speeds[i], d.limits.endurance_s, d.limits.return_reserve_pct)
        routes = cut_legs(path, flight, transit, what)
        legs.extend(_checked_leg(area, d, r, flight, k + 1, len(routes)) for k, r in enumerate(routes))
        strips.append(
            Strip(
                drone_id=d.drone_id,
                area_m2=strip.area,
                spacing_m=spacings[i],
                footprint=footprint(cameras[i], altitude_m),
                speed_mps=speeds[i],
            )
        )
    return CoveragePlan(
        altitude_m=altitude_m,
        strips=tuple(strips),
        legs=tuple(legs),
        unflyable_m2=float(area.allowed.area - region.area),
    )
