"""Cameras, their zones/rules and health, and the live view (ingest service)."""

# FastAPI declares parameters with Depends()/Query() defaults; they are evaluated per request.
# ruff: noqa: B008

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from kuzet.gateway.auth import Principal
from kuzet.gateway.context import Gateway, gateway_of
from kuzet.gateway.deps import require
from kuzet.gateway.errors import ApiError, error_responses
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


BOUNDARY = "kuzet-frame"


def _part(jpeg: bytes) -> bytes:
    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return head.encode() + jpeg + b"\r\n"


async def _frames(
    gw: Gateway,
    principal: Principal,
    request: Request,
    first: pb.GetSnapshotResponse,
    req: pb.GetSnapshotRequest,
    period_s: float,
    seconds: int,
) -> AsyncIterator[bytes]:
    deadline = asyncio.get_running_loop().time() + seconds
    resp = first
    while True:
        yield _part(resp.jpeg)
        await asyncio.sleep(period_s)
        if asyncio.get_running_loop().time() >= deadline or await request.is_disconnected():
            return
        try:
            resp = await gw.call(principal, gw.backends.stub("ingest").GetSnapshot, req)
        except ApiError:
            return  # the camera stopped or went away: the viewer reopens the stream and sees why


@router.get(
    "/cameras/{camera_id}/live",
    summary="The camera's live view: its latest frames with zones and current tracks drawn, as MJPEG; audited once per stream",
    description=(
        "multipart/x-mixed-replace (boundary kuzet-frame), each part a JPEG with its Content-Length, "
        "at most `fps` frames a second, for at most `seconds` (the viewer reopens it)."
    ),
    responses={
        200: {"content": {"multipart/x-mixed-replace": {}}, "description": "MJPEG"},
        **error_responses(404),
    },
    response_class=StreamingResponse,
    name="live",
)
async def live(
    request: Request,
    camera_id: str = CAMERA_ID["camera_id"][1],
    principal: Principal = Depends(require(Permission.EVIDENCE_VIEW)),
    fps: float = Query(2.0, gt=0, le=5, description="Frames a second"),
    max_side: int = Query(960, ge=160, le=1920),
    seconds: int = Query(300, ge=1, le=1800, description="How long the stream runs"),
) -> StreamingResponse:
    gw = gateway_of(request)
    req = pb.GetSnapshotRequest(camera_id=camera_id, max_side=max_side, overlay=True)
    # The first frame before the stream starts: an unknown camera or one without frames is a
    # plain HTTP error, not a broken stream.
    first = await gw.call(principal, gw.backends.stub("ingest").GetSnapshot, req)
    await gw.record(principal, "camera.live.view", camera_id)
    return StreamingResponse(
        _frames(gw, principal, request, first, req, 1.0 / fps, seconds),
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"Cache-Control": "no-store"},
    )
