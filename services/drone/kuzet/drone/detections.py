"""ReportDetections: place what a drone's camera saw and raise the protected-area alerts.

Ingest sends, per analysed frame of a camera whose source is a drone, the frame's capture time,
size, stored frame and its detections (box, class, score, track id). Each detection's box bottom
centre is placed on the ground (``placement.pose_at`` + ``geolocate.locate``) from the drone's
recorded track, then the agency's protected areas are checked (``arearules``). An alert is
published once per (drone, track, rule, area): the first time is remembered in the database
(``AreaStore.first_hit``) so that any replica placing the drone's next frames folds the repeats,
and the event's subject is the same for all, so alerting folds them too.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from kuzet.common.errors import FailedPrecondition, InvalidArgument, NotLeader
from kuzet.common.events import new_event
from kuzet.common.timeutil import from_timestamp
from kuzet.common.v1 import common_pb2
from kuzet.drone import planning
from kuzet.drone.arearules import VEHICLE_STOPPED, Hit, immediate_hits
from kuzet.drone.areastore import AreaStore, Sighting
from kuzet.drone.fleet import ENDED, Fleet
from kuzet.drone.flighttrack import points_of
from kuzet.drone.geolocate import GroundFix, Intrinsics, locate
from kuzet.drone.placement import FramePose, covers, pose_at
from kuzet.drone.protectedareas import KIND_NAMES, AreaCache
from kuzet.drone.store import DroneStore
from kuzet.drone.v1 import drone_pb2

MAX_DETECTIONS = 500
MAX_FRAME_PX = 16_384
CLASS_NAMES = {
    v: n.removeprefix("OBJECT_CLASS_").lower()
    for n, v in drone_pb2.ObjectClass.items()
    if v != drone_pb2.OBJECT_CLASS_UNSPECIFIED
}
# Tracks of the missions dispatched before the frame that are read to find the one flying then.
MISSIONS_LOOKED_AT = 3


def check_request(request: drone_pb2.ReportDetectionsRequest) -> datetime:
    at = from_timestamp(request.frame_time)
    if at is None:
        raise InvalidArgument("frame_time is required (the frame's capture time, UTC)")
    w, h = request.frame_width, request.frame_height
    if not (0 < w <= MAX_FRAME_PX and 0 < h <= MAX_FRAME_PX):
        raise InvalidArgument(f"frame_width and frame_height must be 1..{MAX_FRAME_PX} pixels, got {w}x{h}")
    if len(request.detections) > MAX_DETECTIONS:
        raise InvalidArgument(f"{len(request.detections)} detections in one frame; at most {MAX_DETECTIONS}")
    for i, d in enumerate(request.detections):
        if d.object_class not in CLASS_NAMES:
            raise InvalidArgument(
                f"detections[{i}].object_class {d.object_class} is not one of "
                f"{', '.join(sorted(CLASS_NAMES.values()))}"
            )
        b = d.box
        if not (b.x1 < b.x2 and b.y1 < b.y2) or not all(math.isfinite(v) for v in (b.x1, b.y1, b.x2, b.y2)):
            raise InvalidArgument(f"detections[{i}].box must have x1 < x2 and y1 < y2")
        if b.x2 < 0 or b.x1 > w or b.y2 < 0 or b.y1 > h:
            raise InvalidArgument(f"detections[{i}].box lies outside the {w}x{h} frame")
        if not 0.0 <= d.score <= 1.0:
            raise InvalidArgument(f"detections[{i}].score must be 0..1")
    return at


def foot(box: common_pb2.Box, w: int, h: int) -> tuple[float, float]:
    """The box's bottom centre (where the object meets the ground), kept inside the frame."""
    return (min(max((box.x1 + box.x2) / 2.0, 0.0), float(w)), min(max(box.y2, 0.0), float(h)))


