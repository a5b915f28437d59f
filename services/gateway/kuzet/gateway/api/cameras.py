"""Cameras, their zones/rules and health (ingest service)."""

# FastAPI declares parameters with Depends()/Query() defaults; they are evaluated per request.
# ruff: noqa: B008

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response

from kuzet.common.v1 import common_pb2
from kuzet.gateway.auth import Principal
from kuzet.gateway.context import gateway_of
from kuzet.gateway.deps import page_params, require
from kuzet.gateway.errors import error_responses
from kuzet.gateway.protojson import SCHEMAS, from_json, json_response, to_json
from kuzet.gateway.roles import Permission
from kuzet.ingest.v1 import ingest_pb2 as pb

router = APIRouter(prefix="/api/v1", tags=["cameras"], responses=error_responses(400, 401, 403, 429, 503))


def _id() -> Any:
    # A fresh Path() per route: FastAPI binds a parameter object to the first route using it.
    return Path(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")


CAMERA_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": SCHEMAS.ref(pb.Camera.DESCRIPTOR)}},
    }
}


@router.get(
    "/cameras", summary="Cameras of the agency", responses=json_response(pb.ListCamerasResponse.DESCRIPTOR)
)
async def list_cameras(
    request: Request,
    principal: Principal = Depends(require(Permission.CAMERAS_READ)),
    page: common_pb2.PageRequest = Depends(page_params),
    site_id: str = Query("", max_length=128),
) -> dict[str, Any]:
    gw = gateway_of(request)
    return to_json(
        await gw.call(
            principal, gw.backends.ingest.ListCameras, pb.ListCamerasRequest(page=page, site_id=site_id)
        )
    )


@router.get(
    "/cameras/health",
    summary="Live health of the agency's cameras",
    responses=json_response(pb.ListCameraHealthResponse.DESCRIPTOR),
)
async def list_health(
    request: Request, principal: Principal = Depends(require(Permission.CAMERAS_READ))
) -> dict[str, Any]:
    gw = gateway_of(request)
    return to_json(
        await gw.call(principal, gw.backends.ingest.ListCameraHealth, pb.ListCameraHealthRequest())
    )


@router.get(
    "/cameras/{camera_id}",
    summary="One camera with its zones, lines and rules",
    responses={**json_response(pb.GetCameraResponse.DESCRIPTOR), **error_responses(404)},
)
async def get_camera(
    request: Request, camera_id: str = _id(), principal: Principal = Depends(require(Permission.CAMERAS_READ))
) -> dict[str, Any]:
    gw = gateway_of(request)
    return to_json(
        await gw.call(principal, gw.backends.ingest.GetCamera, pb.GetCameraRequest(camera_id=camera_id))
    )


@router.get(
    "/cameras/{camera_id}/health",
    summary="Live health of one camera",
    responses={**json_response(pb.GetCameraHealthResponse.DESCRIPTOR), **error_responses(404)},
)
async def get_health(
    request: Request, camera_id: str = _id(), principal: Principal = Depends(require(Permission.CAMERAS_READ))
) -> dict[str, Any]:
    gw = gateway_of(request)
    return to_json(
        await gw.call(
            principal, gw.backends.ingest.GetCameraHealth, pb.GetCameraHealthRequest(camera_id=camera_id)
        )
    )


@router.get(
    "/cameras/{camera_id}/snapshot",
    summary="The camera's latest frame (JPEG); audited",
    responses={200: {"content": {"image/jpeg": {}}, "description": "JPEG"}, **error_responses(404)},
)
async def snapshot(
    request: Request,
    camera_id: str = _id(),
    max_side: int = Query(640, ge=0, le=4096),
    principal: Principal = Depends(require(Permission.EVIDENCE_VIEW)),
) -> Response:
    gw = gateway_of(request)
    resp = await gw.call(
        principal,
        gw.backends.ingest.GetSnapshot,
        pb.GetSnapshotRequest(camera_id=camera_id, max_side=max_side),
    )
    await gw.record(principal, "camera.snapshot.view", camera_id)
    return Response(resp.jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post(
    "/cameras",
    summary="Register a camera (zones, lines, rules in the body)",
    openapi_extra=CAMERA_BODY,
    responses={**json_response(pb.CreateCameraResponse.DESCRIPTOR), **error_responses(409)},
)
async def create_camera(
    request: Request,
    body: dict[str, Any] = Body(...),
    principal: Principal = Depends(require(Permission.CAMERAS_ADMIN)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    camera = from_json(body, pb.Camera, "camera")
    return to_json(
        await gw.call(principal, gw.backends.ingest.CreateCamera, pb.CreateCameraRequest(camera=camera))
    )


@router.put(
    "/cameras/{camera_id}",
    summary="Replace a camera's mutable fields (zones, rules...)",
    openapi_extra=CAMERA_BODY,
    responses={**json_response(pb.UpdateCameraResponse.DESCRIPTOR), **error_responses(404)},
)
async def update_camera(
    request: Request,
    camera_id: str = _id(),
    body: dict[str, Any] = Body(...),
    principal: Principal = Depends(require(Permission.CAMERAS_ADMIN)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    camera = from_json(body, pb.Camera, "camera")
    camera.id = camera_id
    return to_json(
        await gw.call(principal, gw.backends.ingest.UpdateCamera, pb.UpdateCameraRequest(camera=camera))
    )


@router.delete(
    "/cameras/{camera_id}",
    summary="Remove a camera and stop its pipeline",
    responses={200: {"description": "Deleted"}, **error_responses(404)},
)
async def delete_camera(
    request: Request,
    camera_id: str = _id(),
    principal: Principal = Depends(require(Permission.CAMERAS_ADMIN)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    await gw.call(principal, gw.backends.ingest.DeleteCamera, pb.DeleteCameraRequest(camera_id=camera_id))
    return {}
