"""PlanCoverage: a request turned into a coverage plan whose legs are patrol plans Dispatch flies.

``kuzet.drone.coverage`` does the geometry and refuses what cannot be flown; here the request is
bounded and read, each leg becomes a ``PatrolPlan`` (kind AREA_SWEEP, the waypoints without
home, as PlanPatrol stores them) and the area as asked is kept with the plan so that the coverage
report measures the flights against the same area.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence

import shapely

from kuzet.common.errors import InvalidArgument
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.drone.coverage.area import SurveyArea, survey_area
from kuzet.drone.coverage.coverage import coverage_ratio, seen_by_path
from kuzet.drone.coverage.footprint import MAX_OVERLAP
from kuzet.drone.coverage.split import Leg, Strip, plan_coverage
from kuzet.drone.v1 import drone_pb2

# Bounds on the request's size: each ring is validated and projected, each hole is a GEOS operation.
MAX_RINGS = 100
MAX_CORNERS = 2_000


def _check_size(request: drone_pb2.PlanCoverageRequest) -> None:
    if len(request.holes) > MAX_RINGS or len(request.no_fly) > MAX_RINGS:
        raise InvalidArgument(f"at most {MAX_RINGS} holes and {MAX_RINGS} no-fly areas")
    rings = [("area outline", len(request.outline))]
    rings += [(f"hole {k}", len(r.points)) for k, r in enumerate(request.holes)]
    rings += [(f"no-fly area {k}", len(r.points)) for k, r in enumerate(request.no_fly)]
    for what, n in rings:
        if n > MAX_CORNERS:
            raise InvalidArgument(f"{what} has {n} corners; at most {MAX_CORNERS}")


def extra_no_fly(rings: Sequence[drone_pb2.GeoRing]) -> list[drone_pb2.Zone]:
    """The request's own no-fly areas as zones (planning only: they are not uploaded as fences)."""
    return [
        drone_pb2.Zone(
            zone_id=f"survey-no-fly-{k}",
            name=f"survey no-fly area {k}",
            kind=drone_pb2.ZONE_KIND_NO_FLY,
            polygon=r.points,
        )
        for k, r in enumerate(rings)
    ]


def area_of(plan: drone_pb2.CoveragePlan) -> SurveyArea:
    """The area a stored coverage plan was made for, with the zones then in force."""
    return survey_area(
        plan.outline, [h.points for h in plan.holes], [*plan.zones, *extra_no_fly(plan.no_fly)]
    )


def _leg_plan(
    leg: Leg, strip: Strip, drone: drone_pb2.Drone, altitude_m: float, coverage_plan_id: str
) -> drone_pb2.PatrolPlan:
    return drone_pb2.PatrolPlan(
        plan_id=str(uuid.uuid4()),
        drone_id=drone.drone_id,
        agency_id=drone.agency_id,
        kind=drone_pb2.PATROL_KIND_AREA_SWEEP,
        waypoints=[
            drone_pb2.Waypoint(seq=i, latitude=lat, longitude=lon, relative_altitude_m=altitude_m)
            for i, (lat, lon) in enumerate(leg.waypoints)
        ],
        distance_m=leg.distance_m,
        estimated_duration_s=leg.duration_s,
        estimated_battery_pct=leg.battery_pct,
        # Planned for a full battery: Dispatch checks the battery the drone has when it goes.
        estimated_landing_battery_pct=-1.0,
        altitude_m=altitude_m,
        speed_mps=strip.speed_mps,
        ok=True,
        created_at=to_timestamp(utcnow()),
        sweep_spacing_m=strip.spacing_m,
        coverage_plan_id=coverage_plan_id,
        coverage_leg=leg.index,
    )


def plan_survey(
    request: drone_pb2.PlanCoverageRequest,
    drones: Sequence[drone_pb2.Drone],
    zones: Sequence[drone_pb2.Zone],
    created_by: str,
) -> drone_pb2.CoveragePlan:
    """The checked plan; InvalidArgument naming what is wrong (and which drone and leg) otherwise."""
    _check_size(request)
    if not 0.0 <= request.side_overlap <= MAX_OVERLAP:
        raise InvalidArgument(f"side_overlap {request.side_overlap:g} is outside 0..{MAX_OVERLAP:g}")
    if not math.isfinite(request.altitude_m):
        raise InvalidArgument("altitude_m must be a number of metres above home")
    if not (math.isfinite(request.speed_mps) and request.speed_mps >= 0):
        raise InvalidArgument("speed_mps must not be negative")
    flown = []
    for d in drones:
        copy = drone_pb2.Drone()
        copy.CopyFrom(d)
        if request.side_overlap > 0:
            copy.camera.side_overlap = request.side_overlap
        flown.append(copy)
    area = survey_area(
        request.outline, [h.points for h in request.holes], [*zones, *extra_no_fly(request.no_fly)]
    )
    plan = plan_coverage(area, flown, request.altitude_m, speed_mps=request.speed_mps or None)
    out = drone_pb2.CoveragePlan(
        coverage_plan_id=str(uuid.uuid4()),
        agency_id=drones[0].agency_id,
        name=request.name,
        outline=request.outline,
        holes=request.holes,
        no_fly=request.no_fly,
        altitude_m=plan.altitude_m,
        asked_m2=area.asked.area,
        allowed_m2=area.allowed.area,
        unflyable_m2=plan.unflyable_m2,
        zones=zones,
        created_by=created_by,
        created_at=to_timestamp(utcnow()),
    )
    seen_all = []
    for drone, strip in zip(flown, plan.strips, strict=True):
        legs = [leg for leg in plan.legs if leg.drone_id == drone.drone_id]
        seen = shapely.union_all([seen_by_path(leg.path_m, strip.footprint) for leg in legs])
        seen_all.append(seen)
        out.drones.append(
            drone_pb2.DroneCoverage(
                drone_id=drone.drone_id,
                strip_m2=strip.area_m2,
                spacing_m=strip.spacing_m,
                footprint_across_m=strip.footprint.across_m,
                footprint_along_m=strip.footprint.along_m,
                speed_mps=strip.speed_mps,
                legs=[_leg_plan(leg, strip, drone, plan.altitude_m, out.coverage_plan_id) for leg in legs],
                coverage_ratio=coverage_ratio(seen, area.allowed),
            )
        )
    out.coverage_ratio = coverage_ratio(shapely.union_all(seen_all), area.allowed)
    return out
