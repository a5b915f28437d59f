"""Protected areas and ReportDetections over the real gRPC server: a simulated patrol camera
(sim/aerial: objects at known ground positions) over a synthetic reserve, its frames' boxes
reported as ingest would, each object placed within the stated uncertainty and alerted once.

The boxes are the scene's exact boxes (what a perfect detector returns); the real detector's
recall on the rendered frames is bench/nature.py's. Boats are reported by class: no boat photo can
be rendered yet, and detecting boats is ingest's and inference's part.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import numpy as np
import pytest

from kuzet.common.caller import Caller
from kuzet.common.timeutil import to_timestamp
from kuzet.common.v1 import audit_pb2, audit_pb2_grpc, common_pb2
from kuzet.drone.flighttrack import Track
from kuzet.drone.geo import LocalFrame, haversine_m
from kuzet.drone.geolocate import Intrinsics, project
from kuzet.drone.sim.aerial import AerialScene, FlightLine, GroundObject, Sprite
from kuzet.drone.v1 import drone_pb2

from .conftest import AGENCY, HOME_ALT, HOME_LAT, HOME_LON, OTHER_AGENCY_PILOT, PILOT, Harness, md, square

INGEST = Caller("service:ingest", "", frozenset({"service"}))
OC = drone_pb2.ObjectClass
PAK = drone_pb2.ProtectedAreaKind
NIGHT = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)  # 23:00 in London
DAY = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
HOME = LocalFrame(HOME_LAT, HOME_LON)
CLASSES = {"person": OC.OBJECT_CLASS_PERSON, "car": OC.OBJECT_CLASS_CAR, "boat": OC.OBJECT_CLASS_BOAT}
SIZES = {"person": (1.7, (170, 60)), "car": (1.5, (150, 450)), "boat": (1.2, (120, 500))}


@pytest.fixture
def db_path(db_url: str) -> str:
    return db_url


@pytest.fixture
def h(harness: Harness) -> Harness:
    return harness


def obj(kind: str, east: float, north: float) -> GroundObject:
    height, shape = SIZES[kind]
    lat, lon = HOME.to_latlon(east, north)
    return GroundObject(kind, lat, lon, height, Sprite(np.zeros((*shape, 3), np.uint8), np.ones(shape)))


def nadir_scene(
    objects: Sequence[GroundObject], speed_mps: float, altitude_m: float = 30.0, height: int = 360
) -> AerialScene:
    """A nadir camera with a 60 deg field of view (as ``register(..., 60.0, -90.0)``)."""
    line = FlightLine(
        HOME_LAT, HOME_LON, 0.0, speed_mps=speed_mps, altitude_m=altitude_m, gimbal_pitch_deg=-90.0
    )
    return AerialScene(line, objects, Intrinsics.from_fov(60.0, 640, height))


async def register(h: Harness, drone_id: str, hfov: float, gimbal: float) -> None:
    drone = drone_pb2.Drone(
        drone_id=drone_id,
        agency_id=AGENCY,
        home=common_pb2.GeoPoint(latitude=HOME_LAT, longitude=HOME_LON, altitude_m=HOME_ALT),
        system_id=40 + len(h.server.fleet.drones),
        link_url="udpin:127.0.0.1:9",
        camera=drone_pb2.CameraSpec(horizontal_fov_deg=hfov, gimbal_pitch_deg=gimbal),
    )
    await h.stub.RegisterDrone(drone_pb2.RegisterDroneRequest(drone=drone), metadata=md(PILOT))


async def record_flight(
    h: Harness, drone_id: str, scene: AerialScene, start: datetime, duration_s: float
) -> None:
    """A finished mission whose recorded track is the scene's flight (telemetry at 10 Hz)."""
    mission_id = f"m-{drone_id}-{start.timestamp():.0f}"
    track = Track(mission_id)
    for i in range(int(duration_s * 10) + 1):
        p = scene.pose(i / 10)
        track.add(start.timestamp() + i / 10, p.latitude, p.longitude, p.altitude_m)
    mission = drone_pb2.Mission(
        mission_id=mission_id,
        plan_id="",
        drone_id=drone_id,
        agency_id=AGENCY,
        state=drone_pb2.MISSION_STATE_COMPLETED,
        dispatched_at=to_timestamp(start - timedelta(seconds=30)),
    )
    store = h.server.fleet.store
    await store.put_mission(mission)
    await store.put_track(mission, track.to_bytes())


