"""A prison site set up through the services' public APIs: cameras, zones, rules, a watchlist;
and a police traffic camera: its profile (counting lines, calibration, limit) and a hotlist.

Shared by the demo and the scenarios, so that what a newcomer sees is what the tests prove.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from kuzet.common.caller import Caller
from kuzet.common.grpcclient import open_channel
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import common_pb2

if TYPE_CHECKING:
    from kuzet.common.roads.scene import RoadScene
    from kuzet.traffic.v1 import traffic_pb2

# Watchlists must end (identity refuses one without expires_at); the demo's lasts a quarter.
WATCHLIST_DAYS = 90


def admin(agency: str) -> Caller:
    return Caller(f"{agency}-admin", agency, frozenset({"admin"}))


def _points(points: Sequence[tuple[float, float]]) -> list[common_pb2.Point]:
    return [common_pb2.Point(x=x, y=y) for x, y in points]


@dataclass(frozen=True)
class CameraPlan:
    camera_id: str
    name: str
    url: str
    width: int
    height: int
    zone: Sequence[tuple[float, float]] = ()
    zone_name: str = "staff-only"
    line: tuple[tuple[float, float], tuple[float, float]] | None = None
    intrusion: bool = True
    faces: bool = True
    person_down: bool = False
    analytic_fps: float = 4.0
    location: tuple[float, float] = (43.2380, 76.9450)
    # ingest's enabled_models: ["vehicle", "plate"] makes it a traffic camera
    models: Sequence[str] = ()
    # A clip of the seconds around each alert, stored with its evidence.
    clip_recording: bool = True


async def add_camera(ingest: str, agency: str, site: str, plan: CameraPlan) -> str:
    """Register a camera with its staff-only zone and the rules a prison uses there."""
    from kuzet.ingest.v1 import ingest_pb2 as pb
    from kuzet.ingest.v1 import ingest_pb2_grpc

    zones, lines, rules = [], [], []
    if plan.zone:
        zones.append(pb.Zone(id="staff-only", name=plan.zone_name, points=_points(plan.zone)))
        if plan.intrusion:
            rules.append(
                pb.Rule(
                    id="intrusion", type=pb.RULE_TYPE_INTRUSION, zone_id="staff-only", cooldown_seconds=30
                )
            )
        if plan.faces:
            rules.append(pb.Rule(id="faces", type=pb.RULE_TYPE_FACE_OF_INTEREST, zone_id="staff-only"))
        if plan.person_down:
            rules.append(
                pb.Rule(
                    id="person-down",
                    type=pb.RULE_TYPE_PERSON_DOWN,
                    zone_id="",
                    dwell_seconds=2,
                    cooldown_seconds=30,
                )
            )
    elif plan.person_down:
        rules.append(
            pb.Rule(id="person-down", type=pb.RULE_TYPE_PERSON_DOWN, dwell_seconds=2, cooldown_seconds=30)
        )
    if plan.line:
        lines.append(pb.Line(id="door", name="door", a=common_pb2.Point(x=plan.line[0][0], y=plan.line[0][1]),
                             b=common_pb2.Point(x=plan.line[1][0], y=plan.line[1][1])))  # fmt: skip
    camera = pb.Camera(
        id=plan.camera_id,
        agency_id=agency,
        site_id=site,
        name=plan.name,
        url=plan.url,
        analytic_fps=plan.analytic_fps,
        zones=zones,
        lines=lines,
        rules=rules,
        enabled=True,
        width=plan.width,
        height=plan.height,
        location=common_pb2.GeoPoint(latitude=plan.location[0], longitude=plan.location[1]),
        enabled_models=list(plan.models),
        clip_recording=plan.clip_recording,
    )
    async with open_channel(ingest, audience="ingest", caller=admin(agency)) as channel:
        reply = await ingest_pb2_grpc.IngestServiceStub(channel).CreateCamera(
            pb.CreateCameraRequest(camera=camera)
        )
    return str(reply.camera.id)


async def create_watchlist(
    identity: str,
    agency: str,
    name: str,
    people: dict[str, Sequence[Path]],
    *,
    reviewers: int = 2,
    staff: bool = False,
) -> tuple[str, dict[str, str]]:
    """A watchlist gallery with ``people`` (display name -> photos) enrolled; returns the ids.
    ``staff``: a STAFF gallery instead (oversight: staff in view), each person enrolled with a
    consent reference and the display name as their staff id."""
    from kuzet.identity.v1 import identity_pb2 as pb
    from kuzet.identity.v1 import identity_pb2_grpc

    async with open_channel(identity, audience="identity", caller=admin(agency)) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        gallery = (
            await stub.CreateGallery(
                pb.CreateGalleryRequest(
                    name=name,
                    kind=pb.GALLERY_KIND_STAFF if staff else pb.GALLERY_KIND_WATCHLIST,
                    purpose="staff in view: oversight of staff with detainees"
                    if staff
                    else "escape prevention: persons barred from staff-only areas",
                    legal_basis="demo: court order 1/2026 (fictitious)",
                    owner=f"{agency}-admin",
                    required_reviewers=reviewers,
                    expires_at=to_timestamp(utcnow() + timedelta(days=WATCHLIST_DAYS)),
                )
            )
        ).gallery
        enrolled = {}
        for display, photos in people.items():
            reply = await stub.EnrolPerson(
                pb.EnrolPersonRequest(
                    gallery_id=gallery.gallery_id,
                    display_name=display,
                    images=[pb.FaceImage(image=p.read_bytes()) for p in photos],
                    external_id=display if staff else "",
                    consent=f"consent form of {display} (demo)" if staff else "",
                )
            )
            enrolled[display] = reply.person.person_id
    return gallery.gallery_id, enrolled


def traffic_profile(
    scene: RoadScene,
    camera_id: str,
    *,
    site: str,
    name: str,
    speed_limit_kmh: float,
    location: tuple[float, float],
) -> traffic_pb2.TrafficCamera:
    """The traffic profile of a camera watching ``scene``: its counting lines and the
    calibration a surveyor would mark on that road."""
    from kuzet.traffic.v1 import traffic_pb2

    image, ground = scene.calibration
    return traffic_pb2.TrafficCamera(
        camera_id=camera_id,
        site_id=site,
        name=name,
        lines=[
            traffic_pb2.CountingLine(
                id=line.id, lane=line.lane, start=_points([line.start])[0], end=_points([line.end])[0]
            )
            for line in scene.lines
        ],
        calibration=traffic_pb2.GroundCalibration(
            image_points=_points(image), ground_points_m=_points(ground)
        ),
        speed_limit_kmh=speed_limit_kmh,
        location=common_pb2.GeoPoint(latitude=location[0], longitude=location[1]),
    )


async def configure_traffic(
    traffic: str, agency: str, profile: traffic_pb2.TrafficCamera, hotlist: Sequence[traffic_pb2.HotlistEntry]
) -> None:
    """Set a camera's traffic profile and add ``hotlist`` entries, as the agency's admin."""
    from kuzet.traffic.v1 import traffic_pb2, traffic_pb2_grpc

    async with open_channel(traffic, audience="traffic", caller=admin(agency)) as channel:
        stub = traffic_pb2_grpc.TrafficServiceStub(channel)
        await stub.ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=profile))
        if hotlist:
            await stub.UpsertHotlistEntries(
                traffic_pb2.UpsertHotlistEntriesRequest(agency_id=agency, entries=hotlist)
            )
