"""Two ingest replicas share the registry; each camera runs on exactly one; losing one moves its cameras."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kuzet.common.config import Endpoints, load_settings
from kuzet.common.grpcclient import open_channel
from kuzet.common.objectstore import LocalObjectStore
from kuzet.ingest.config import IngestSettings
from kuzet.ingest.server import build
from kuzet.ingest.v1 import ingest_pb2 as pb
from kuzet.ingest.v1 import ingest_pb2_grpc

from .conftest import ADMIN, ListSink


async def test_each_camera_runs_once_and_moves_when_a_replica_leaves(tmp_path: Path) -> None:
    live = ["ingest-0", "ingest-1"]  # what a Lease-based membership source would report
    db = f"sqlite:///{tmp_path / 'ingest.db'}"
    servers = []
    for replica in live:
        settings = load_settings(
            IngestSettings, port=0, data_dir=tmp_path / replica, database_url=db, replica_id=replica,
            reconcile_s=0.5, shard_poll_s=0.2,
        )  # fmt: skip
        server = await build(
            settings, port=0, sink=ListSink(), store=LocalObjectStore(tmp_path / "objects"),
            replica_source=lambda: list(live), endpoints=Endpoints(inference="127.0.0.1:1"),
        )  # fmt: skip
        await server.start()
        servers.append(server)
    try:
        channels = [open_channel(s.address, audience="ingest", caller=ADMIN) for s in servers]
        stubs = [ingest_pb2_grpc.IngestServiceStub(c) for c in channels]
        cams = [f"cam-{i:02d}" for i in range(12)]
        for cam_id in cams:
            # A file that does not exist: the pipeline runs (and reports offline), nothing to decode.
            camera = pb.Camera(id=cam_id, site_id="north", url=f"file://{tmp_path}/none.mp4", enabled=True)
            await stubs[0].CreateCamera(pb.CreateCameraRequest(camera=camera))

        async def running() -> list[set[str]]:
            out = []
            for stub in stubs:
                health = (await stub.ListCameraHealth(pb.ListCameraHealthRequest())).health
                out.append({h.camera_id for h in health})
            return out

        for _ in range(40):
            owned = await running()
            if len(owned[0] | owned[1]) == len(cams):
                break
            await asyncio.sleep(0.25)
        assert owned[0] | owned[1] == set(cams) and not owned[0] & owned[1] and owned[0] and owned[1]
        status = await stubs[1].ShardStatus(pb.ShardStatusRequest())
        assert status.replica_id == "ingest-1" and list(status.replicas) == live
        assert set(status.camera_ids) == owned[1]

        live.remove("ingest-1")  # the replica is gone (its Lease expired)
        for _ in range(40):
            owned = await running()
            if owned[0] == set(cams):
                break
            await asyncio.sleep(0.25)
        assert owned[0] == set(cams)
        for c in channels:
            await c.close()
    finally:
        for s in servers:
            await s.stop(0)