async def create_area(h: Harness, caller: Caller = PILOT, **kw: Any) -> drone_pb2.ProtectedArea:
    resp = await h.stub.CreateProtectedArea(
        drone_pb2.CreateProtectedAreaRequest(area=drone_pb2.ProtectedArea(**kw)), metadata=md(caller)
    )
    return resp.area


def frame_request(
    drone_id: str, scene: AerialScene, start: datetime, t: float, track_ids: dict[int, int]
) -> drone_pb2.ReportDetectionsRequest:
    req = drone_pb2.ReportDetectionsRequest(
        drone_id=drone_id,
        frame_time=to_timestamp(start + timedelta(seconds=t)),
        frame_width=scene.cam.width,
        frame_height=scene.cam.height,
        camera_id=f"cam-{drone_id}",
        frame=common_pb2.ObjectRef(key=f"frames/{drone_id}/{t:.1f}.jpg", content_type="image/jpeg"),
    )
    for p in scene.placed(t):
        u1, v1, u2, v2 = p.box
        req.detections.add(
            box=common_pb2.Box(x1=u1, y1=v1, x2=u2, y2=v2),
            object_class=CLASSES[p.obj.kind],
            score=0.9,
            track_id=track_ids[id(p.obj)],
        )
    return req


async def patrol(
    h: Harness, drone_id: str, scene: AerialScene, start: datetime, duration_s: float, fps: float = 2.0
) -> list[tuple[drone_pb2.ReportDetectionsRequest, drone_pb2.ReportDetectionsResponse]]:
    track_ids = {id(o): 100 + k for k, o in enumerate(scene.objects)}
    out = []
    for i in range(int(duration_s * fps)):
        req = frame_request(drone_id, scene, start, i / fps, track_ids)
        if req.detections:
            out.append((req, await h.stub.ReportDetections(req, metadata=md(INGEST))))
    return out


def check_placed(
    objects: Sequence[GroundObject], reports: list[tuple[drone_pb2.ReportDetectionsRequest, Any]]
) -> dict[int, int]:
    """Every placement within its stated radius of the true position; detections per object."""
    seen: dict[int, int] = {}
    for req, resp in reports:
        for placed in resp.placed:
            d = req.detections[placed.index]
            o = objects[d.track_id - 100]
            error = haversine_m(o.latitude, o.longitude, placed.location.latitude, placed.location.longitude)
            assert error <= placed.location.accuracy_m, (o.kind, error, placed.location.accuracy_m)
            seen[d.track_id] = seen.get(d.track_id, 0) + 1
    return seen


