"""The IngestService RPCs: camera registry, live health, snapshots and shard status."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from kuzet.common.caller import Caller, current_caller
from kuzet.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unauthenticated,
)
from kuzet.common.tenancy import load_tenancy
from kuzet.common.timeutil import to_timestamp
from kuzet.common.v1 import common_pb2
from kuzet.ingest.cameras import to_config
from kuzet.ingest.config import IngestSettings
from kuzet.ingest.dronefeed import DroneFeed
from kuzet.ingest.manager import PipelineManager
from kuzet.ingest.overlay import draw_overlay
from kuzet.ingest.pipeline import CameraPipeline, _dt
from kuzet.ingest.snapshots import encode_jpeg
from kuzet.ingest.store import CAMERA_KEYS, CAMERA_PAGING, CameraStore, StoredCamera
from kuzet.ingest.v1 import ingest_pb2, ingest_pb2_grpc

READ_ROLES = ("operator", "admin", "reviewer", "investigator", "auditor", "service")
WRITE_ROLES = ("admin", "service")
MUTABLE = {
    "site_id",
    "name",
    "url",
    "credentials",
    "analytic_fps",
    "keyframe_only",
    "schedule",
    "zones",
    "lines",
    "rules",
    "enabled_models",
    "clip_recording",
    "location",
    "plan_position",
    "enabled",
    "width",
    "height",
    "calibration",
    "drone_id",
}


def _caller(*roles: str) -> Caller:
    caller = current_caller()
    if caller.is_anonymous:
        raise Unauthenticated("no caller identity on the request")
    caller.require_role(*roles)
    if not caller.agency:
        raise InvalidArgument("the caller has no agency")
    return caller


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(
        self,
        settings: IngestSettings,
        store: CameraStore,
        manager: PipelineManager,
        drones: DroneFeed | None = None,
    ) -> None:
        self.settings, self.store, self.manager = settings, store, manager
        self.tenancy = load_tenancy(settings.tenancy_file)
        self.drones = drones

    async def _check(self, cam: ingest_pb2.Camera, stored: StoredCamera | None = None) -> None:
        user = (
            cam.credentials.username if cam.HasField("credentials") else (stored.username if stored else "")
        )
        pw = cam.credentials.password if cam.HasField("credentials") else (stored.password if stored else "")
        to_config(cam, user, pw, allow_file=self.settings.allow_file_urls)
        self.tenancy.check_site(cam.agency_id, cam.site_id, "camera.site_id")
        # Checked on every write, not only when drone_id changes: the drone may have gone since.
        if cam.drone_id:
            if self.drones is None:
                raise FailedPrecondition("camera.drone_id: this ingest has no drone service configured")
            await self.drones.check_drone(cam.drone_id, cam.agency_id)

    async def CreateCamera(
        self, request: ingest_pb2.CreateCameraRequest, context: Any
    ) -> ingest_pb2.CreateCameraResponse:
        caller = _caller(*WRITE_ROLES)
        cam = ingest_pb2.Camera()
        cam.CopyFrom(request.camera)
        if cam.agency_id and cam.agency_id != caller.agency:
            caller.require_agency(cam.agency_id)
        cam.agency_id = cam.agency_id or caller.agency
        caller.require_site(cam.agency_id, cam.site_id, f"camera {cam.id or '(new)'}")
        cam.id = cam.id or f"cam-{uuid.uuid4().hex[:12]}"
        await self._check(cam)
        stored = await self.store.create(cam, cam.credentials.username, cam.credentials.password)
        self.manager.kick()
        return ingest_pb2.CreateCameraResponse(camera=stored.camera)

    async def UpdateCamera(
        self, request: ingest_pb2.UpdateCameraRequest, context: Any
    ) -> ingest_pb2.UpdateCameraResponse:
        caller = _caller(*WRITE_ROLES)
        current = await self._stored(request.camera.id, caller)
        paths = list(request.update_mask.paths) or sorted(MUTABLE)
        if bad := [p for p in paths if p not in MUTABLE]:
            raise InvalidArgument(f"update_mask: cannot update {', '.join(bad)}")
        cam = ingest_pb2.Camera()
        cam.CopyFrom(current.camera)
        for path in paths:
            field = ingest_pb2.Camera.DESCRIPTOR.fields_by_name[path]
            if field.is_repeated:
                cam.ClearField(path)
                getattr(cam, path).extend(getattr(request.camera, path))
            elif field.message_type is not None:
                cam.ClearField(path)
                if request.camera.HasField(path):
                    getattr(cam, path).CopyFrom(getattr(request.camera, path))
            else:
                setattr(cam, path, getattr(request.camera, path))
        caller.require_site(cam.agency_id, cam.site_id, f"camera {cam.id or '(new)'}")
        new_creds = "credentials" in paths and request.camera.HasField("credentials")
        await self._check(cam, current)
        stored = await self.store.replace(
            cam,
            request.camera.credentials.username if new_creds else None,
            request.camera.credentials.password if new_creds else None,
        )
        self.manager.kick()
        return ingest_pb2.UpdateCameraResponse(camera=stored.camera)

    async def DeleteCamera(
        self, request: ingest_pb2.DeleteCameraRequest, context: Any
    ) -> ingest_pb2.DeleteCameraResponse:
        caller = _caller(*WRITE_ROLES)
        await self._stored(request.camera_id, caller)
        await self.store.delete(request.camera_id, None if "service" in caller.roles else caller.agency)
        self.manager.kick()
        return ingest_pb2.DeleteCameraResponse()

    async def GetCamera(
        self, request: ingest_pb2.GetCameraRequest, context: Any
    ) -> ingest_pb2.GetCameraResponse:
        caller = _caller(*READ_ROLES)
        stored = await self._stored(request.camera_id, caller)
        return ingest_pb2.GetCameraResponse(camera=stored.camera)

    async def ListCameras(
        self, request: ingest_pb2.ListCamerasRequest, context: Any
    ) -> ingest_pb2.ListCamerasResponse:
        caller = _caller(*READ_ROLES)
        size = CAMERA_PAGING.size(request.page)
        after = CAMERA_KEYS.after(request.page.page_token)
        rows, token = await self.store.page(caller.agency, request.site_id, after, size, caller.sites)
        page = common_pb2.PageResponse(next_page_token=token)
        return ingest_pb2.ListCamerasResponse(cameras=[r.camera for r in rows], page=page)

    async def _stored(self, camera_id: str, caller: Caller) -> StoredCamera:
        """The caller's camera: another agency's, or one at a site outside the caller's sites, is
        answered as missing (its existence is not confirmed)."""
        stored = await self.store.get(camera_id, None if "service" in caller.roles else caller.agency)
        if not caller.sees_site(stored.camera.agency_id, stored.camera.site_id):
            raise NotFound(f"camera {camera_id} not found")
        return stored

    def _pipeline(self, camera_id: str, caller: Caller) -> CameraPipeline:
        pipeline = self.manager.pipelines.get(camera_id)
        if pipeline is None or not _sees(caller, pipeline):
            raise NotFound(f"camera {camera_id} is not running on replica {self.settings.replica_id}")
        return pipeline

    async def GetCameraHealth(
        self, request: ingest_pb2.GetCameraHealthRequest, context: Any
    ) -> ingest_pb2.GetCameraHealthResponse:
        caller = _caller(*READ_ROLES)
        return ingest_pb2.GetCameraHealthResponse(health=self._pipeline(request.camera_id, caller).health())

    async def ListCameraHealth(
        self, request: ingest_pb2.ListCameraHealthRequest, context: Any
    ) -> ingest_pb2.ListCameraHealthResponse:
        caller = _caller(*READ_ROLES)
        items = [p.health() for p in self.manager.pipelines.values() if _sees(caller, p)]
        return ingest_pb2.ListCameraHealthResponse(health=items)

    async def GetSnapshot(
        self, request: ingest_pb2.GetSnapshotRequest, context: Any
    ) -> ingest_pb2.GetSnapshotResponse:
        caller = _caller(*READ_ROLES)
        if request.max_side < 0:
            raise InvalidArgument("max_side must be >= 0")
        pipeline = self._pipeline(request.camera_id, caller)
        frame = pipeline.latest
        if frame is None:
            raise FailedPrecondition(f"camera {request.camera_id} has not delivered a frame yet")
        image = frame.image
        if request.overlay:
            image = await asyncio.to_thread(draw_overlay, image, pipeline.cfg.zones.values(), pipeline.tracks)
        jpeg = await asyncio.to_thread(encode_jpeg, image, [], 85, request.max_side)
        h, w = frame.image.shape[:2]
        return ingest_pb2.GetSnapshotResponse(
            jpeg=jpeg, captured_at=to_timestamp(_dt(frame.time)), width=w, height=h
        )

    async def ShardStatus(
        self, request: ingest_pb2.ShardStatusRequest, context: Any
    ) -> ingest_pb2.ShardStatusResponse:
        _caller(*READ_ROLES)
        shard = self.manager.shard
        # Without a lease we own nothing, and the registry may sit in the database we just lost.
        cams = (
            [s.camera.id for s in await self.store.all() if shard.mine(s.camera.id)]
            if shard.lease_held
            else []
        )
        return ingest_pb2.ShardStatusResponse(
            replica_id=self.settings.replica_id,
            replicas=list(shard.replicas),
            camera_ids=cams,
            running=len(self.manager.pipelines),
            lease_held=shard.lease_held,
            membership=shard.kind,
        )


def _sees(caller: Caller, pipeline: CameraPipeline) -> bool:
    cfg = pipeline.cfg
    return caller.sees_agency(cfg.agency) and caller.sees_site(cfg.agency, cfg.site)
