"""A panic reaches a real alerting service (in-process) through kuzet.common.eventsink."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kuzet.badge.server import build_app
from kuzet.badge.sim import SimBadge, register_badges
from kuzet.badge.v1 import badge_pb2_grpc
from kuzet.common.caller import Caller
from kuzet.common.grpcclient import open_channel
from kuzet.common.objectstore import LocalObjectStore

from .conftest import ADMIN, AGENCY, fast_settings
from .test_telemetry import wait_for

alerting_server = pytest.importorskip("kuzet.alerting.server")
alerting_config = pytest.importorskip("kuzet.alerting.config")
alerting_pb2 = pytest.importorskip("kuzet.alerting.v1.alerting_pb2")
alerting_pb2_grpc = pytest.importorskip("kuzet.alerting.v1.alerting_pb2_grpc")


async def test_panic_becomes_one_alert_with_the_badge_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = alerting_config.AlertingSettings(
        database_url=f"sqlite:///{tmp_path / 'alerting.db'}", data_dir=tmp_path / "alerting"
    )
    alerting, _ = await alerting_server.build(settings, port=0)
    await alerting.start()
    monkeypatch.setenv("KUZET_ENDPOINT_ALERTING", alerting.address)
    badge_app = await build_app(
        fast_settings(f"sqlite:///{tmp_path / 'badge.db'}", tmp_path),
        objects=LocalObjectStore(tmp_path / "o"),
        port=0,
    )
    await badge_app.server.start()
    operator = Caller("op-1", AGENCY, frozenset({"operator"}))
    badge_channel = open_channel(badge_app.server.address, audience="badge", caller=ADMIN)
    alert_channel = open_channel(alerting.address, audience="alerting", caller=operator)
    try:
        stub = badge_pb2_grpc.BadgeServiceStub(badge_channel)
        await register_badges(stub, AGENCY, ["P-1"], unit="unit-3")
        badge = SimBadge("P-1", 41.3, 69.2, interval_s=0.05)
        stop = asyncio.Event()
        task = asyncio.create_task(badge.run(stub, stop))
        await wait_for(lambda: badge.acked_seq > 0)
        badge.press_panic()
        await asyncio.sleep(0.2)
        badge.press_panic()
        alerts_stub = alerting_pb2_grpc.AlertingServiceStub(alert_channel)
        request = alerting_pb2.ListAlertsRequest(filter=alerting_pb2.AlertFilter(types=["badge_panic"]))
        alerts: list[object] = []
        for _ in range(100):
            alerts = list((await alerts_stub.ListAlerts(request)).alerts)
            if alerts:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        alerts = list((await alerts_stub.ListAlerts(request)).alerts)
        assert len(alerts) == 1
        alert = alerts[0]
        assert alert.count == 1  # the second press was the same occurrence: not even a duplicate event
        assert alert.source.id == "P-1" and alert.site_id == "unit-3"
        assert abs(alert.latest.location.latitude - 41.3) < 0.01
        stop.set()
        await task
    finally:
        await badge_channel.close()
        await alert_channel.close()
        await badge_app.server.stop(0)
        await alerting.stop(0)
