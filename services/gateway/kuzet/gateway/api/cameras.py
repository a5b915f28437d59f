"""Cameras, their zones/rules and health (ingest service)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import Response

from kuzet.gateway.errors import error_responses
from kuzet.gateway.roles import Permission
from kuzet.gateway.routes import DELETED, Audit, Call, ProtoBody, Route, mount, path_id, reply_empty, rpc
from kuzet.ingest.v1 import ingest_pb2 as pb

# Camera ids are DNS-label-like: they name the camera's pipeline and its objects.
CAMERA_ID = {"camera_id": (str, path_id(max_length=63, pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$"))}


def _camera(c: Call) -> pb.Camera:
    camera: pb.Camera = c.body
    if "camera_id" in c.params:
        camera.id = c.camera_id
    return camera


def _jpeg(c: Call, resp: pb.GetSnapshotResponse) -> Response:
    return Response(resp.jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


ROUTES = [
    Route(
        "GET",
        "/cameras",
        Permission.CAMERAS_READ,
        rpc("ingest", "ListCameras"),
        lambda c: pb.ListCamerasRequest(page=c.page, site_id=c.site_id),
        summary="Cameras of the agency",
        paged=True,
        params={"site_id": (str, Query("", max_length=128))},
    ),
    Route(
        "GET",
        "/cameras/health",
        Permission.CAMERAS_READ,
        rpc("ingest", "ListCameraHealth"),
        lambda c: pb.ListCameraHealthRequest(),
        summary="Live health of the agency's cameras",
        name="list_health",
    ),
    Route(
        "GET",
        "/cameras/{camera_id}",
        Permission.CAMERAS_READ,
        rpc("ingest", "GetCamera"),
        lambda c: pb.GetCameraRequest(camera_id=c.camera_id),
        summary="One camera with its zones, lines and rules",
        params=CAMERA_ID,
        errors=(404,),
    ),
    Route(
        "GET",
        "/cameras/{camera_id}/health",
        Permission.CAMERAS_READ,
        rpc("ingest", "GetCameraHealth"),
        lambda c: pb.GetCameraHealthRequest(camera_id=c.camera_id),
        summary="Live health of one camera",
        params=CAMERA_ID,
        errors=(404,),
        name="get_health",
    ),
    Route(
        "GET",
        "/cameras/{camera_id}/snapshot",
        Permission.EVIDENCE_VIEW,
        rpc("ingest", "GetSnapshot"),
        lambda c: pb.GetSnapshotRequest(camera_id=c.camera_id, max_side=c.max_side),
        summary="The camera's latest frame (JPEG); audited",
        params={**CAMERA_ID, "max_side": (int, Query(640, ge=0, le=4096))},
        render=_jpeg,
        ok={200: {"content": {"image/jpeg": {}}, "description": "JPEG"}},
        errors=(404,),
        audit=Audit("camera.snapshot.view", lambda c: str(c.camera_id)),
        returns=Response,
        name="snapshot",
    ),
    Route(
        "POST",
        "/cameras",
        Permission.CAMERAS_ADMIN,
        rpc("ingest", "CreateCamera"),
        lambda c: pb.CreateCameraRequest(camera=_camera(c)),
        summary="Register a camera (zones, lines, rules in the body)",
        body=ProtoBody(pb.Camera, "camera"),
        errors=(409,),
    ),
    Route(
        "PUT",
        "/cameras/{camera_id}",
        Permission.CAMERAS_ADMIN,
        rpc("ingest", "UpdateCamera"),
        lambda c: pb.UpdateCameraRequest(camera=_camera(c)),
        summary="Replace a camera's mutable fields (zones, rules...)",
        params=CAMERA_ID,
        body=ProtoBody(pb.Camera, "camera"),
        errors=(404,),
    ),
    Route(
        "DELETE",
        "/cameras/{camera_id}",
        Permission.CAMERAS_ADMIN,
        rpc("ingest", "DeleteCamera"),
        lambda c: pb.DeleteCameraRequest(camera_id=c.camera_id),
        summary="Remove a camera and stop its pipeline",
        params=CAMERA_ID,
        render=reply_empty,
        ok=DELETED,
        errors=(404,),
    ),
]

router = mount(
    APIRouter(prefix="/api/v1", tags=["cameras"], responses=error_responses(400, 401, 403, 429, 503)), ROUTES
)
