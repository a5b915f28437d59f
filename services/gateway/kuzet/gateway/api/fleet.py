"""Badges (badge service) and drones (drone service): what the console panels need."""

# FastAPI declares parameters with Depends()/Query() defaults; they are evaluated per request.
# ruff: noqa: B008

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel

from kuzet.badge.v1 import badge_pb2 as bpb
from kuzet.common.v1 import common_pb2
from kuzet.drone.v1 import drone_pb2 as dpb
from kuzet.gateway.auth import Principal
from kuzet.gateway.context import gateway_of
from kuzet.gateway.deps import page_params, require
from kuzet.gateway.errors import error_responses
from kuzet.gateway.protojson import from_json, json_body, json_response, to_json
from kuzet.gateway.roles import Permission

router = APIRouter(prefix="/api/v1", responses=error_responses(400, 401, 403, 429, 503))


def _id() -> Any:
    # A fresh Path() per route: FastAPI binds a parameter object to the first route using it.
    return Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")


@router.get(
    "/badges",
    tags=["badges"],
    summary="Badges of the agency",
    responses=json_response(bpb.ListBadgesResponse.DESCRIPTOR),
)
async def list_badges(
    request: Request,
    principal: Principal = Depends(require(Permission.BADGES_READ)),
    page: common_pb2.PageRequest = Depends(page_params),
    unit_id: str = Query("", max_length=128),
) -> dict[str, Any]:
    gw = gateway_of(request)
    return to_json(
        await gw.call(
            principal, gw.backends.badge.ListBadges, bpb.ListBadgesRequest(unit_id=unit_id, page=page)
        )
    )


@router.get(
    "/badges/states",
    tags=["badges"],
    summary="Live state of the agency's badges",
    responses=json_response(bpb.ListBadgeStatesResponse.DESCRIPTOR),
)
async def list_badge_states(
    request: Request,
    principal: Principal = Depends(require(Permission.BADGES_READ)),
    page: common_pb2.PageRequest = Depends(page_params),
    unit_id: str = Query("", max_length=128),
    connected_only: bool = Query(False),
) -> dict[str, Any]:
    gw = gateway_of(request)
    return to_json(
        await gw.call(
            principal,
            gw.backends.badge.ListBadgeStates,
            bpb.ListBadgeStatesRequest(unit_id=unit_id, connected_only=connected_only, page=page),
        )
    )


@router.get(
    "/integrity-reports",
    tags=["badges"],
    summary="Integrity (bribery attempt) reports; internal affairs",
    responses=json_response(bpb.ListIntegrityReportsResponse.DESCRIPTOR),
)
async def list_integrity_reports(
    request: Request,
    principal: Principal = Depends(require(Permission.INTEGRITY_READ)),
    page: common_pb2.PageRequest = Depends(page_params),
    officer_id: str = Query("", max_length=128),
) -> dict[str, Any]:
    gw = gateway_of(request)
    return to_json(
        await gw.call(
            principal,
            gw.backends.badge.ListIntegrityReports,
            bpb.ListIntegrityReportsRequest(officer_id=officer_id, page=page),
        )
    )


@router.get(
    "/drones",
    tags=["drones"],
    summary="The agency's drone fleet",
    responses=json_response(dpb.ListDronesResponse.DESCRIPTOR),
)
async def list_drones(
    request: Request,
    principal: Principal = Depends(require(Permission.DRONES_READ)),
    page: common_pb2.PageRequest = Depends(page_params),
) -> dict[str, Any]:
    gw = gateway_of(request)
    return to_json(await gw.call(principal, gw.backends.drone.ListDrones, dpb.ListDronesRequest(page=page)))


@router.get(
    "/drones/{drone_id}/state",
    tags=["drones"],
    summary="Live state of one drone",
    responses={**json_response(dpb.GetDroneStateResponse.DESCRIPTOR), **error_responses(404)},
)
async def drone_state(
    request: Request, drone_id: str = _id(), principal: Principal = Depends(require(Permission.DRONES_READ))
) -> dict[str, Any]:
    gw = gateway_of(request)
    return to_json(
        await gw.call(
            principal,
            gw.backends.drone.GetDroneState,
            dpb.GetDroneStateRequest(drone_id=drone_id),
            at_leader=lambda address: gw.backends.drone_at(address).GetDroneState,
        )
    )