async def test_patrol_over_a_reserve_at_night_places_and_alerts_each_object_once(h: Harness) -> None:
    # The oblique zoom camera of sim/aerial (15 deg, gimbal -45 deg, 30 m) along a 160 m line.
    await register(h, "ranger-1", 15.0, -45.0)
    objects = [obj("person" if k % 2 else "car", (-2.0, 0.0, 2.5)[k % 3], 45.0 + 14.0 * k) for k in range(8)]
    scene = AerialScene(FlightLine(HOME_LAT, HOME_LON, 0.0, speed_mps=8.0), objects)
    await record_flight(h, "ranger-1", scene, NIGHT, 20.0)
    reserve = await create_area(
        h,
        name="Synthetic reserve",
        kind=PAK.PROTECTED_AREA_KIND_RESERVE,
        outline=square(0, 100, 150),
        time_zone="Europe/London",
    )
    reports = await patrol(h, "ranger-1", scene, NIGHT, 20.0)
    seen = check_placed(objects, reports)
    assert sorted(seen) == [100 + k for k in range(8)], seen
    assert all(n >= 2 for n in seen.values())  # several frames each, yet one alert
    alerts = h.events_of("reserve_intrusion")
    assert sorted(e.track_ids[0] for e in alerts) == sorted(seen)
    for e in alerts:
        o = objects[e.track_ids[0] - 100]
        assert e.zone_id == reserve.area_id and e.attributes["reason"] == "night"
        assert e.source.kind == common_pb2.SOURCE_KIND_DRONE and e.source.id == "ranger-1"
        assert e.location.accuracy_m == pytest.approx(e.attributes["uncertainty_m"], abs=0.06)
        assert (
            haversine_m(o.latitude, o.longitude, e.location.latitude, e.location.longitude)
            <= e.location.accuracy_m
        )
        assert e.snapshot.key.startswith("frames/ranger-1/") and e.subject == f"track:{e.track_ids[0]}"
        assert e.attributes["object_class"] == o.kind
    # The radius is honest but not vacuous: metres, not the whole view.
    radii = [p.location.accuracy_m for _, r in reports for p in r.placed]
    assert 2.0 < float(np.median(radii)) < 12.0
    assert all(list(p.alerts) in ([], ["reserve_intrusion"]) for _, r in reports for p in r.placed)

    # An alert's location can be planned from: the console's SuggestDrone + PlanPatrol.
    e = alerts[0]
    plan = await h.plan(
        "ranger-1",
        kind=drone_pb2.PATROL_KIND_ROUTE_TO_POINT,
        target=e.location,
        altitude_m=40.0,
        alert_id=e.event_id,
    )
    assert (
        plan.waypoints
        and haversine_m(
            plan.waypoints[0].latitude, plan.waypoints[0].longitude, e.location.latitude, e.location.longitude
        )
        < 1.0
    )


async def test_by_day_only_people_off_the_permitted_tracks_alert(h: Harness) -> None:
    await register(h, "ranger-2", 60.0, -90.0)  # a nadir camera: a 35 m wide strip at 30 m
    on_track = [obj("person", 0.0, 30.0 + 25.0 * k) for k in range(3)]
    off_track = [obj("person", (-14.0, 14.0)[k % 2], 40.0 + 25.0 * k) for k in range(3)]
    objects = on_track + off_track
    scene = nadir_scene(objects, 5.0)
    await record_flight(h, "ranger-2", scene, DAY, 30.0)
    track = drone_pb2.PermittedTrack(
        name="main track",
        buffer_m=5.0,
        points=[
            common_pb2.GeoPoint(latitude=la, longitude=lo)
            for la, lo in (HOME.to_latlon(0, -50), HOME.to_latlon(0, 250))
        ],
    )
    await create_area(
        h,
        name="Day reserve",
        kind=PAK.PROTECTED_AREA_KIND_RESERVE,
        outline=square(0, 100, 150),
        time_zone="Europe/London",
        tracks=[track],
    )
    reports = await patrol(h, "ranger-2", scene, DAY, 30.0)
    seen = check_placed(objects, reports)
    assert len(seen) == 6
    alerts = h.events_of("reserve_intrusion")
    assert sorted(e.track_ids[0] for e in alerts) == [103, 104, 105]
    assert {e.attributes["reason"] for e in alerts} == {"off_track"}


