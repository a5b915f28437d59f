"""Badges (badge service) and drones (drone service): what the console panels need."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel

from kuzet.badge.v1 import badge_pb2 as bpb
from kuzet.drone.v1 import drone_pb2 as dpb
from kuzet.gateway.errors import error_responses
from kuzet.gateway.roles import Permission
from kuzet.gateway.routes import DELETED, ProtoBody, Route, mount, reply_empty, rpc


class DispatchBody(BaseModel):
    plan_id: str
    pilot_confirmed: bool


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