@router.get(
    "/drone-zones",
    tags=["drones"],
    summary="Geofences and no-fly zones",
    responses=json_response(dpb.ListZonesResponse.DESCRIPTOR),
)
async def drone_zones(
    request: Request, principal: Principal = Depends(require(Permission.DRONES_READ))
) -> dict[str, Any]:
    gw = gateway_of(request)
    return to_json(await gw.call(principal, gw.backends.drone.ListZones, dpb.ListZonesRequest()))


@router.post(
    "/drones/plans",
    tags=["drones"],
    summary="Plan a patrol (checked against geofences)",
    openapi_extra=json_body(dpb.PlanPatrolRequest.DESCRIPTOR),
    responses=json_response(dpb.PlanPatrolResponse.DESCRIPTOR),
)
async def plan_patrol(
    request: Request,
    body: dict[str, Any] = Body(...),
    principal: Principal = Depends(require(Permission.DRONES_COMMAND)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    req = from_json(body, dpb.PlanPatrolRequest, "plan")
    # Planning reads the drone's live state: the replica that controls it plans.
    return to_json(
        await gw.call(
            principal,
            gw.backends.drone.PlanPatrol,
            req,
            at_leader=lambda a: gw.backends.drone_at(a).PlanPatrol,
        )
    )


class DispatchBody(BaseModel):
    plan_id: str
    pilot_confirmed: bool


@router.post(
    "/drones/dispatch",
    tags=["drones"],
    summary="Fly a planned patrol; the pilot must confirm",
    responses={**json_response(dpb.DispatchResponse.DESCRIPTOR), **error_responses(404, 409)},
)
async def dispatch(
    request: Request, body: DispatchBody, principal: Principal = Depends(require(Permission.DRONES_COMMAND))
) -> dict[str, Any]:
    gw = gateway_of(request)
    return to_json(
        await gw.call(
            principal,
            gw.backends.drone.Dispatch,
            dpb.DispatchRequest(plan_id=body.plan_id, pilot_confirmed=body.pilot_confirmed),
            at_leader=lambda address: gw.backends.drone_at(address).Dispatch,
        )
    )


@router.post(
    "/drones",
    tags=["drones"],
    summary="Register (or with update=true replace) a drone",
    openapi_extra=json_body(dpb.RegisterDroneRequest.DESCRIPTOR),
    responses={**json_response(dpb.RegisterDroneResponse.DESCRIPTOR), **error_responses(409)},
)
async def register_drone(
    request: Request,
    body: dict[str, Any] = Body(...),
    principal: Principal = Depends(require(Permission.DRONES_ADMIN)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    req = from_json(body, dpb.RegisterDroneRequest, "drone")
    return to_json(await gw.call(principal, gw.backends.drone.RegisterDrone, req))


@router.post(
    "/drone-zones",
    tags=["drones"],
    summary="Add a geofence or no-fly zone",
    openapi_extra=json_body(dpb.Zone.DESCRIPTOR),
    responses={**json_response(dpb.CreateZoneResponse.DESCRIPTOR), **error_responses(409)},
)
async def create_drone_zone(
    request: Request,
    body: dict[str, Any] = Body(...),
    principal: Principal = Depends(require(Permission.DRONES_ADMIN)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    zone = from_json(body, dpb.Zone, "zone")
    return to_json(await gw.call(principal, gw.backends.drone.CreateZone, dpb.CreateZoneRequest(zone=zone)))


@router.delete(
    "/drone-zones/{zone_id}",
    tags=["drones"],
    summary="Remove a geofence or no-fly zone",
    responses={200: {"description": "Deleted"}, **error_responses(404)},
)
async def delete_drone_zone(
    request: Request, zone_id: str = _id(), principal: Principal = Depends(require(Permission.DRONES_ADMIN))
) -> dict[str, Any]:
    gw = gateway_of(request)
    await gw.call(principal, gw.backends.drone.DeleteZone, dpb.DeleteZoneRequest(zone_id=zone_id))
    return {}
