"""Camera registry over gRPC: validation, write-only credentials, pagination, agency isolation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2

from kuzet.common.caller import Caller
from kuzet.common.grpcclient import open_channel
from kuzet.common.v1 import common_pb2
from kuzet.ingest.v1 import ingest_pb2 as pb
from kuzet.ingest.v1 import ingest_pb2_grpc


def cam(cam_id: str, **kw: Any) -> pb.Camera:
    return pb.Camera(
        id=cam_id, site_id=kw.pop("site_id", "north"), url=kw.pop("url", f"rtsp://10.0.0.9/{cam_id}"), **kw
    )


async def test_crud_and_credentials_are_write_only(
    registry: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    stub = registry["stub"]
    secret = "s3cr3t-pass"
    created = (
        await stub.CreateCamera(
            pb.CreateCameraRequest(
                camera=cam("gate-1", credentials=pb.Credentials(username="viewer", password=secret))
            )
        )
    ).camera
    assert created.agency_id == "prison" and created.has_credentials and not created.HasField("credentials")
    got = (await stub.GetCamera(pb.GetCameraRequest(camera_id="gate-1"))).camera
    assert (
        got.has_credentials
        and got.credentials.password == ""
        and secret.encode() not in got.SerializeToString()
    )

    updated = (
        await stub.UpdateCamera(
            pb.UpdateCameraRequest(
                camera=pb.Camera(id="gate-1", name="Main gate", analytic_fps=4),
                update_mask=field_mask_pb2.FieldMask(paths=["name", "analytic_fps"]),
            )
        )
    ).camera
    assert updated.name == "Main gate" and updated.analytic_fps == 4 and updated.has_credentials
    assert updated.url == "rtsp://10.0.0.9/gate-1"

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateCamera(pb.CreateCameraRequest(camera=cam("gate-1")))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    await stub.DeleteCamera(pb.DeleteCameraRequest(camera_id="gate-1"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetCamera(pb.GetCameraRequest(camera_id="gate-1"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert secret not in caplog.text


@pytest.mark.parametrize(
    ("camera", "message"),
    [
        (cam("x", url="rtsp://u:p@10.0.0.9/x"), "must not carry credentials"),
        (cam("x", url="gopher://10.0.0.9/x"), "not supported"),
        (cam("Bad Id"), "camera.id"),
        (cam("x", rules=[pb.Rule(id="r", type=pb.RULE_TYPE_LINE_CROSSING, line_id="none")]), "not a line"),
        (
            cam(
                "x",
                width=640,
                height=360,
                zones=[
                    pb.Zone(
                        id="z", points=[common_pb2.Point(x=x, y=y) for x, y in [(0, 0), (700, 0), (700, 10)]]
                    )
                ],
            ),
            "outside the 640x360 frame",
        ),
    ],
)
async def test_bad_cameras_are_invalid_argument(
    registry: dict[str, Any], camera: pb.Camera, message: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await registry["stub"].CreateCamera(pb.CreateCameraRequest(camera=camera))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in err.value.details()


async def test_pagination_and_agency_isolation(registry: dict[str, Any]) -> None:
    stub = registry["stub"]
    for i in range(5):
        await stub.CreateCamera(
            pb.CreateCameraRequest(camera=cam(f"c{i}", site_id="north" if i % 2 else "south"))
        )
    seen, token = [], ""
    while True:
        page = await stub.ListCameras(
            pb.ListCamerasRequest(page=common_pb2.PageRequest(page_size=2, page_token=token))
        )
        seen += [c.id for c in page.cameras]
        token = page.page.next_page_token
        if not token:
            break
    assert seen == ["c0", "c1", "c2", "c3", "c4"]
    north = await stub.ListCameras(pb.ListCamerasRequest(site_id="north"))
    assert [c.id for c in north.cameras] == ["c1", "c3"]

    police = Caller("bob", "police", frozenset({"admin"}))
    async with open_channel(registry["server"].address, audience="ingest", caller=police) as channel:
        other = ingest_pb2_grpc.IngestServiceStub(channel)
        assert not (await other.ListCameras(pb.ListCamerasRequest())).cameras
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await other.GetCamera(pb.GetCameraRequest(camera_id="c1"))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    viewer = Caller("eve", "prison", frozenset({"operator"}))
    async with open_channel(registry["server"].address, audience="ingest", caller=viewer) as channel:
        ro = ingest_pb2_grpc.IngestServiceStub(channel)
        assert len((await ro.ListCameras(pb.ListCamerasRequest())).cameras) == 5
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await ro.DeleteCamera(pb.DeleteCameraRequest(camera_id="c1"))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    status = await stub.ShardStatus(pb.ShardStatusRequest())
    assert (
        status.replica_id == "ingest-0"
        and list(status.replicas) == ["ingest-0"]
        and len(status.camera_ids) == 5
    )


async def test_a_site_limited_admin_manages_the_cameras_of_its_sites_only(registry: dict[str, Any]) -> None:
    stub = registry["stub"]
    for cam_id, site in (("n1", "north"), ("s1", "south")):
        await stub.CreateCamera(pb.CreateCameraRequest(camera=cam(cam_id, site_id=site)))
    north_admin = Caller("nora", "prison", frozenset({"admin"}), frozenset({"north"}))
    async with open_channel(registry["server"].address, audience="ingest", caller=north_admin) as channel:
        mine = ingest_pb2_grpc.IngestServiceStub(channel)
        assert [c.id for c in (await mine.ListCameras(pb.ListCamerasRequest())).cameras] == ["n1"]
        assert not (await mine.ListCameras(pb.ListCamerasRequest(site_id="south"))).cameras
        for call in (
            mine.GetCamera(pb.GetCameraRequest(camera_id="s1")),
            mine.DeleteCamera(pb.DeleteCameraRequest(camera_id="s1")),
            mine.UpdateCamera(pb.UpdateCameraRequest(camera=cam("s1", name="taken"))),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
        for call in (
            mine.CreateCamera(pb.CreateCameraRequest(camera=cam("s2", site_id="south"))),
            mine.UpdateCamera(pb.UpdateCameraRequest(camera=cam("n1", site_id="south"))),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call
            assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "outside nora's sites (north)" in (err.value.details() or "")
        await mine.CreateCamera(pb.CreateCameraRequest(camera=cam("n2", site_id="north")))
    assert {c.id for c in (await stub.ListCameras(pb.ListCamerasRequest())).cameras} == {"n1", "n2", "s1"}


async def test_with_the_charts_tenancy_a_camera_must_be_at_a_site_of_its_agency(tmp_path: Path) -> None:
    from .conftest import _ingest

    tenancy = tmp_path / "tenancy.json"
    tenancy.write_text(json.dumps({"agencies": [{"id": "prison", "sites": [{"id": "north"}]}]}))
    async for running in _ingest(tmp_path, "127.0.0.1:1", tenancy_file=str(tenancy)):
        stub = running["stub"]
        await stub.CreateCamera(pb.CreateCameraRequest(camera=cam("n1", site_id="north")))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.CreateCamera(pb.CreateCameraRequest(camera=cam("x1", site_id="nowhere")))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "camera.site_id: 'nowhere' is not a site of agency prison" in (err.value.details() or "")
