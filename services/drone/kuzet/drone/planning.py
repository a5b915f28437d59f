"""Patrol planning and checks: pure functions of the drone, the request and the zones.

Geometry is done in a local East-North plane around the drone's home (see geo.py). Estimates
are deliberately simple and conservative:
- time = climb at 2.5 m/s + legs at the plan speed + 2 s per turn (acceleration) + holds
  + descent at 1.5 m/s (ArduCopter's default WPNAV_SPEED_UP / WPNAV_SPEED_DN);
- battery = time / endurance x 100 x 1.15 (a 15 % margin for wind and ageing packs).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence

from kuzet.common.errors import InvalidArgument
from kuzet.common.geometry import point_in_polygon, polygon_area
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import common_pb2
from kuzet.drone import geo
from kuzet.drone.v1 import drone_pb2

CLIMB_MPS = 2.5
DESCENT_MPS = 1.5
TURN_S = 2.0
BATTERY_MARGIN = 1.15
DEFAULT_HFOV_DEG = 70.0
DEFAULT_OVERLAP = 0.2
MAX_WAYPOINTS = 700  # ArduPilot boards keep a few hundred to ~700 items; refuse more

PK = drone_pb2.PatrolKind
VK = drone_pb2.ViolationKind


def check_point(p: common_pb2.GeoPoint, what: str) -> None:
    if not (-90.0 <= p.latitude <= 90.0 and -180.0 <= p.longitude <= 180.0):
        raise InvalidArgument(f"{what} ({p.latitude}, {p.longitude}) is not a WGS84 position")
    if p.latitude == 0.0 and p.longitude == 0.0:
        raise InvalidArgument(f"{what} is missing (0, 0)")


def check_polygon(points: Sequence[common_pb2.GeoPoint], frame: geo.LocalFrame, what: str) -> list[geo.XY]:
    if len(points) < 3:
        raise InvalidArgument(f"{what} needs at least 3 corners, got {len(points)}")
    for i, p in enumerate(points):
        check_point(p, f"{what} corner {i}")
    xy = [frame.to_xy(p.latitude, p.longitude) for p in points]
    if not geo.is_simple_polygon(xy):
        raise InvalidArgument(f"{what} crosses itself; give the corners in order around the outline")
    if polygon_area(xy) < 1.0:
        raise InvalidArgument(f"{what} has no area (corners on a line or repeated)")
    return xy


def sweep_spacing(drone: drone_pb2.Drone, altitude_m: float) -> float:
    hfov = drone.camera.horizontal_fov_deg or DEFAULT_HFOV_DEG
    overlap = drone.camera.side_overlap if drone.camera.side_overlap > 0 else DEFAULT_OVERLAP
    footprint = 2.0 * altitude_m * math.tan(math.radians(hfov) / 2.0)
    return footprint * (1.0 - overlap)


def _waypoints(
    drone: drone_pb2.Drone, req: drone_pb2.PlanPatrolRequest, frame: geo.LocalFrame, spacing_out: list[float]
) -> list[geo.XY]:
    if req.kind == PK.PATROL_KIND_PERIMETER:
        poly = check_polygon(req.polygon, frame, "perimeter polygon")
        start = min(range(len(poly)), key=lambda i: geo.dist((0.0, 0.0), poly[i]))
        ring = poly[start:] + poly[:start]
        loops = req.loops or 1
        if not 1 <= loops <= 20:
            raise InvalidArgument(f"loops must be 1..20, got {loops}")
        return ring * loops + [ring[0]]
    if req.kind == PK.PATROL_KIND_AREA_SWEEP:
        poly = check_polygon(req.polygon, frame, "sweep area polygon")
        spacing = req.sweep_spacing_m or sweep_spacing(drone, req.altitude_m)
        if spacing < 1.0:
            raise InvalidArgument(f"sweep spacing {spacing:.2f} m is too small (at least 1 m)")
        spacing_out.append(spacing)
        pts = geo.sweep_lines(poly, spacing)
        if not pts:
            raise InvalidArgument(f"sweep spacing {spacing:.1f} m is wider than the area")
        return pts
    if req.kind == PK.PATROL_KIND_ROUTE_TO_POINT:
        check_point(req.target, "target")
        return [frame.to_xy(req.target.latitude, req.target.longitude)]
    raise InvalidArgument("kind must be PERIMETER, AREA_SWEEP or ROUTE_TO_POINT")


def estimate(
    distance_m: float,
    n_waypoints: int,
    altitude_m: float,
    speed_mps: float,
    holds_s: float,
    endurance_s: float,
) -> tuple[float, float]:
    duration = altitude_m / CLIMB_MPS + distance_m / speed_mps + TURN_S * n_waypoints + holds_s
    duration += altitude_m / DESCENT_MPS
    battery = duration / endurance_s * 100.0 * BATTERY_MARGIN
    return duration, battery


def _violation(kind: int, message: str, zone_id: str = "", seq: int = -1) -> drone_pb2.Violation:
    return drone_pb2.Violation(kind=kind, message=message, zone_id=zone_id, waypoint_seq=seq)


def _leg_name(i: int, n: int) -> str:
    a = "home" if i == 0 else f"waypoint {i - 1}"
    b = "home" if i == n else f"waypoint {i}"
    return f"leg {a} -> {b}"


def check_route(
    route: list[geo.XY],
    altitude_m: float,
    drone: drone_pb2.Drone,
    zones: Sequence[drone_pb2.Zone],
    frame: geo.LocalFrame,
) -> list[drone_pb2.Violation]:
    """Violations of a route home -> waypoints -> home against limits and zones."""
    out: list[drone_pb2.Violation] = []
    limits = drone.limits
    if altitude_m > limits.max_altitude_m:
        out.append(
            _violation(
                VK.VIOLATION_KIND_MAX_ALTITUDE,
                f"altitude {altitude_m:.0f} m is above the drone's limit {limits.max_altitude_m:.0f} m",
            )
        )
    for i, p in enumerate(route):
        r = geo.dist((0.0, 0.0), p)
        if r > limits.max_range_m:
            out.append(
                _violation(
                    VK.VIOLATION_KIND_MAX_RANGE,
                    f"waypoint {i} is {r:.0f} m from home, beyond the max range {limits.max_range_m:.0f} m",
                    seq=i,
                )
            )
    legs = [(0.0, 0.0), *route, (0.0, 0.0)]
    fences = [
        (z, [frame.to_xy(p.latitude, p.longitude) for p in z.polygon])
        for z in zones
        if z.kind == drone_pb2.ZONE_KIND_GEOFENCE
    ]
    nofly = [
        (z, [frame.to_xy(p.latitude, p.longitude) for p in z.polygon])
        for z in zones
        if z.kind == drone_pb2.ZONE_KIND_NO_FLY
    ]
    for z, poly in nofly:
        for i in range(len(legs) - 1):
            if geo.segment_crosses_polygon(legs[i], legs[i + 1], poly):
                out.append(
                    _violation(
                        VK.VIOLATION_KIND_NO_FLY_ZONE,
                        f"{_leg_name(i, len(legs) - 1)} crosses no-fly zone '{z.name or z.zone_id}'",
                        z.zone_id,
                        i - 1 if i > 0 else -1,
                    )
                )
                break  # one reason per zone is enough for the pilot
    if fences:
        for i in range(len(legs) - 1):
            if not any(not geo.segment_leaves_polygon(legs[i], legs[i + 1], poly) for _, poly in fences):
                names = ", ".join(f"'{z.name or z.zone_id}'" for z, _ in fences)
                out.append(
                    _violation(
                        VK.VIOLATION_KIND_OUTSIDE_GEOFENCE,
                        f"{_leg_name(i, len(legs) - 1)} leaves the geofence ({names})",
                        seq=i - 1 if i > 0 else -1,
                    )
                )
        for z, _ in fences:
            if z.max_altitude_m and altitude_m > z.max_altitude_m:
                out.append(
                    _violation(
                        VK.VIOLATION_KIND_MAX_ALTITUDE,
                        f"altitude {altitude_m:.0f} m is above geofence '{z.name or z.zone_id}' "
                        f"ceiling {z.max_altitude_m:.0f} m",
                        z.zone_id,
                    )
                )
    return out


def plan_patrol(
    drone: drone_pb2.Drone,
    req: drone_pb2.PlanPatrolRequest,
    zones: Sequence[drone_pb2.Zone],
    battery_pct: float | None,
    not_ready: Sequence[str],
) -> drone_pb2.PatrolPlan:
    """Build the waypoints and run every check; raises InvalidArgument for malformed requests."""
    if req.altitude_m <= 0:
        raise InvalidArgument("altitude_m must be above 0 (metres above home)")
    speed = req.speed_mps or drone.limits.cruise_speed_mps
    if not 0.5 <= speed <= 30.0:
        raise InvalidArgument(f"speed {speed} m/s is outside 0.5..30")
    if req.hold_s < 0:
        raise InvalidArgument("hold_s must not be negative")
    frame = geo.LocalFrame(drone.home.latitude, drone.home.longitude)
    spacing: list[float] = []
    route = _waypoints(drone, req, frame, spacing)
    if len(route) > MAX_WAYPOINTS:
        raise InvalidArgument(f"plan has {len(route)} waypoints; at most {MAX_WAYPOINTS} fit an autopilot")
    hold = req.hold_s if req.kind == PK.PATROL_KIND_ROUTE_TO_POINT else 0.0
    waypoints = []
    for i, (x, y) in enumerate(route):
        lat, lon = frame.to_latlon(x, y)
        waypoints.append(
            drone_pb2.Waypoint(
                seq=i, latitude=lat, longitude=lon, relative_altitude_m=req.altitude_m, hold_s=hold
            )
        )
    distance = geo.path_length([(0.0, 0.0), *route, (0.0, 0.0)])
    duration, battery_use = estimate(
        distance, len(route), req.altitude_m, speed, hold, drone.limits.endurance_s
    )
    violations = check_route(route, req.altitude_m, drone, zones, frame)
    limits = drone.limits
    if battery_use > 100.0 - limits.return_reserve_pct:
        violations.append(
            _violation(
                VK.VIOLATION_KIND_BATTERY,
                f"the patrol needs about {battery_use:.0f}% of a battery; with the "
                f"{limits.return_reserve_pct:.0f}% return reserve even a full battery is not enough",
            )
        )
    landing = -1.0
    if battery_pct is not None and battery_pct >= 0:
        landing = battery_pct - battery_use
        if battery_pct < limits.min_launch_battery_pct:
            violations.append(
                _violation(
                    VK.VIOLATION_KIND_LAUNCH_BATTERY,
                    f"battery {battery_pct:.0f}% is below the launch minimum "
                    f"{limits.min_launch_battery_pct:.0f}%",
                )
            )
        elif landing < limits.return_reserve_pct and battery_use <= 100.0 - limits.return_reserve_pct:
            violations.append(
                _violation(
                    VK.VIOLATION_KIND_BATTERY,
                    f"estimated battery on landing {landing:.0f}% would be below the return "
                    f"reserve {limits.return_reserve_pct:.0f}% (needs {battery_use:.0f}%, "
                    f"has {battery_pct:.0f}%)",
                )
            )
    for reason in not_ready:
        violations.append(_violation(VK.VIOLATION_KIND_DRONE_NOT_READY, reason))
    return drone_pb2.PatrolPlan(
        plan_id=str(uuid.uuid4()),
        drone_id=drone.drone_id,
        agency_id=drone.agency_id,
        kind=req.kind,
        waypoints=waypoints,
        distance_m=distance,
        estimated_duration_s=duration,
        estimated_battery_pct=battery_use,
        estimated_landing_battery_pct=landing,
        altitude_m=req.altitude_m,
        speed_mps=speed,
        ok=not violations,
        violations=violations,
        alert_id=req.alert_id,
        created_at=to_timestamp(utcnow()),
        sweep_spacing_m=spacing[0] if spacing else 0.0,
    )


def zone_breach(
    lat: float, lon: float, rel_alt: float, zones: Sequence[drone_pb2.Zone], frame: geo.LocalFrame
) -> str:
    """Why a position breaches the agency's zones now, '' when it does not."""
    p = frame.to_xy(lat, lon)
    fences = [z for z in zones if z.kind == drone_pb2.ZONE_KIND_GEOFENCE]
    for z in zones:
        if z.kind == drone_pb2.ZONE_KIND_NO_FLY and point_in_polygon(
            p, [frame.to_xy(q.latitude, q.longitude) for q in z.polygon]
        ):
            return f"inside no-fly zone '{z.name or z.zone_id}'"
    if fences:
        inside = [
            z
            for z in fences
            if point_in_polygon(p, [frame.to_xy(q.latitude, q.longitude) for q in z.polygon])
        ]
        if not inside:
            return "outside every geofence"
        if all(z.max_altitude_m and rel_alt > z.max_altitude_m + 2.0 for z in inside):
            return f"above the geofence ceiling ({rel_alt:.0f} m)"
    return ""
