"""Camera profiles over real gRPC: validated lines and calibration, per-agency visibility."""

from __future__ import annotations

from collections.abc import Awaitable

import grpc
import pytest

from kuzet.traffic.v1 import traffic_pb2

from .conftest import (
    ADMIN,
    CAMERA,
    GROUND_POINTS,
    IMAGE_POINTS,
    INGEST,
    OPERATOR,
    OTHER_ADMIN,
    OTHER_OPERATOR,
    Traffic,
    camera,
    points,
)


async def refused(call: Awaitable[object], code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == code, info.value.details()
    return info.value.details() or ""


async def test_a_configured_camera_has_its_calibration_fitted(traffic: Traffic) -> None:
    got = (await traffic.stub(INGEST).GetCamera(traffic_pb2.GetCameraRequest(camera_id=CAMERA))).camera
    assert got.agency_id == "police"
    assert got.calibration_id.startswith("cal-") and got.calibration_rms_error_m < 1e-6
    assert [line.id for line in got.lines] == ["L1", "L2"]
    assert got.location.latitude == pytest.approx(43.2389)
    # The same points give the same calibration id (what a citation names).
    again = await traffic.stub(ADMIN).ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=camera()))
    assert again.camera.calibration_id == got.calibration_id


@pytest.mark.parametrize(
    ("image", "ground", "message"),
    [
        (IMAGE_POINTS[:3], GROUND_POINTS[:3], "at least 4"),
        ([*IMAGE_POINTS[:3], IMAGE_POINTS[0]], GROUND_POINTS, "same point"),
        ([(100.0, 100.0), (200.0, 200.0), (300.0, 300.0), (400.0, 400.0)], GROUND_POINTS, "line"),
    ],
    ids=["three-points", "duplicate", "collinear"],
)
async def test_a_bad_calibration_is_refused_with_its_reason(
    traffic: Traffic, image: list[tuple[float, float]], ground: list[tuple[float, float]], message: str
) -> None:
    bad = camera("cam-bad")
    bad.calibration.CopyFrom(
        traffic_pb2.GroundCalibration(image_points=points(image), ground_points_m=points(ground))
    )
    details = await refused(
        traffic.stub(ADMIN).ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=bad))
    )
    assert details.startswith("camera.calibration: ") and message in details


async def test_bad_lines_and_a_limit_without_calibration_are_refused(traffic: Traffic) -> None:
    stub = traffic.stub(ADMIN)
    twice = camera("cam-x")
    twice.lines[1].id = "L1"
    assert "'L1' is defined twice" in await refused(
        stub.ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=twice))
    )
    dot = camera("cam-x")
    dot.lines[0].end.CopyFrom(dot.lines[0].start)
    assert "shorter than" in await refused(
        stub.ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=dot))
    )
    none = camera("cam-x")
    del none.lines[:]
    assert "at least one counting line" in await refused(
        stub.ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=none))
    )
    uncalibrated = camera("cam-x")
    uncalibrated.ClearField("calibration")
    assert "needs a calibration" in await refused(
        stub.ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=uncalibrated))
    )
    uncalibrated.speed_limit_kmh = 0
    counted_only = await stub.ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=uncalibrated))
    assert counted_only.camera.calibration_id == ""


async def test_cameras_are_per_agency(traffic: Traffic) -> None:
    await refused(
        traffic.stub(OTHER_OPERATOR).GetCamera(traffic_pb2.GetCameraRequest(camera_id=CAMERA)),
        grpc.StatusCode.NOT_FOUND,
    )
    await refused(
        traffic.stub(OTHER_ADMIN).ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=camera())),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    await traffic.stub(OTHER_ADMIN).ConfigureCamera(
        traffic_pb2.ConfigureCameraRequest(camera=camera("cam-roads"))
    )
    mine = await traffic.stub(OPERATOR).ListCameras(traffic_pb2.ListCamerasRequest())
    theirs = await traffic.stub(OTHER_OPERATOR).ListCameras(traffic_pb2.ListCamerasRequest())
    assert [c.camera_id for c in mine.cameras] == [CAMERA]
    assert [c.camera_id for c in theirs.cameras] == ["cam-roads"]


async def test_who_may_call_what(traffic: Traffic) -> None:
    # An operator reads, an admin configures; ingest records and reads profiles, nothing else.
    await refused(
        traffic.stub(OPERATOR).ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=camera())),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    await refused(
        traffic.stub(ADMIN).RecordObservations(traffic_pb2.RecordObservationsRequest()),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    await refused(
        traffic.stub(INGEST).ListHotlistEntries(traffic_pb2.ListHotlistEntriesRequest()),
        grpc.StatusCode.PERMISSION_DENIED,
    )