async def test_boats_alert_only_inside_a_no_fishing_zone(h: Harness) -> None:
    await register(h, "ranger-3", 60.0, -90.0)
    boats = [
        obj("boat", 0.0, 40.0),
        obj("boat", 5.0, 90.0),
        obj("boat", 0.0, 160.0),
        obj("person", 0.0, 60.0),
    ]
    scene = nadir_scene(boats, 5.0)
    await record_flight(h, "ranger-3", scene, DAY, 40.0)
    lake = await create_area(
        h, name="Spawning bay", kind=PAK.PROTECTED_AREA_KIND_NO_FISHING, outline=square(0, 70, 45)
    )
    reports = await patrol(h, "ranger-3", scene, DAY, 40.0)
    assert len(check_placed(boats, reports)) == 4
    alerts = h.events_of("boat_in_no_fishing_zone")
    assert sorted(e.track_ids[0] for e in alerts) == [
        100,
        101,
    ]  # the third boat is outside; people are no boats
    assert all(e.zone_id == lake.area_id for e in alerts)
    assert not h.events_of("reserve_intrusion")


async def test_a_vehicle_stopped_in_a_forest_block_alerts_after_the_set_minutes(h: Harness) -> None:
    await register(h, "ranger-4", 60.0, -90.0)
    # A slow pass at 60 m, 0.4 m/s: the parked car stays in view for 100 s, the moving one drives by.
    parked = obj("car", 3.0, 20.0)
    scene = nadir_scene([parked], 0.4, 60.0, height=480)
    await record_flight(h, "ranger-4", scene, DAY, 100.0)
    await create_area(
        h,
        name="Block 12",
        kind=PAK.PROTECTED_AREA_KIND_FOREST_BLOCK,
        outline=square(0, 50, 120),
        stopped_minutes=1.0,
    )
    times = [float(t) for t in range(0, 100, 10)]
    raised_at = []
    for t in times:
        req = frame_request("ranger-4", scene, DAY, t, {id(parked): 7})
        assert len(req.detections) == 1
        # The moving car: same frame, 4 m further each 10 s (track 8).
        pose = scene.pose(t)
        lat, lon = HOME.to_latlon(-10.0, 10.0 + 0.4 * t)
        u, v = project(lat, lon, pose, scene.cam)
        req.detections.add(
            box=common_pb2.Box(x1=u - 30, y1=v - 20, x2=u + 30, y2=v),
            object_class=OC.OBJECT_CLASS_CAR,
            score=0.8,
            track_id=8,
        )
        resp = await h.stub.ReportDetections(req, metadata=md(INGEST))
        if "vehicle_stopped_in_forest" in resp.placed[0].alerts:
            raised_at.append(t)
        assert not resp.placed[1].alerts
    assert raised_at == [60.0]
    [alert] = h.events_of("vehicle_stopped_in_forest")
    assert alert.track_ids == [7] and alert.attributes["reason"].startswith("stopped 1.0 min")


