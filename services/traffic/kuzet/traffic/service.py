"""The TrafficService servicer: validation, who may call what and agency isolation around the store."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from kuzet.common.audit import AuditLog
from kuzet.common.caller import Caller, current_caller
from kuzet.common.errors import InvalidArgument, NotFound, PermissionDenied
from kuzet.common.paging import Paging
from kuzet.common.roads.calibration import calibration_from_proto
from kuzet.common.roads.lanes import CountingLine
from kuzet.common.roads.plates import normalise
from kuzet.common.timeutil import from_timestamp, utcnow
from kuzet.common.v1 import common_pb2
from kuzet.traffic import access
from kuzet.traffic.alerts import hotlist_event
from kuzet.traffic.distribution import DEFAULT_BIN_KMH, lane_counts, speed_distribution
from kuzet.traffic.hotlist import EXACT, TEXT_MAX, hotlist_entry, lookalike_variants
from kuzet.traffic.recording import prepare, speed_limit
from kuzet.traffic.store import CAMERA_KEYS, ENTRY_KEYS, HIT_KEYS, SEARCH_KEYS, TrafficStore
from kuzet.traffic.v1 import traffic_pb2, traffic_pb2_grpc

PAGING = Paging(default=100, maximum=500)
ID_MAX = 64
NAME_MAX = 256
DEFAULT_INTERVAL_S = 900
MAX_INTERVAL_S = 86400
# A counts answer of more intervals than this is a mistaken range, not a chart.
MAX_INTERVALS = 100_000
DEFAULT_RANGE = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_HOTLIST_BATCH = 1000
MIN_BIN_KMH, MAX_BIN_KMH = 0.5, 100.0


def _us(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def _range(since_ts: Any, until_ts: Any, *, required: bool = False) -> tuple[datetime, datetime]:
    """[since, until): until defaults to now, since to a day before it (``required``) or to the epoch."""
    until = from_timestamp(until_ts) or utcnow()
    since = from_timestamp(since_ts)
    if since is None:
        since = until - DEFAULT_RANGE if required else EPOCH
    if since >= until:
        raise InvalidArgument(f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
    return since, until


class TrafficServicer(traffic_pb2_grpc.TrafficServiceServicer):
    def __init__(
        self,
        store: TrafficStore,
        audit: AuditLog,
        publish_event: Callable[[common_pb2.Event], None],
        *,
        max_batch: int = 1000,
    ) -> None:
        self.store = store
        self.audit = audit
        self.publish_event = publish_event
        self.max_batch = max_batch

    async def _camera(self, caller: Caller, camera_id: str) -> traffic_pb2.TrafficCamera:
        """The camera, if the caller may see it; another agency's camera, or one at a site outside
        the caller's sites, is not found."""
        if not camera_id:
            raise InvalidArgument("camera_id is required")
        camera = await self.store.get_camera(camera_id)
        if (
            camera is None
            or (camera.agency_id != caller.agency and not caller.has_role("service"))
            or not caller.sees_site(camera.agency_id, camera.site_id)
        ):
            whose = f" for agency {caller.agency}" if caller.agency else ""
            raise NotFound(f"traffic camera {camera_id} is not configured{whose}")
        return camera

    # ----- cameras ----------------------------------------------------------------------------

    async def ConfigureCamera(self, request: traffic_pb2.ConfigureCameraRequest, context: Any) -> Any:
        caller = current_caller()
        access.authorise(caller, "ConfigureCamera")
        camera = traffic_pb2.TrafficCamera()
        camera.CopyFrom(request.camera)
        if not camera.camera_id or len(camera.camera_id) > ID_MAX:
            raise InvalidArgument(f"camera.camera_id is required (at most {ID_MAX} characters)")
        camera.agency_id = access.user_agency(caller, camera.agency_id)
        caller.require_site(camera.agency_id, camera.site_id, f"traffic camera {camera.camera_id}")
        existing = await self.store.get_camera(camera.camera_id)
        if existing is not None and existing.agency_id != camera.agency_id:
            raise PermissionDenied(f"traffic camera {camera.camera_id} belongs to another agency")
        if existing is not None:
            # Else a site-limited admin could take another site's camera into its own.
            caller.require_site(existing.agency_id, existing.site_id, f"traffic camera {existing.camera_id}")
        for name in ("name", "site_id"):
            if len(getattr(camera, name)) > NAME_MAX:
                raise InvalidArgument(f"camera.{name} is longer than {NAME_MAX} characters")
        _check_lines(camera)
        _check_location(camera)
        camera.calibration_id, camera.calibration_rms_error_m = "", 0.0
        calibration = camera.calibration
        if calibration.image_points or calibration.ground_points_m:
            try:
                fitted = calibration_from_proto(calibration)
            except InvalidArgument as exc:
                raise InvalidArgument(f"camera.calibration: {exc.message}") from None
            camera.calibration_id = fitted.calibration_id
            camera.calibration_rms_error_m = fitted.rms_error_m
        elif camera.speed_limit_kmh:
            raise InvalidArgument(
                "camera.speed_limit_kmh needs a calibration: speed is measured on the road plane"
            )
        try:
            speed_limit(camera)
        except InvalidArgument as exc:
            raise InvalidArgument(f"camera: {exc.message}") from None
        await self.store.put_camera(camera)
        await self.audit.record(
            "traffic.camera.configure",
            camera.camera_id,
            details={
                "lines": [line.id for line in camera.lines],
                "calibration_id": camera.calibration_id,
                "speed_limit_kmh": camera.speed_limit_kmh,
                "update": existing is not None,
            },
        )
        return traffic_pb2.ConfigureCameraResponse(camera=camera)

    async def GetCamera(self, request: traffic_pb2.GetCameraRequest, context: Any) -> Any:
        caller = current_caller()
        access.authorise(caller, "GetCamera")
        return traffic_pb2.GetCameraResponse(camera=await self._camera(caller, request.camera_id))

    async def ListCameras(self, request: traffic_pb2.ListCamerasRequest, context: Any) -> Any:
        caller = current_caller()
        access.authorise(caller, "ListCameras")
        agency = access.user_agency(caller)
        size = PAGING.size(request.page)
        cameras, token = await self.store.list_cameras(
            agency, CAMERA_KEYS.after(request.page.page_token), size, caller.site_limit(agency)
        )
        return traffic_pb2.ListCamerasResponse(
            cameras=cameras, page=common_pb2.PageResponse(next_page_token=token)
        )

    # ----- observations -----------------------------------------------------------------------

    async def RecordObservations(self, request: traffic_pb2.RecordObservationsRequest, context: Any) -> Any:
        access.authorise(current_caller(), "RecordObservations")
        if len(request.observations) > self.max_batch:
            raise InvalidArgument(
                f"{len(request.observations)} observations in one call; at most {self.max_batch}"
            )
        cameras = await self.store.cameras(o.camera_id for o in request.observations)
        batch = prepare(request.observations, cameras)
        recorded = await self.store.record(batch)
        exact: dict[str, list[traffic_pb2.HotlistHit]] = defaultdict(list)
        for hit in recorded.hits:
            if hit.match == EXACT:
                exact[hit.observation.observation_id].append(hit)
        for hits in exact.values():
            self.publish_event(hotlist_event(cameras[hits[0].observation.camera_id], hits))
        return traffic_pb2.RecordObservationsResponse(
            recorded=len(recorded.observations),
            duplicates=recorded.duplicates,
            hotlist_hits=len(exact),
            speeding=sum(1 for p in recorded.observations if p.observation.speeding),
        )

    async def GetCounts(self, request: traffic_pb2.GetCountsRequest, context: Any) -> Any:
        caller = current_caller()
        access.authorise(caller, "GetCounts")
        camera = await self._camera(caller, request.camera_id)
        interval = request.interval_s or DEFAULT_INTERVAL_S
        if interval < 0 or interval % 60 or interval > MAX_INTERVAL_S:
            raise InvalidArgument(
                f"interval_s must be a whole number of minutes up to a day (60, 900, 3600 ...), got {interval}"
            )
        since, until = _range(request.since, request.until, required=True)
        since_s = int(since.timestamp()) // interval * interval
        until_s = math.ceil(until.timestamp())
        if (until_s - since_s) / interval > MAX_INTERVALS:
            raise InvalidArgument(f"since..until spans more than {MAX_INTERVALS} intervals of {interval} s")
        rows = await self.store.counts(camera.camera_id, since_s, until_s, interval)
        lanes = {line.id: line.lane for line in camera.lines}
        return traffic_pb2.GetCountsResponse(counts=lane_counts(rows, lanes))

    async def GetSpeedDistribution(
        self, request: traffic_pb2.GetSpeedDistributionRequest, context: Any
    ) -> Any:
        caller = current_caller()
        access.authorise(caller, "GetSpeedDistribution")
        camera = await self._camera(caller, request.camera_id)
        bin_kmh = request.bin_kmh or DEFAULT_BIN_KMH
        if not MIN_BIN_KMH <= bin_kmh <= MAX_BIN_KMH:
            raise InvalidArgument(f"bin_kmh must be between {MIN_BIN_KMH} and {MAX_BIN_KMH}, got {bin_kmh}")
        since, until = _range(request.since, request.until, required=True)
        speeds = await self.store.speeds(camera.camera_id, _us(since), _us(until))
        return speed_distribution(speeds, bin_kmh)

    async def SearchPlates(self, request: traffic_pb2.SearchPlatesRequest, context: Any) -> Any:
        caller = current_caller()
        access.authorise(caller, "SearchPlates")
        agency = access.user_agency(caller)
        purpose = request.purpose.strip()
        if not purpose:
            raise InvalidArgument("purpose is required: every plate search is audited with its purpose")
        if len(purpose) > TEXT_MAX:
            raise InvalidArgument(f"purpose is longer than {TEXT_MAX} characters")
        plate = normalise(request.plate, ocr=False).text
        plates = [plate, *(v for _, v in lookalike_variants(plate))] if request.fuzzy else [plate]
        since, until = _range(request.since, request.until)
        size = PAGING.size(request.page)
        after = SEARCH_KEYS.after(request.page.page_token)
        found, token = await self.store.search(
            agency, plates, _us(since), _us(until), after, size, caller.site_limit(agency)
        )
        entry = await self.audit.record(
            "traffic.plate.search",
            plate,
            details={
                "purpose": purpose,
                "fuzzy": request.fuzzy,
                "since": since.isoformat() if request.HasField("since") else "",
                "until": until.isoformat() if request.HasField("until") else "",
                "results": len(found),
                "observation_ids": [o.observation_id for o in found],
                "page": bool(after),
            },
        )
        return traffic_pb2.SearchPlatesResponse(
            observations=found, page=common_pb2.PageResponse(next_page_token=token), audit_id=str(entry.seq)
        )

    # ----- hotlists ---------------------------------------------------------------------------
    # Entries are not limited by Caller.sites: a wanted vehicle is wanted at every site of the
    # agency, so a site-limited admin edits, and a site-limited reader reads, the agency's whole
    # list. Only the hits, which happened at a camera's site, are limited (ListHotlistHits).

    async def UpsertHotlistEntries(
        self, request: traffic_pb2.UpsertHotlistEntriesRequest, context: Any
    ) -> Any:
        caller = current_caller()
        access.authorise(caller, "UpsertHotlistEntries")
        agency = access.user_agency(caller, request.agency_id)
        if not request.entries:
            raise InvalidArgument("entries is empty")
        if len(request.entries) > MAX_HOTLIST_BATCH:
            raise InvalidArgument(f"{len(request.entries)} entries in one call; at most {MAX_HOTLIST_BATCH}")
        now = utcnow()
        # Every entry is checked before any is stored: a request is applied whole or not at all.
        entries = {}
        for i, given in enumerate(request.entries):
            expires = from_timestamp(given.expires_at)
            if expires is None:
                raise InvalidArgument(
                    f"entries[{i}]: hotlist entry for {given.plate!r}: expires_at is required"
                )
            try:
                entry = hotlist_entry(
                    given.plate,
                    reason=given.reason,
                    source=given.source,
                    legal_basis=given.legal_basis,
                    expires_at=expires,
                    now=now,
                )
            except InvalidArgument as exc:
                raise InvalidArgument(f"entries[{i}]: {exc.message}") from None
            entries[(entry.plate, entry.source)] = entry
        await self.store.upsert_entries(agency, list(entries.values()), caller.subject or "anonymous", now)
        await self.audit.record(
            "traffic.hotlist.upsert",
            agency,
            details={
                "count": len(entries),
                "plates": sorted({plate for plate, _ in entries}),
                "sources": sorted({source for _, source in entries}),
            },
        )
        return traffic_pb2.UpsertHotlistEntriesResponse(upserted=len(entries))

    async def RemoveHotlistEntry(self, request: traffic_pb2.RemoveHotlistEntryRequest, context: Any) -> Any:
        caller = current_caller()
        access.authorise(caller, "RemoveHotlistEntry")
        agency = access.user_agency(caller)
        reason = request.reason.strip()
        if not reason:
            raise InvalidArgument("reason is required: every removal from a hotlist is audited with it")
        if len(reason) > TEXT_MAX:
            raise InvalidArgument(f"reason is longer than {TEXT_MAX} characters")
        plate = normalise(request.plate, ocr=False).text
        sources = await self.store.remove_entries(agency, plate)
        if not sources:
            raise NotFound(f"plate {plate} is not on agency {agency}'s hotlist")
        await self.audit.record(
            "traffic.hotlist.remove", plate, details={"reason": reason, "sources": sources}
        )
        return traffic_pb2.RemoveHotlistEntryResponse()

    async def ListHotlistEntries(self, request: traffic_pb2.ListHotlistEntriesRequest, context: Any) -> Any:
        caller = current_caller()
        access.authorise(caller, "ListHotlistEntries")
        agency = access.user_agency(caller)
        size = PAGING.size(request.page)
        after = ENTRY_KEYS.after(request.page.page_token)
        in_force_at = None if request.include_expired else utcnow()
        entries, token = await self.store.list_entries(agency, in_force_at, after, size)
        return traffic_pb2.ListHotlistEntriesResponse(
            entries=entries, page=common_pb2.PageResponse(next_page_token=token)
        )

    async def ListHotlistHits(self, request: traffic_pb2.ListHotlistHitsRequest, context: Any) -> Any:
        caller = current_caller()
        access.authorise(caller, "ListHotlistHits")
        agency = access.user_agency(caller)
        size = PAGING.size(request.page)
        after = HIT_KEYS.after(request.page.page_token)
        since = from_timestamp(request.since)
        hits, token = await self.store.list_hits(
            agency, _us(since) if since else 0, after, size, caller.site_limit(agency)
        )
        return traffic_pb2.ListHotlistHitsResponse(
            hits=hits, page=common_pb2.PageResponse(next_page_token=token)
        )


def _check_lines(camera: traffic_pb2.TrafficCamera) -> None:
    if not camera.lines:
        raise InvalidArgument("camera.lines: a traffic camera needs at least one counting line")
    seen: set[str] = set()
    for i, line in enumerate(camera.lines):
        try:
            CountingLine.from_proto(line)
        except InvalidArgument as exc:
            raise InvalidArgument(f"camera.lines[{i}]: {exc.message}") from None
        if len(line.id) > ID_MAX:
            raise InvalidArgument(f"camera.lines[{i}]: counting line id is longer than {ID_MAX} characters")
        if line.id in seen:
            raise InvalidArgument(f"camera.lines[{i}]: counting line {line.id!r} is defined twice")
        seen.add(line.id)


def _check_location(camera: traffic_pb2.TrafficCamera) -> None:
    if not camera.HasField("location"):
        return
    lat, lon = camera.location.latitude, camera.location.longitude
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidArgument(f"camera.location ({lat}, {lon}) is not a WGS84 latitude and longitude")
