"""Sites over real gRPC (issue #21): a caller limited to some sites of its agency sees the cameras
of those sites and what they observed only; another site's camera is answered as missing and
cannot be configured. The hotlist itself stays agency-wide."""

from __future__ import annotations

import grpc
from google.protobuf.json_format import MessageToDict

from kuzet.common.caller import Caller
from kuzet.traffic.v1 import traffic_pb2

from .conftest import (
    ADMIN,
    AGENCY,
    CAMERA,
    OPERATOR,
    Traffic,
    camera,
    minute,
    observation,
    to_timestamp,
)
from .test_cameras import refused
from .test_hotlists import audit_records, entries, entry, upsert
from .test_observations import record

SITE = "almaty-traffic-unit"  # the site of conftest's camera
OTHER_SITE = "shymkent-traffic-unit"
OTHER_CAMERA = "cam-shymkent-1"
PLATE = "123ABC02"
# Subjects differ from conftest's callers: Traffic.stub keeps one channel per subject.
SITE_ADMIN = Caller("admin-almaty", AGENCY, frozenset({"admin"}), frozenset({SITE}))
SITE_OPERATOR = Caller("op-almaty", AGENCY, frozenset({"operator"}), frozenset({SITE}))


def at(site: str, camera_id: str = CAMERA) -> traffic_pb2.TrafficCamera:
    placed = camera(camera_id)
    placed.site_id = site
    return placed


async def two_sites(traffic: Traffic) -> None:
    """conftest's camera at SITE and OTHER_CAMERA at OTHER_SITE, each with a read of PLATE (on the
    hotlist) at 8:01, measured at 50 km/h."""
    await traffic.stub(ADMIN).ConfigureCamera(
        traffic_pb2.ConfigureCameraRequest(camera=at(OTHER_SITE, OTHER_CAMERA))
    )
    await upsert(traffic, entry(PLATE))
    await record(
        traffic,
        [
            observation(1, minute(8, 1), plate=PLATE, speed=50.0),
            observation(2, minute(8, 1), plate=PLATE, speed=50.0, camera_id=OTHER_CAMERA),
        ],
    )


def counts_request(camera_id: str) -> traffic_pb2.GetCountsRequest:
    return traffic_pb2.GetCountsRequest(
        camera_id=camera_id,
        since=to_timestamp(minute(8, 0)),
        until=to_timestamp(minute(9, 0)),
        interval_s=3600,
    )


def speeds_request(camera_id: str) -> traffic_pb2.GetSpeedDistributionRequest:
    return traffic_pb2.GetSpeedDistributionRequest(
        camera_id=camera_id, since=to_timestamp(minute(8, 0)), until=to_timestamp(minute(9, 0))
    )


def search_request() -> traffic_pb2.SearchPlatesRequest:
    return traffic_pb2.SearchPlatesRequest(plate=PLATE, purpose="case 4471")


async def test_a_site_limited_caller_sees_its_sites_only(traffic: Traffic) -> None:
    await two_sites(traffic)
    stub = traffic.stub(SITE_OPERATOR)
    listed = await stub.ListCameras(traffic_pb2.ListCamerasRequest())
    assert [c.camera_id for c in listed.cameras] == [CAMERA]
    assert (await stub.GetCamera(traffic_pb2.GetCameraRequest(camera_id=CAMERA))).camera.site_id == SITE
    [count] = (await stub.GetCounts(counts_request(CAMERA))).counts
    assert count.vehicles == 1
    assert (await stub.GetSpeedDistribution(speeds_request(CAMERA))).measured == 1
    hits = (await stub.ListHotlistHits(traffic_pb2.ListHotlistHitsRequest())).hits
    assert [h.observation.camera_id for h in hits] == [CAMERA]
    found = await stub.SearchPlates(search_request())
    assert [o.camera_id for o in found.observations] == [CAMERA]
    # The search is audited as any other, with what the caller was shown.
    audited = {str(r.seq): r for r in await audit_records(traffic, "traffic.plate.search")}[found.audit_id]
    assert audited.actor == SITE_OPERATOR.subject
    details = MessageToDict(audited.details)
    assert details["results"] == 1 and details["observation_ids"] == [f"{CAMERA}:1:L1"]
    # A wanted vehicle is wanted everywhere: the hotlist is the agency's whole list.
    assert [e.plate for e in await entries(traffic, SITE_OPERATOR)] == [PLATE]


async def test_another_sites_camera_is_answered_as_missing(traffic: Traffic) -> None:
    await two_sites(traffic)
    stub = traffic.stub(SITE_OPERATOR)
    missing = await refused(
        stub.GetCamera(traffic_pb2.GetCameraRequest(camera_id="cam-nowhere")), grpc.StatusCode.NOT_FOUND
    )
    hidden = await refused(
        stub.GetCamera(traffic_pb2.GetCameraRequest(camera_id=OTHER_CAMERA)), grpc.StatusCode.NOT_FOUND
    )
    assert hidden == missing.replace("cam-nowhere", OTHER_CAMERA)
    await refused(stub.GetCounts(counts_request(OTHER_CAMERA)), grpc.StatusCode.NOT_FOUND)
    await refused(stub.GetSpeedDistribution(speeds_request(OTHER_CAMERA)), grpc.StatusCode.NOT_FOUND)


async def test_a_site_limited_admin_configures_its_sites_cameras_only(traffic: Traffic) -> None:
    await two_sites(traffic)
    stub = traffic.stub(SITE_ADMIN)
    # Its own site's cameras, new or already configured.
    await stub.ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=camera("cam-almaty-2")))
    await stub.ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=camera(limit=70.0)))
    # Not a camera at another site, nor one moved there or taken from there.
    for refused_camera in (
        at(OTHER_SITE, "cam-almaty-3"),
        at(OTHER_SITE),
        camera(OTHER_CAMERA),
    ):
        details = await refused(
            stub.ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=refused_camera)),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert f"admin-almaty's sites ({SITE})" in details
    listed = await traffic.stub(OPERATOR).ListCameras(traffic_pb2.ListCamerasRequest())
    assert {c.camera_id: c.site_id for c in listed.cameras} == {
        CAMERA: SITE,
        "cam-almaty-2": SITE,
        OTHER_CAMERA: OTHER_SITE,
    }
    # A limited admin still edits the agency's whole hotlist.
    assert await upsert(traffic, entry("777ZZZ01"), caller=SITE_ADMIN) == 1


async def test_an_unlimited_caller_sees_every_site(traffic: Traffic) -> None:
    await two_sites(traffic)
    stub = traffic.stub(OPERATOR)
    listed = await stub.ListCameras(traffic_pb2.ListCamerasRequest())
    assert [c.camera_id for c in listed.cameras] == [CAMERA, OTHER_CAMERA]
    await stub.GetCamera(traffic_pb2.GetCameraRequest(camera_id=OTHER_CAMERA))
    assert (await stub.GetCounts(counts_request(OTHER_CAMERA))).counts[0].vehicles == 1
    hits = (await stub.ListHotlistHits(traffic_pb2.ListHotlistHitsRequest())).hits
    assert sorted(h.observation.camera_id for h in hits) == sorted([CAMERA, OTHER_CAMERA])
    found = await stub.SearchPlates(search_request())
    assert sorted(o.camera_id for o in found.observations) == sorted([CAMERA, OTHER_CAMERA])
