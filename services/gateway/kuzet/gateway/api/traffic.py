"""Traffic cameras, lane counts, speeds, hotlist hits, plate search and hotlists (traffic service)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Query
from google.protobuf.message import Message
from pydantic import BaseModel, Field

from kuzet.gateway.api.cameras import CAMERA_ID
from kuzet.gateway.convert import add_url, evidence_url, timestamp
from kuzet.gateway.errors import bad_request, error_responses
from kuzet.gateway.protojson import to_json
from kuzet.gateway.roles import Permission
from kuzet.gateway.routes import DELETED, Call, ProtoBody, Route, mount, path_id, reply_empty, rpc
from kuzet.traffic.v1 import traffic_pb2 as pb

M = TypeVar("M", bound=Message)
TEXT = 500  # what traffic accepts for a purpose, and a hotlist entry's reason, source and legal basis
INTERVALS = [60, 900]


class PlateSearchBody(BaseModel):
    plate: str = Field(
        min_length=1, max_length=32, description="In any accepted spelling (123 ABC 02, 123abc02)"
    )
    purpose: str = Field(min_length=1, max_length=TEXT, description="Why (case number, request); audited")
    since: datetime | None = Field(None, description="RFC 3339; omitted: as far back as kept")
    until: datetime | None = Field(None, description="RFC 3339; omitted: now")
    fuzzy: bool = Field(False, description="Also plates one look-alike character apart")


class HotlistEntryBody(BaseModel):
    plate: str = Field(
        min_length=1, max_length=32, description="Normalised by the service; refused if malformed"
    )
    reason: str = Field(min_length=1, max_length=TEXT)
    source: str = Field(min_length=1, max_length=TEXT, description="Who asked for it (e.g. a case or a feed)")
    legal_basis: str = Field(min_length=1, max_length=TEXT, description="The law or order that allows it")
    expires_at: datetime = Field(description="RFC 3339, in the future: after it the entry stops matching")


class HotlistBody(BaseModel):
    entries: list[HotlistEntryBody] = Field(min_length=1, max_length=500)


SPAN: dict[str, tuple[Any, Any]] = {
    "since": (datetime | None, Query(None, description="RFC 3339; omitted: a day before until")),
    "until": (datetime | None, Query(None, description="RFC 3339; omitted: now")),
}
# Hotlist plates in a path are typed text: letters, digits and the separators people write.
PLATE = {"plate": (str, path_id(max_length=32, pattern=r"^[A-Za-z0-9 -]+$"))}


def _spanned(msg: M, since: datetime | None, until: datetime | None) -> M:
    for name, value in (("since", since), ("until", until)):
        if (ts := timestamp(value, name)) is not None:
            getattr(msg, name).CopyFrom(ts)
    return msg


def _observation_links(c: Call, out: dict[str, Any], obs: pb.VehicleObservation, purpose: str) -> None:
    # Traffic answered only the caller's agency's observations, so their objects are the caller's.
    for name, ref in (("snapshot_url", obs.snapshot), ("plate_crop_url", obs.plate_crop)):
        add_url(out, name, evidence_url(c.gw, c.principal, "object", ref.key, purpose))


def _hits(c: Call, resp: pb.ListHotlistHitsResponse) -> dict[str, Any]:
    out = to_json(resp)
    for hit, shown in zip(resp.hits, out["hits"], strict=True):
        obs = hit.observation
        _observation_links(c, shown["observation"], obs, f"hotlist hit {obs.observation_id}")
    return out


def _found(c: Call, resp: pb.SearchPlatesResponse) -> dict[str, Any]:
    out = to_json(resp)
    for obs, shown in zip(resp.observations, out["observations"], strict=True):
        _observation_links(c, shown, obs, f"plate search {resp.audit_id}")
    return out


def _configure(c: Call) -> pb.ConfigureCameraRequest:
    camera: pb.TrafficCamera = c.body
    camera.camera_id = c.camera_id
    return pb.ConfigureCameraRequest(camera=camera)


def _counts(c: Call) -> pb.GetCountsRequest:
    # The service keeps counts per minute and adds them up; the console charts minutes and quarters.
    if c.interval_s not in INTERVALS:
        raise bad_request(f"interval_s must be 60 or 900 seconds, got {c.interval_s}")
    return _spanned(pb.GetCountsRequest(camera_id=c.camera_id, interval_s=c.interval_s), c.since, c.until)


def _search(c: Call) -> pb.SearchPlatesRequest:
    body: PlateSearchBody = c.body
    req = pb.SearchPlatesRequest(plate=body.plate, purpose=body.purpose, fuzzy=body.fuzzy, page=c.page)
    return _spanned(req, body.since, body.until)


def _upsert(c: Call) -> pb.UpsertHotlistEntriesRequest:
    body: HotlistBody = c.body
    req = pb.UpsertHotlistEntriesRequest(agency_id=c.principal.agency)
    for i, e in enumerate(body.entries):
        entry = req.entries.add(plate=e.plate, reason=e.reason, source=e.source, legal_basis=e.legal_basis)
        entry.expires_at.CopyFrom(timestamp(e.expires_at, f"entries[{i}].expires_at"))
    return req


TRAFFIC = ("traffic",)

ROUTES = [
    Route(
        "GET",
        "/traffic/cameras",
        Permission.TRAFFIC_READ,
        rpc("traffic", "ListCameras"),
        lambda c: pb.ListCamerasRequest(page=c.page),
        summary="The agency's traffic cameras with their lanes, calibration and speed limit",
        paged=True,
        tags=TRAFFIC,
        name="list_traffic_cameras",
    ),
    Route(
        "GET",
        "/traffic/cameras/{camera_id}",
        Permission.TRAFFIC_READ,
        rpc("traffic", "GetCamera"),
        lambda c: pb.GetCameraRequest(camera_id=c.camera_id),
        summary="One camera's traffic profile",
        params=CAMERA_ID,
        errors=(404,),
        tags=TRAFFIC,
        name="get_traffic_camera",
    ),
    Route(
        "PUT",
        "/traffic/cameras/{camera_id}",
        Permission.TRAFFIC_ADMIN,
        rpc("traffic", "ConfigureCamera"),
        _configure,
        summary="Set a camera's counting lines, ground calibration (4 or more point pairs) and speed limit",
        params=CAMERA_ID,
        body=ProtoBody(pb.TrafficCamera, "traffic camera"),
        errors=(404,),
        tags=TRAFFIC,
        name="configure_traffic_camera",
    ),
    Route(
        "GET",
        "/traffic/cameras/{camera_id}/counts",
        Permission.TRAFFIC_READ,
        rpc("traffic", "GetCounts"),
        _counts,
        summary="Vehicles per lane and interval (1 or 15 minutes), with mean speed and classes",
        params={
            **CAMERA_ID,
            **SPAN,
            "interval_s": (
                int,
                Query(
                    900,
                    description="Interval length in seconds: 60 or 900",
                    json_schema_extra={"enum": INTERVALS},
                ),
            ),
        },
        errors=(404,),
        tags=TRAFFIC,
        name="get_traffic_counts",
    ),
    Route(
        "GET",
        "/traffic/cameras/{camera_id}/speeds",
        Permission.TRAFFIC_READ,
        rpc("traffic", "GetSpeedDistribution"),
        lambda c: _spanned(
            pb.GetSpeedDistributionRequest(camera_id=c.camera_id, bin_kmh=c.bin_kmh), c.since, c.until
        ),
        summary="Measured speeds of one camera in bins, with median, 85th percentile and speeding count",
        params={
            **CAMERA_ID,
            **SPAN,
            "bin_kmh": (float, Query(10.0, gt=0, le=100, description="Bin width in km/h")),
        },
        errors=(404,),
        tags=TRAFFIC,
        name="get_speed_distribution",
    ),
    Route(
        "GET",
        "/traffic/hotlist-hits",
        Permission.TRAFFIC_READ,
        rpc("traffic", "ListHotlistHits"),
        lambda c: _spanned(pb.ListHotlistHitsRequest(page=c.page), c.since, None),
        summary="Plates seen that are on the hotlist, newest first; an exact hit also raised an alert",
        paged=True,
        params={"since": (datetime | None, Query(None, description="RFC 3339; omitted: every hit kept"))},
        render=_hits,
        tags=TRAFFIC,
    ),
    Route(
        "POST",
        "/traffic/plate-searches",
        Permission.PLATES_SEARCH,
        rpc("traffic", "SearchPlates"),
        _search,
        summary="Where and when a plate was seen; audited by traffic with the purpose (a plate is "
        "personal data)",
        body=PlateSearchBody,
        paged=True,
        render=_found,
        tags=TRAFFIC,
    ),
    Route(
        "GET",
        "/traffic/hotlist",
        Permission.TRAFFIC_ADMIN,
        rpc("traffic", "ListHotlistEntries"),
        lambda c: pb.ListHotlistEntriesRequest(page=c.page, include_expired=c.include_expired),
        summary="The agency's hotlist",
        paged=True,
        params={"include_expired": (bool, Query(False, description="Also entries past their expiry"))},
        tags=TRAFFIC,
    ),
    Route(
        "POST",
        "/traffic/hotlist",
        Permission.TRAFFIC_ADMIN,
        rpc("traffic", "UpsertHotlistEntries"),
        _upsert,
        summary="Add or update hotlist entries (reason, source, legal basis and expiry required); audited",
        body=HotlistBody,
        tags=TRAFFIC,
    ),
    Route(
        "DELETE",
        "/traffic/hotlist/{plate}",
        Permission.TRAFFIC_ADMIN,
        rpc("traffic", "RemoveHotlistEntry"),
        lambda c: pb.RemoveHotlistEntryRequest(plate=c.plate, reason=c.reason),
        summary="Take a plate off the hotlist; audited with the reason",
        params={**PLATE, "reason": (str, Query(min_length=1, max_length=TEXT, description="Why; audited"))},
        render=reply_empty,
        ok=DELETED,
        errors=(404,),
        tags=TRAFFIC,
    ),
]

router = mount(APIRouter(prefix="/api/v1", responses=error_responses(400, 401, 403, 429, 503)), ROUTES)
