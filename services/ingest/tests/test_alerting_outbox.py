"""Events reach the real alerting service through the outbox, also when alerting starts late."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kuzet.alerting.config import AlertingSettings
from kuzet.alerting.server import build as build_alerting
from kuzet.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from kuzet.common.caller import Caller
from kuzet.common.config import Endpoints, load_settings
from kuzet.common.grpcclient import open_channel
from kuzet.common.objectstore import LocalObjectStore
from kuzet.ingest.config import IngestSettings
from kuzet.ingest.server import build
from kuzet.ingest.v1 import ingest_pb2 as pb
from kuzet.ingest.v1 import ingest_pb2_grpc

ADMIN = Caller("alice", "prison", frozenset({"admin", "operator"}))


async def test_offline_camera_alert_is_delivered_after_alerting_comes_up(
    tmp_path: Path, free_port: int
) -> None:
    settings = load_settings(IngestSettings, port=0, data_dir=tmp_path / "ingest", reconnect_max_s=30.0)
    endpoints = Endpoints(alerting=f"127.0.0.1:{free_port}", inference="127.0.0.1:1", identity="127.0.0.1:1")
    ingest = await build(settings, port=0, store=LocalObjectStore(tmp_path / "objects"), endpoints=endpoints)
    await ingest.start()
    async with open_channel(ingest.address, audience="ingest", caller=ADMIN) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        await stub.CreateCamera(
            pb.CreateCameraRequest(
                camera=pb.Camera(id="dead", site_id="north", url="rtsp://127.0.0.1:1/none", enabled=True)
            )
        )
        for _ in range(40):  # the camera fails to connect; alerting is not there yet
            await asyncio.sleep(0.25)
            health = next(
                iter((await stub.ListCameraHealth(pb.ListCameraHealthRequest())).health), pb.CameraHealth()
            )
            if pb.FAULT_OFFLINE in health.faults:
                break
        assert health.events_published == 1

    alert_settings = load_settings(AlertingSettings, port=free_port, data_dir=tmp_path / "alerting")
    alerting, _app = await build_alerting(alert_settings)
    await alerting.start()
    try:
        async with open_channel(alerting.address, audience="alerting", caller=ADMIN) as channel:
            alerts = alerting_pb2_grpc.AlertingServiceStub(channel)
            found = []
            for _ in range(60):  # the outbox retries with backoff
                found = list((await alerts.ListAlerts(alerting_pb2.ListAlertsRequest())).alerts)
                if found:
                    break
                await asyncio.sleep(0.5)
            assert [(a.type, a.source.id, a.agency_id) for a in found] == [
                ("camera_offline", "dead", "prison")
            ]
    finally:
        await ingest.stop(0)
        await alerting.stop(0)
