"""Badges (badge service) and drones (drone service): what the console panels need."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from kuzet.badge.v1 import badge_pb2 as bpb
from kuzet.drone.v1 import drone_pb2 as dpb
from kuzet.gateway.errors import error_responses
from kuzet.gateway.roles import Permission
from kuzet.gateway.routes import DELETED, Audit, Call, ProtoBody, Route, mount, reply_empty, rpc


class DispatchBody(BaseModel):
    plan_id: str
    pilot_confirmed: bool


def _ring(points: Any) -> list[list[float]]:
    # GeoJSON rings are closed, [longitude, latitude]; the service already orients them (RFC 7946).
    coords = [[p.longitude, p.latitude] for p in points]
    return [*coords, coords[0]] if coords else coords


def _features(kind: str, polygons: Any) -> list[dict[str, Any]]:
    return [
        {
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [_ring(p.outline), *(_ring(h.points) for h in p.holes)],
            },
            "properties": {"kind": kind, "area_m2": round(p.area_m2, 1)},
        }
        for p in polygons
    ]


def coverage_geojson(call: Call, resp: dpb.GetCoverageReportResponse) -> JSONResponse:
    """The report as a GeoJSON FeatureCollection: the ground seen and the gaps, with the figures."""
    r = resp.report
    doc = {
        "type": "FeatureCollection",
        "features": _features("seen", r.seen) + _features("gap", r.gaps),
        # A foreign member (RFC 7946 section 6.1): the report's figures beside its geometry.
        "coverage_report": {
            "coverage_plan_id": r.coverage_plan_id,
            "computed_at": r.computed_at.ToJsonString(),
            "asked_m2": r.asked_m2,
            "seen_m2": r.seen_m2,
            "coverage_ratio": r.coverage_ratio,
            "allowed_coverage_ratio": r.allowed_coverage_ratio,
            "gaps_m2": r.gaps_m2,
            "flight_time_s": r.flight_time_s,
            "detections": r.detections,
            "legs_planned": r.legs_planned,
            "legs_flown": r.legs_flown,
        },
    }
    name = f"coverage-{r.coverage_plan_id}.geojson"
    return JSONResponse(
        doc,
        media_type="application/geo+json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


GEOJSON: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "GeoJSON FeatureCollection: polygons of kind seen and gap; figures in coverage_report",
        "content": {"application/geo+json": {"schema": {"type": "object"}}},
    }
}
RECOMPUTE = {"recompute": (bool, Query(False, description="compute again from the flown tracks"))}

BADGES = ("badges",)
DRONES = ("drones",)

ROUTES = [
    Route(
        "GET",
        "/badges",
        Permission.BADGES_READ,
        rpc("badge", "ListBadges"),
        lambda c: bpb.ListBadgesRequest(unit_id=c.unit_id, page=c.page),
        summary="Badges of the agency",
        paged=True,
        params={"unit_id": (str, Query("", max_length=128))},
        tags=BADGES,
    ),
    Route(
        "GET",
        "/badges/states",
        Permission.BADGES_READ,
        rpc("badge", "ListBadgeStates"),
        lambda c: bpb.ListBadgeStatesRequest(unit_id=c.unit_id, connected_only=c.connected_only, page=c.page),
        summary="Live state of the agency's badges",
        paged=True,
        params={"unit_id": (str, Query("", max_length=128)), "connected_only": (bool, Query(False))},
        tags=BADGES,
    ),
    Route(
        "GET",
        "/integrity-reports",
        Permission.INTEGRITY_READ,
        rpc("badge", "ListIntegrityReports"),
        lambda c: bpb.ListIntegrityReportsRequest(officer_id=c.officer_id, page=c.page),
        summary="Integrity (bribery attempt) reports; internal affairs",
        paged=True,
        params={"officer_id": (str, Query("", max_length=128))},
        tags=BADGES,
    ),
    Route(
        "GET",
        "/drones",
        Permission.DRONES_READ,
        rpc("drone", "ListDrones"),
        lambda c: dpb.ListDronesRequest(page=c.page),
        summary="The agency's drone fleet",
        paged=True,
        tags=DRONES,
    ),
    # Live state, planning and dispatch read or move the drone: the replica that controls it answers.
    Route(
        "GET",
        "/drones/{drone_id}/state",
        Permission.DRONES_READ,
        rpc("drone", "GetDroneState"),
        lambda c: dpb.GetDroneStateRequest(drone_id=c.drone_id),
        summary="Live state of one drone",
        errors=(404,),
        at_leader=True,
        tags=DRONES,
        name="drone_state",
    ),
    Route(
        "GET",
        "/drone-zones",
        Permission.DRONES_READ,
        rpc("drone", "ListZones"),
        lambda c: dpb.ListZonesRequest(),
        summary="Geofences and no-fly zones",
        tags=DRONES,
        name="drone_zones",
    ),
    Route(
        "POST",
        "/drones/plans",
        Permission.DRONES_COMMAND,
        rpc("drone", "PlanPatrol"),
        lambda c: c.body,
        summary="Plan a patrol (checked against geofences)",
        body=ProtoBody(dpb.PlanPatrolRequest, "plan"),
        at_leader=True,
        tags=DRONES,
    ),
    Route(
        "POST",
        "/drones/coverage-plans",
        Permission.DRONES_COMMAND,
        rpc("drone", "PlanCoverage"),
        lambda c: c.body,
        summary="Plan the coverage of an area by several drones (one-battery legs, each checked)",
        body=ProtoBody(dpb.PlanCoverageRequest, "coverage plan"),
        errors=(404,),
        tags=DRONES,
    ),
    Route(
        "GET",
        "/drones/coverage-reports/{coverage_plan_id}",
        Permission.DRONES_READ,
        rpc("drone", "GetCoverageReport"),
        lambda c: dpb.GetCoverageReportRequest(coverage_plan_id=c.coverage_plan_id, recompute=c.recompute),
        summary="What a coverage plan's flights saw: coverage, gaps, flight time",
        params=RECOMPUTE,
        errors=(404,),
        tags=DRONES,
    ),
    Route(
        "GET",
        "/drones/coverage-reports/{coverage_plan_id}/geojson",
        Permission.DRONES_READ,
        rpc("drone", "GetCoverageReport"),
        lambda c: dpb.GetCoverageReportRequest(coverage_plan_id=c.coverage_plan_id, recompute=c.recompute),
        summary="Export a coverage report as GeoJSON",
        params=RECOMPUTE,
        render=coverage_geojson,
        ok=GEOJSON,
        errors=(404,),
        audit=Audit("drone.coverage.export", lambda c: str(c.coverage_plan_id)),
        tags=DRONES,
        name="export_coverage_report",
    ),
    Route(
        "POST",
        "/drones/dispatch",
        Permission.DRONES_COMMAND,
        rpc("drone", "Dispatch"),
        lambda c: dpb.DispatchRequest(plan_id=c.body.plan_id, pilot_confirmed=c.body.pilot_confirmed),
        summary="Fly a planned patrol; the pilot must confirm",
        body=DispatchBody,
        errors=(404, 409),
        at_leader=True,
        tags=DRONES,
    ),
    Route(
        "POST",
        "/drones",
        Permission.DRONES_ADMIN,
        rpc("drone", "RegisterDrone"),
        lambda c: c.body,
        summary="Register (or with update=true replace) a drone",
        body=ProtoBody(dpb.RegisterDroneRequest, "drone"),
        errors=(409,),
        tags=DRONES,
    ),
    Route(
        "POST",
        "/drone-zones",
        Permission.DRONES_ADMIN,
        rpc("drone", "CreateZone"),
        lambda c: dpb.CreateZoneRequest(zone=c.body),
        summary="Add a geofence or no-fly zone",
        body=ProtoBody(dpb.Zone, "zone"),
        errors=(409,),
        tags=DRONES,
        name="create_drone_zone",
    ),
    Route(
        "DELETE",
        "/drone-zones/{zone_id}",
        Permission.DRONES_ADMIN,
        rpc("drone", "DeleteZone"),
        lambda c: dpb.DeleteZoneRequest(zone_id=c.zone_id),
        summary="Remove a geofence or no-fly zone",
        render=reply_empty,
        ok=DELETED,
        errors=(404,),
        tags=DRONES,
        name="delete_drone_zone",
    ),
]

router = mount(APIRouter(prefix="/api/v1", responses=error_responses(400, 401, 403, 429, 503)), ROUTES)
