"""A bribery report filed from a badge: the alert names nobody and reaches internal affairs only.

The real badge service publishes to the real alerting service (both in this process, SQLite);
every other role of the agency asks for the alert every way it can.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from kuzet.alerting.config import AlertingSettings
from kuzet.alerting.server import build as build_alerting
from kuzet.alerting.v1 import alerting_pb2 as apb
from kuzet.alerting.v1 import alerting_pb2_grpc
from kuzet.badge.config import BadgeSettings
from kuzet.badge.server import build_app
from kuzet.badge.sim import register_badges
from kuzet.badge.v1 import badge_pb2 as bpb
from kuzet.badge.v1 import badge_pb2_grpc
from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.grpcclient import open_channel
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.tls import secure_channel

AGENCY = "police"
REPORTER = Caller("officer-77", AGENCY, frozenset({"operator"}))
INTERNAL_AFFAIRS = Caller("ia-1", AGENCY, frozenset({"internal_affairs"}))
ADMIN = Caller("admin-1", AGENCY, frozenset({"admin"}))
OTHERS = [
    Caller(
        "sergeant-1", AGENCY, frozenset({"operator", "admin", "investigator", "reviewer", "pilot", "auditor"})
    ),
    Caller("op-2", AGENCY, frozenset({"operator"})),
]


@pytest.fixture
async def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[str, str]]:
    alerting, _ = await build_alerting(
        AlertingSettings(database_url=f"sqlite:///{tmp_path / 'alerting.db'}", data_dir=tmp_path / "a"),
        port=0,
    )
    await alerting.start()
    monkeypatch.setenv("KUZET_ENDPOINT_ALERTING", alerting.address)
    badge = await build_app(
        BadgeSettings(database_url=f"sqlite:///{tmp_path / 'badge.db'}", data_dir=tmp_path / "b"),
        port=0,
        device_port=0,
    )
    await badge.server.start()
    try:
        yield badge.server.address, alerting.address
    finally:
        await badge.server.stop(0)
        await alerting.stop(0)


async def _integrity_alerts(stub: alerting_pb2_grpc.AlertingServiceStub, who: Caller) -> list[apb.Alert]:
    reply = await stub.ListAlerts(
        apb.ListAlertsRequest(filter=apb.AlertFilter(types=["integrity_report"])),
        metadata=caller_metadata(who, audience="alerting"),
    )
    return list(reply.alerts)


async def test_integrity_alert_names_nobody_and_reaches_internal_affairs_only(
    services: tuple[str, str],
) -> None:
    badge_address, alerting_address = services
    async with open_channel(badge_address, audience="badge", caller=ADMIN) as admin:
        await register_badges(badge_pb2_grpc.BadgeServiceStub(admin), AGENCY, ["B-0042"])
    async with (
        secure_channel(badge_address) as bc,
        secure_channel(alerting_address) as ac,
    ):
        alerting = alerting_pb2_grpc.AlertingServiceStub(ac)
        feed = alerting.Subscribe(
            apb.SubscribeRequest(), metadata=caller_metadata(INTERNAL_AFFAIRS, audience="alerting")
        )
        async with asyncio.timeout(15):
            async for item in feed:
                if item.HasField("heartbeat"):
                    break
        filed = await badge_pb2_grpc.BadgeServiceStub(bc).ReportIntegrity(
            bpb.ReportIntegrityRequest(
                report=bpb.IntegrityReport(
                    badge_id="B-0042",
                    officer_id="officer-77",
                    occurred_at=to_timestamp(utcnow()),
                    description="a driver offered money to drop the citation",
                )
            ),
            metadata=caller_metadata(REPORTER, audience="badge"),
        )
        async with asyncio.timeout(15):
            async for item in feed:
                if item.HasField("update"):
                    alert = item.update.alert
                    break
        feed.cancel()
        assert alert.type == "integrity_report"
        listed = await _integrity_alerts(alerting, INTERNAL_AFFAIRS)
        assert [a.alert_id for a in listed] == [alert.alert_id]
        wire = alert.SerializeToString().decode("utf-8", "replace")
        # Neither the badge, its officer, the reporter nor the content.
        for identifying in ("B-0042", "officer-77", "driver"):
            assert identifying not in wire, identifying
        assert filed.report_id in alert.source.id

        for who in OTHERS:
            md = caller_metadata(who, audience="alerting")
            assert not await _integrity_alerts(alerting, who)
            listed = await alerting.ListAlerts(apb.ListAlertsRequest(), metadata=md)
            assert alert.alert_id not in {a.alert_id for a in listed.alerts}
            for call in (
                alerting.GetAlert(
                    apb.GetAlertRequest(alert_id=alert.alert_id, include_history=True), metadata=md
                ),
                alerting.Acknowledge(apb.AcknowledgeRequest(alert_id=alert.alert_id), metadata=md),
                alerting.Resolve(
                    apb.ResolveRequest(alert_id=alert.alert_id, outcome=apb.ALERT_OUTCOME_ACTION_TAKEN),
                    metadata=md,
                ),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await call
                assert err.value.code() == grpc.StatusCode.NOT_FOUND
            # Replaying the whole log on the stream skips it too.
            stream = alerting.Subscribe(apb.SubscribeRequest(after_cursor=0), metadata=md)
            async for item in stream:
                if item.HasField("heartbeat"):
                    break
                assert item.update.alert.type != "integrity_report"
            stream.cancel()
        # The report itself, with its reporter, is for internal affairs.
        reports = await badge_pb2_grpc.BadgeServiceStub(bc).ListIntegrityReports(
            bpb.ListIntegrityReportsRequest(), metadata=caller_metadata(INTERNAL_AFFAIRS, audience="badge")
        )
        assert [r.reported_by for r in reports.reports] == ["officer-77"]
