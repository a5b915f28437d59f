"""Protected areas (drone service): the reserves, no-fishing zones and forest blocks whose rules
turn what a drone's camera sees into alerts.

Every role that reads drones sees them on the map; only admins change them. The drone service
validates the polygon (a self-crossing outline is INVALID_ARGUMENT, a 400 here), keeps each area
in its agency (another agency's area is a 404 here) and audits every change.
"""

from __future__ import annotations

from fastapi import APIRouter

from kuzet.drone.v1 import drone_pb2 as dpb
from kuzet.gateway.errors import error_responses
from kuzet.gateway.roles import Permission
from kuzet.gateway.routes import DELETED, Call, ProtoBody, Route, mount, reply_empty, rpc

AREA = ProtoBody(dpb.ProtectedArea, "protected area")
DRONES = ("drones",)


def _update(c: Call) -> dpb.UpdateProtectedAreaRequest:
    area: dpb.ProtectedArea = c.body
    # The path names the area: a body cannot redirect the change to another one.
    area.area_id = c.area_id
    return dpb.UpdateProtectedAreaRequest(area=area)


ROUTES = [
    Route(
        "GET",
        "/protected-areas",
        Permission.DRONES_READ,
        rpc("drone", "ListProtectedAreas"),
        lambda c: dpb.ListProtectedAreasRequest(),
        summary="The agency's protected areas (reserves, no-fishing zones, forest blocks)",
        tags=DRONES,
    ),
    Route(
        "GET",
        "/protected-areas/{area_id}",
        Permission.DRONES_READ,
        rpc("drone", "GetProtectedArea"),
        lambda c: dpb.GetProtectedAreaRequest(area_id=c.area_id),
        summary="One protected area and its rule settings",
        errors=(404,),
        tags=DRONES,
    ),
    Route(
        "POST",
        "/protected-areas",
        Permission.DRONES_ADMIN,
        rpc("drone", "CreateProtectedArea"),
        lambda c: dpb.CreateProtectedAreaRequest(area=c.body),
        summary="Add a protected area (its outline must not cross itself; audited)",
        body=AREA,
        errors=(409,),
        tags=DRONES,
    ),
    Route(
        "PUT",
        "/protected-areas/{area_id}",
        Permission.DRONES_ADMIN,
        rpc("drone", "UpdateProtectedArea"),
        _update,
        summary="Replace a protected area's outline and rule settings (audited)",
        body=AREA,
        errors=(404,),
        tags=DRONES,
    ),
    Route(
        "DELETE",
        "/protected-areas/{area_id}",
        Permission.DRONES_ADMIN,
        rpc("drone", "DeleteProtectedArea"),
        lambda c: dpb.DeleteProtectedAreaRequest(area_id=c.area_id),
        summary="Remove a protected area (audited)",
        render=reply_empty,
        ok=DELETED,
        errors=(404,),
        tags=DRONES,
    ),
]

router = mount(APIRouter(prefix="/api/v1", responses=error_responses(400, 401, 403, 429, 503)), ROUTES)