class DetectionReports:
    def __init__(
        self,
        store: DroneStore,
        areas: AreaStore,
        fleet: Fleet,
        publish: Callable[[common_pb2.Event], None],
    ) -> None:
        self.store = store
        self.areas = areas
        self.fleet = fleet
        self.publish = publish
        self.cache = AreaCache()

    async def report(
        self, drone: drone_pb2.Drone, request: drone_pb2.ReportDetectionsRequest
    ) -> drone_pb2.ReportDetectionsResponse:
        at = check_request(request)
        frame_pose = await self._pose(drone, at)
        cam = Intrinsics.from_fov(
            drone.camera.horizontal_fov_deg or planning.DEFAULT_HFOV_DEG,
            request.frame_width,
            request.frame_height,
        )
        w, h = request.frame_width, request.frame_height
        fixes = await asyncio.to_thread(
            lambda: [
                locate(foot(d.box, w, h), frame_pose.pose, cam, errors=frame_pose.errors)
                for d in request.detections
            ]
        )
        areas = self.cache.compiled(await self.areas.list_areas(drone.agency_id))
        out = drone_pb2.ReportDetectionsResponse()
        for i, (d, fix) in enumerate(zip(request.detections, fixes, strict=True)):
            inside, hits, forests = immediate_hits(
                areas, d.object_class, fix.latitude, fix.longitude, fix.uncertainty_m, at
            )
            sighting = Sighting(drone.drone_id, d.track_id, at, fix.latitude, fix.longitude)
            for forest in forests:
                since = await self.areas.stopped_since(sighting, forest.area.stopped_radius_m)
                if at - since >= timedelta(minutes=forest.area.stopped_minutes):
                    hits.append(
                        Hit(VEHICLE_STOPPED, forest, f"stopped {(at - since).total_seconds() / 60:.1f} min")
                    )
            placed = out.placed.add(index=i, range_m=fix.range_m, area_ids=inside)
            placed.location.CopyFrom(_point(fix))
            for hit in hits:
                if await self.areas.first_hit(sighting, hit.rule, hit.area.area.area_id):
                    self.publish(self._event(drone, request, d, fix, hit, at))
                    placed.alerts.append(hit.rule)
        return out

    async def _pose(self, drone: drone_pb2.Drone, at: datetime) -> FramePose:
        t = at.timestamp()
        gimbal = drone.camera.gimbal_pitch_deg or -90.0
        for points in await self._tracks(drone.drone_id, at):
            if covers(points, t):
                return pose_at(points, t, gimbal)
        # The newest positions of a mission flown by another replica's controller are stored only
        # every few seconds: that replica has them.
        holder = self.fleet.leadership.holder(drone.drone_id)
        if holder and holder != self.fleet.leadership.identity:
            last = await self.store.last_mission(drone.drone_id)
            if (
                last is not None
                and last.state not in ENDED
                and at >= (from_timestamp(last.dispatched_at) or at)
            ):
                raise NotLeader(
                    f"drone {drone.drone_id}'s newest telemetry is with replica {holder}",
                    await self.store.replica_address(holder),
                )
        raise FailedPrecondition(
            f"no recorded telemetry of drone {drone.drone_id} at {at.isoformat()}: positions are "
            "recorded while it flies a dispatched mission"
        )

    async def _tracks(self, drone_id: str, at: datetime) -> list[np.ndarray]:
        ctl = self.fleet.controller(drone_id)
        out = []
        if ctl is not None and ctl.track is not None:
            out.append(points_of(ctl.track.to_bytes()))
        missions = await self.store.missions_before(drone_id, at, MISSIONS_LOOKED_AT)
        stored = await self.store.tracks([m.mission_id for m in missions])
        out.extend(points_of(stored[m.mission_id]) for m in missions if m.mission_id in stored)
        return out

    def _event(
        self,
        drone: drone_pb2.Drone,
        request: drone_pb2.ReportDetectionsRequest,
        d: drone_pb2.Detection,
        fix: GroundFix,
        hit: Hit,
        at: datetime,
    ) -> common_pb2.Event:
        area = hit.area.area
        what = CLASS_NAMES[d.object_class]
        attributes: dict[str, Any] = {
            "drone_id": drone.drone_id,
            "camera_id": request.camera_id,
            "area_id": area.area_id,
            "area_name": area.name,
            "area_kind": KIND_NAMES[area.kind],
            "object_class": what,
            "score": round(float(d.score), 3),
            "track_id": str(d.track_id),
            "latitude": fix.latitude,
            "longitude": fix.longitude,
            "uncertainty_m": round(fix.uncertainty_m, 1),
            "range_m": round(fix.range_m, 1),
            "reason": hit.reason,
        }
        return new_event(
            drone.agency_id,
            hit.rule,
            common_pb2.Source(kind=common_pb2.SOURCE_KIND_DRONE, id=drone.drone_id, name=drone.name),
            occurred_at=at,
            attributes=attributes,
            rule_id=f"{hit.rule}:{area.area_id}",
            subject=f"track:{d.track_id}",
            zone_id=area.area_id,
            track_ids=[d.track_id],
            boxes=[d.box],
            location=_point(fix),
            snapshot=request.frame if request.HasField("frame") else None,
            summary=f"{what} in {KIND_NAMES[area.kind]} '{area.name or area.area_id}' ({hit.reason}), "
            f"within {fix.uncertainty_m:.0f} m",
        )


def _point(fix: GroundFix) -> common_pb2.GeoPoint:
    return common_pb2.GeoPoint(latitude=fix.latitude, longitude=fix.longitude, accuracy_m=fix.uncertainty_m)
