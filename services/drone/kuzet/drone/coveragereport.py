"""The coverage report: what a coverage plan's flights actually saw, from their recorded tracks.

The ground seen along a track is the camera footprint at the survey altitude swept between
consecutive positions (``coverage.seen_by_path``), counted only while the drone is within 10 % of
that altitude (climb, descent and a lower hold are left out, so the figure errs low). Positions
more than ``LINK_GAP_S`` apart are not joined: the link was lost (or the controlling replica
changed) and what was flown meanwhile is unknown, so it shows as a gap. A leg cut short by the
battery reserve or a pilot shows as the gap of the lines it did not fly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import common_pb2
from kuzet.drone.coverage.area import Projection
from kuzet.drone.coverage.coverage import coverage_ratio, seen_by_path
from kuzet.drone.coverage.footprint import Footprint
from kuzet.drone.flighttrack import points_of
from kuzet.drone.store import DroneStore
from kuzet.drone.surveys import area_of
from kuzet.drone.v1 import drone_pb2

log = logging.getLogger(__name__)

LINK_GAP_S = 3.0
ALTITUDE_TOLERANCE = 0.9
MIN_GAP_M2 = 1.0
# Exported outlines are simplified to this (metres): the footprint union has a corner per sample.
SIMPLIFY_M = 0.5
MAX_POLYGONS = 500


def seen_by_track(
    points: np.ndarray, projection: Projection, fp: Footprint, altitude_m: float
) -> BaseGeometry:
    """Ground seen along a track of (time, latitude, longitude, metres above home) rows."""
    if len(points) < 2:
        return shapely.GeometryCollection()
    xy = np.asarray(projection.to_xy([(float(p[1]), float(p[2])) for p in points]))
    at_altitude = points[:, 3] >= ALTITUDE_TOLERANCE * altitude_m
    joined = (np.diff(points[:, 0]) <= LINK_GAP_S) & at_altitude[:-1] & at_altitude[1:]
    pieces: list[BaseGeometry] = []
    start = None
    for i, ok in enumerate(joined):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            pieces.append(seen_by_path([tuple(p) for p in xy[start : i + 1]], fp))
            start = None
    if start is not None:
        pieces.append(seen_by_path([tuple(p) for p in xy[start:]], fp))
    return shapely.union_all(pieces) if pieces else shapely.GeometryCollection()


def _ring(coords: Sequence[tuple[float, float]], projection: Projection) -> list[common_pb2.GeoPoint]:
    # Shapely closes rings; the API's rings are not closed (the last corner joins the first).
    return [
        common_pb2.GeoPoint(latitude=lat, longitude=lon)
        for lat, lon in projection.to_latlon(list(coords)[:-1])
    ]


def _polygons(geom: BaseGeometry, projection: Projection) -> list[drone_pb2.AreaPolygon]:
    """Largest first, counter-clockwise outlines and clockwise holes (GeoJSON's right-hand rule)."""
    parts = [g for g in shapely.get_parts(geom.simplify(SIMPLIFY_M)) if isinstance(g, Polygon)]
    parts = sorted((g for g in parts if g.area >= MIN_GAP_M2), key=lambda g: -g.area)[:MAX_POLYGONS]
    out = []
    for g in parts:
        g = orient(g, 1.0)
        out.append(
            drone_pb2.AreaPolygon(
                outline=_ring(g.exterior.coords, projection),
                holes=[drone_pb2.GeoRing(points=_ring(r.coords, projection)) for r in g.interiors],
                area_m2=g.area,
            )
        )
    return out


def compute_report(
    plan: drone_pb2.CoveragePlan, missions: Sequence[drone_pb2.Mission], tracks: dict[str, bytes]
) -> drone_pb2.CoverageReport:
    area = area_of(plan)
    legs = {leg.plan_id: (d, leg) for d in plan.drones for leg in d.legs}
    report = drone_pb2.CoverageReport(
        coverage_plan_id=plan.coverage_plan_id,
        agency_id=plan.agency_id,
        computed_at=to_timestamp(utcnow()),
        asked_m2=area.asked.area,
        allowed_m2=area.allowed.area,
        legs_planned=len(legs),
        legs_flown=len({m.plan_id for m in missions if m.plan_id in legs}),
    )
    seen_parts = []
    for m in missions:
        if m.plan_id not in legs:
            continue
        d, leg = legs[m.plan_id]
        points = points_of(tracks.get(m.mission_id, b""))
        fp = Footprint(across_m=d.footprint_across_m, along_m=d.footprint_along_m)
        seen = seen_by_track(points, area.projection, fp, plan.altitude_m)
        seen_parts.append(seen)
        flight_s = float(points[-1, 0] - points[0, 0]) if len(points) else 0.0
        report.flight_time_s += flight_s
        report.missions.append(
            drone_pb2.MissionCoverage(
                mission_id=m.mission_id,
                plan_id=m.plan_id,
                drone_id=m.drone_id,
                coverage_leg=leg.coverage_leg,
                state=m.state,
                reason=m.reason,
                flight_time_s=flight_s,
                track_points=len(points),
                seen_m2=seen.intersection(area.asked).area,
            )
        )
    seen_all = shapely.union_all(seen_parts) if seen_parts else shapely.GeometryCollection()
    seen_asked = seen_all.intersection(area.asked)
    gaps = area.allowed.difference(seen_all)
    report.seen_m2 = seen_asked.area
    report.coverage_ratio = coverage_ratio(seen_all, area.asked)
    report.allowed_coverage_ratio = coverage_ratio(seen_all, area.allowed)
    report.seen.extend(_polygons(seen_asked, area.projection))
    report.gaps.extend(_polygons(gaps, area.projection))
    report.gaps_m2 = sum(g.area_m2 for g in report.gaps)
    # No detection reaches the drone service yet (on-board detection is item 2 of issue #23).
    report.detections = 0
    return report


class CoverageReports:
    """Computes and stores reports: on request, and when a mission flying a leg ends."""

    def __init__(self, store: DroneStore, live_track: Callable[[drone_pb2.Mission], bytes | None]) -> None:
        self.store = store
        self.live_track = live_track

    async def compute(self, plan: drone_pb2.CoveragePlan) -> drone_pb2.CoverageReport:
        leg_ids = [leg.plan_id for d in plan.drones for leg in d.legs]
        missions = await self.store.missions_of_plans(leg_ids)
        tracks = await self.store.tracks([m.mission_id for m in missions])
        for m in missions:
            # A flight under way on this replica: its positions up to now, not to its last save.
            live = self.live_track(m)
            if live is not None:
                tracks[m.mission_id] = live
        report = await asyncio.to_thread(compute_report, plan, missions, tracks)
        await self.store.put_coverage_report(report)
        return report

    async def mission_ended(self, mission: drone_pb2.Mission) -> None:
        try:
            leg = await self.store.get_plan(mission.plan_id)
            if leg is None or not leg.coverage_plan_id:
                return
            plan = await self.store.get_coverage_plan(leg.coverage_plan_id)
            if plan is not None:
                await self.compute(plan)
        except Exception:  # the flight is over and stored; a failed report is computed on request
            log.exception(
                "coverage report after mission %s failed",
                mission.mission_id,
                extra={"agency": mission.agency_id},
            )
