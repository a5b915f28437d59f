"""Alert retention through the real alerting server (SQLite and PostgreSQL): alerts untouched past
their agency's retention go with their history, held alerts stay, holds are served over gRPC."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import func, select, update

from kuzet.alerting.models import AlertRow, AlertUpdateRow
from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.caller import Caller
from kuzet.common.retention import HEALTH_NAME
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import holds_pb2, holds_pb2_grpc

from .conftest import SERVICE, Running, camera_event, md

INVESTIGATOR = Caller("inv-a", "prison", frozenset({"investigator"}))
ADMIN = Caller("admin-a", "prison", frozenset({"admin"}))


async def _publish(alerting: Running, **fields: object) -> str:
    resp = await alerting.stub().Publish(
        pb.PublishRequest(event=camera_event(**fields)), metadata=md(SERVICE)
    )
    return resp.alert_id


@pytest.fixture(autouse=True)
def police_keep_90_days(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read by the settings the ``alerting`` fixture builds (autouse fixtures come first)."""
    monkeypatch.setenv("KUZET_ALERTING_RETENTION_ALERT_AGENCY_DAYS", '{"police": 90}')


async def test_old_alerts_go_held_ones_stay(alerting: Running) -> None:
    app = alerting.app
    # The background job runs once when it takes the lead (nothing is due yet): wait for that
    # run before ageing rows, or a late first run deletes them before this test's own run.
    for _ in range(400):
        if app.retention.running_here and app.retention.jobs[0].status.finished_at is not None:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the retention job never ran at start")
    old = await _publish(alerting, subject="t-old")
    held_by_id = await _publish(alerting, subject="t-held")
    held_by_camera = await _publish(alerting, subject="t-cam", camera="cam-9")
    police_old = await _publish(alerting, subject="t-police", agency="police")
    fresh = await _publish(alerting, subject="t-fresh")
    ages = {old: 400, held_by_id: 400, held_by_camera: 400, police_old: 100}
    with app.database.session() as s:
        for alert_id, days in ages.items():
            then = utcnow() - timedelta(days=days)
            s.execute(
                update(AlertRow)
                .where(AlertRow.alert_id == alert_id)
                .values(updated_at=then, first_seen_at=then, last_seen_at=then)
            )
    holds = holds_pb2_grpc.HoldServiceStub(alerting.channel)
    await holds.PlaceHold(
        holds_pb2.PlaceHoldRequest(kind="alerting.alert", item_id=held_by_id, reason="complaint 3"),
        metadata=md(INVESTIGATOR),
    )
    seen = utcnow() - timedelta(days=400)
    await holds.PlaceHold(
        holds_pb2.PlaceHoldRequest(
            kind="alerting.alert",
            source_id="cam-9",
            from_time=to_timestamp(seen - timedelta(days=1)),
            to_time=to_timestamp(seen + timedelta(days=1)),
            reason="incident on cam-9",
        ),
        metadata=md(ADMIN),
    )
    assert await app.retention.run_once() == {"alerting.alert": 2}

    with app.database.session() as s:
        left = set(s.scalars(select(AlertRow.alert_id)))
        updates = s.scalar(select(func.count()).where(AlertUpdateRow.alert_id.in_([old, police_old])))
    assert left == {held_by_id, held_by_camera, fresh}
    assert updates == 0
    status = await holds.GetRetentionStatus(holds_pb2.GetRetentionStatusRequest(), metadata=md(ADMIN))
    (run,) = status.jobs
    assert (run.kind, run.deleted, run.kept_by_hold, run.error, run.running_here) == (
        "alerting.alert",
        2,
        2,
        "",
        True,
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await holds.GetRetentionStatus(holds_pb2.GetRetentionStatusRequest(), metadata=md(INVESTIGATOR))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    check = health_pb2.HealthCheckRequest(service=HEALTH_NAME)
    reply = await health_pb2_grpc.HealthStub(alerting.channel).Check(check)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    records = app.audit.list(action_prefix="retention.delete")
    assert {(r.agency, r.details["deleted"]) for r in records} == {("prison", 1), ("police", 1)}