async def code_of(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value.code(), err.value.details() or ""


async def test_bad_input_is_refused_clearly(h: Harness) -> None:
    await register(h, "ranger-5", 60.0, -90.0)
    bow_tie = [
        common_pb2.GeoPoint(latitude=HOME_LAT + a, longitude=HOME_LON + b)
        for a, b in ((0, 0), (0.001, 0.001), (0, 0.001), (0.001, 0))
    ]
    code, msg = await code_of(
        h.stub.CreateProtectedArea(
            drone_pb2.CreateProtectedAreaRequest(
                area=drone_pb2.ProtectedArea(
                    name="bow tie", kind=PAK.PROTECTED_AREA_KIND_NO_FISHING, outline=bow_tie
                )
            ),
            metadata=md(PILOT),
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "crosses itself" in msg
    code, msg = await code_of(
        h.stub.CreateProtectedArea(
            drone_pb2.CreateProtectedAreaRequest(
                area=drone_pb2.ProtectedArea(
                    name="r", kind=PAK.PROTECTED_AREA_KIND_RESERVE, outline=square(0, 0, 50)
                )
            ),
            metadata=md(PILOT),
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "time_zone" in msg
    scene = nadir_scene([obj("person", 0, 8)], 5.0)
    await record_flight(h, "ranger-5", scene, DAY, 10.0)
    good = frame_request("ranger-5", scene, DAY, 1.0, {id(scene.objects[0]): 1})
    assert (await h.stub.ReportDetections(good, metadata=md(INGEST))).placed

    unknown = drone_pb2.ReportDetectionsRequest()
    unknown.CopyFrom(good)
    unknown.detections[0].object_class = 42  # type: ignore[assignment]
    code, msg = await code_of(h.stub.ReportDetections(unknown, metadata=md(INGEST)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "object_class" in msg
    late = drone_pb2.ReportDetectionsRequest()
    late.CopyFrom(good)
    late.frame_time.CopyFrom(to_timestamp(DAY + timedelta(hours=2)))
    code, msg = await code_of(h.stub.ReportDetections(late, metadata=md(INGEST)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "no recorded telemetry" in msg
    code, _ = await code_of(h.stub.ReportDetections(good, metadata=md(PILOT)))
    assert code == grpc.StatusCode.PERMISSION_DENIED


async def test_areas_are_per_agency_and_changes_are_kept(h: Harness) -> None:
    area = await create_area(
        h, name="Lake", kind=PAK.PROTECTED_AREA_KIND_NO_FISHING, outline=square(0, 0, 50)
    )
    assert area.area_m2 == pytest.approx(10_000, rel=0.01) and area.updated_by == PILOT.subject
    # Another agency's area is answered exactly as an id nobody has: its ids cannot be probed.
    taken = drone_pb2.ProtectedArea()
    taken.CopyFrom(area)
    taken.name = "taken over"
    for area_id in (area.area_id, "no-such-area"):
        taken.area_id = area_id
        for call in (
            h.stub.GetProtectedArea(
                drone_pb2.GetProtectedAreaRequest(area_id=area_id), metadata=md(OTHER_AGENCY_PILOT)
            ),
            h.stub.UpdateProtectedArea(
                drone_pb2.UpdateProtectedAreaRequest(area=taken), metadata=md(OTHER_AGENCY_PILOT)
            ),
            h.stub.DeleteProtectedArea(
                drone_pb2.DeleteProtectedAreaRequest(area_id=area_id), metadata=md(OTHER_AGENCY_PILOT)
            ),
        ):
            assert await code_of(call) == (grpc.StatusCode.NOT_FOUND, "no such protected area"), area_id
    kept = await h.stub.GetProtectedArea(
        drone_pb2.GetProtectedAreaRequest(area_id=area.area_id), metadata=md(PILOT)
    )
    assert kept.area == area
    area.name = "Lake (north)"
    area.outline[2].latitude += 0.0002
    updated = (
        await h.stub.UpdateProtectedArea(drone_pb2.UpdateProtectedAreaRequest(area=area), metadata=md(PILOT))
    ).area
    assert (
        updated.name == "Lake (north)"
        and updated.area_m2 > area.area_m2
        and updated.created_at == area.created_at
    )
    listed = (
        await h.stub.ListProtectedAreas(drone_pb2.ListProtectedAreasRequest(), metadata=md(PILOT))
    ).areas
    assert [a.area_id for a in listed] == [area.area_id]
    assert not (
        await h.stub.ListProtectedAreas(
            drone_pb2.ListProtectedAreasRequest(), metadata=md(OTHER_AGENCY_PILOT)
        )
    ).areas
    await h.stub.DeleteProtectedArea(
        drone_pb2.DeleteProtectedAreaRequest(area_id=area.area_id), metadata=md(PILOT)
    )
    code, _ = await code_of(
        h.stub.GetProtectedArea(drone_pb2.GetProtectedAreaRequest(area_id=area.area_id), metadata=md(PILOT))
    )
    assert code == grpc.StatusCode.NOT_FOUND
    auditor = Caller("auditor-dee", AGENCY, frozenset({"auditor"}))
    listed_audit = await audit_pb2_grpc.AuditServiceStub(h.channel).ListAudit(
        audit_pb2.ListAuditRequest(action_prefix="drone.area."), metadata=md(auditor)
    )
    assert sorted(r.action for r in listed_audit.records) == [
        "drone.area.create",
        "drone.area.delete",
        "drone.area.update",
    ]
