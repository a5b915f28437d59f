"""Lifecycle: acknowledge, resolve, escalation with re-notification, duty routing, shares, audit."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest

from kuzet.alerting import domain
from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.caller import Caller
from kuzet.common.timeutil import utcnow
from kuzet.common.v1 import audit_pb2, audit_pb2_grpc

from .conftest import ADMIN_A, OPERATOR_A, OPERATOR_B, SERVICE, Running, camera_event, md

AUDITOR_A = Caller("aud-a", "prison", frozenset({"auditor"}))
ADMIN_B = Caller("admin-b", "police", frozenset({"admin"}))


async def test_acknowledge_then_resolve_is_audited_with_who(alerting: Running) -> None:
    stub = alerting.stub()
    r = await stub.Publish(pb.PublishRequest(event=camera_event()), metadata=md(SERVICE))
    ack = await stub.Acknowledge(
        pb.AcknowledgeRequest(alert_id=r.alert_id, note="on it"), metadata=md(OPERATOR_A)
    )
    assert ack.alert.state == pb.ALERT_STATE_ACKNOWLEDGED and ack.alert.acknowledged_by == "op-a"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Acknowledge(pb.AcknowledgeRequest(alert_id=r.alert_id), metadata=md(OPERATOR_A))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Resolve(pb.ResolveRequest(alert_id=r.alert_id), metadata=md(OPERATOR_A))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "outcome" in (err.value.details() or "")
    res = await stub.Resolve(
        pb.ResolveRequest(alert_id=r.alert_id, outcome=pb.ALERT_OUTCOME_FALSE_ALARM, note="shadow"),
        metadata=md(OPERATOR_A),
    )
    assert res.alert.state == pb.ALERT_STATE_RESOLVED and res.alert.note == "shadow"
    # Another agency cannot act on it (and does not learn it exists).
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Acknowledge(pb.AcknowledgeRequest(alert_id=r.alert_id), metadata=md(OPERATOR_B))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    history = await stub.GetAlert(
        pb.GetAlertRequest(alert_id=r.alert_id, include_history=True), metadata=md(OPERATOR_A)
    )
    assert [h.kind for h in history.history] == [
        pb.ALERT_UPDATE_KIND_CREATED,
        pb.ALERT_UPDATE_KIND_ACKNOWLEDGED,
        pb.ALERT_UPDATE_KIND_RESOLVED,
    ]
    audit = audit_pb2_grpc.AuditServiceStub(alerting.channel)
    records = await audit.ListAudit(
        audit_pb2.ListAuditRequest(action_prefix="alert."), metadata=md(AUDITOR_A)
    )
    assert [(x.action, x.actor) for x in records.records] == [
        ("alert.acknowledge", "op-a"),
        ("alert.resolve", "op-a"),
    ]
    assert (await audit.VerifyAudit(audit_pb2.VerifyAuditRequest(), metadata=md(AUDITOR_A))).ok


async def test_unacknowledged_alert_escalates_and_renotifies(alerting: Running) -> None:
    stub = alerting.stub()
    cfg = pb.SiteConfig(
        site_id="site-1",
        ack_timeout_seconds=60,
        max_escalation_level=2,
        duty=[
            pb.DutyAssignment(role="control_room"),
            pb.DutyAssignment(role="shift_supervisor", escalation_level=1),
            pb.DutyAssignment(role="governor", escalation_level=2),
        ],
    )
    await stub.PutSiteConfig(pb.PutSiteConfigRequest(config=cfg), metadata=md(ADMIN_A))
    r = await stub.Publish(pb.PublishRequest(event=camera_event()), metadata=md(SERVICE))
    got = (await stub.GetAlert(pb.GetAlertRequest(alert_id=r.alert_id), metadata=md(OPERATOR_A))).alert
    assert list(got.duty_roles) == ["control_room"] and got.HasField("ack_deadline")
    store = alerting.app.store
    first = await alerting.app.pipeline.write(store.escalate_due, utcnow() + timedelta(seconds=61))
    assert [u.kind for u in first] == [pb.ALERT_UPDATE_KIND_ESCALATED]
    assert first[0].alert.escalation_level == 1
    assert list(first[0].alert.duty_roles) == ["control_room", "shift_supervisor"]
    second = await alerting.app.pipeline.write(store.escalate_due, utcnow() + timedelta(seconds=200))
    assert second[0].alert.escalation_level == 2 and "governor" in second[0].alert.duty_roles
    assert not second[0].alert.HasField("ack_deadline")  # max level: stops
    assert await alerting.app.pipeline.write(store.escalate_due, utcnow() + timedelta(days=1)) == []
    # An acknowledged alert never escalates.
    r2 = await stub.Publish(pb.PublishRequest(event=camera_event(subject="other")), metadata=md(SERVICE))
    await stub.Acknowledge(pb.AcknowledgeRequest(alert_id=r2.alert_id), metadata=md(OPERATOR_A))
    assert await alerting.app.pipeline.write(store.escalate_due, utcnow() + timedelta(seconds=61)) == []


def test_duty_windows_follow_site_time_zone_and_wrap_midnight() -> None:
    night = pb.DutyAssignment(role="night", start_minute=22 * 60, end_minute=6 * 60, days_of_week=[5])
    day = pb.DutyAssignment(role="day", start_minute=6 * 60, end_minute=22 * 60)
    cfg = pb.SiteConfig(site_id="s", time_zone="Asia/Almaty", duty=[night, day])
    from datetime import UTC, datetime

    # Friday 23:30 in Almaty (UTC+5) = 18:30 UTC; Saturday 03:00 local is still Friday's night shift.
    assert domain.duty_roles(cfg, 4, 0, datetime(2026, 11, 20, 18, 30, tzinfo=UTC)) == ["night"]
    assert domain.duty_roles(cfg, 4, 0, datetime(2026, 11, 20, 22, 0, tzinfo=UTC)) == ["night"]
    assert domain.duty_roles(cfg, 4, 0, datetime(2026, 11, 21, 5, 0, tzinfo=UTC)) == ["day"]
    # Saturday night is not covered by a Friday-only shift.
    assert domain.duty_roles(cfg, 4, 0, datetime(2026, 11, 21, 18, 30, tzinfo=UTC)) == []


async def test_shared_route_is_explicit_audited_and_scoped(alerting: Running) -> None:
    stub = alerting.stub()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateSharedRoute(
            pb.CreateSharedRouteRequest(route=pb.SharedRoute(target_agency_id="police")), metadata=md(ADMIN_A)
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "reason" in (err.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateSharedRoute(
            pb.CreateSharedRouteRequest(route=pb.SharedRoute(target_agency_id="police", reason="x")),
            metadata=md(OPERATOR_A),
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    route = pb.SharedRoute(target_agency_id="police", types=["zone_intrusion"], reason="escape protocol 12")
    created = (
        await stub.CreateSharedRoute(pb.CreateSharedRouteRequest(route=route), metadata=md(ADMIN_A))
    ).route
    assert created.owner_agency_id == "prison" and created.created_by == "admin-a"
    shared = await stub.Publish(pb.PublishRequest(event=camera_event()), metadata=md(SERVICE))
    await stub.Publish(
        pb.PublishRequest(event=camera_event("camera_offline", subject="")), metadata=md(SERVICE)
    )
    await stub.Publish(
        pb.PublishRequest(event=camera_event("face_match_candidate", subject="p")), metadata=md(SERVICE)
    )
    seen = await stub.ListAlerts(pb.ListAlertsRequest(), metadata=md(OPERATOR_B))
    assert [a.alert_id for a in seen.alerts] == [shared.alert_id]
    assert list(seen.alerts[0].shared_with_agency_ids) == ["police"]
    # Police sees it but cannot act on it.
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.Acknowledge(pb.AcknowledgeRequest(alert_id=shared.alert_id), metadata=md(OPERATOR_B))
    await stub.DeleteSharedRoute(
        pb.DeleteSharedRouteRequest(route_id=created.route_id, reason="ended"), metadata=md(ADMIN_A)
    )
    assert not (await stub.ListAlerts(pb.ListAlertsRequest(), metadata=md(OPERATOR_B))).alerts
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.DeleteSharedRoute(
            pb.DeleteSharedRouteRequest(route_id=created.route_id), metadata=md(ADMIN_B)
        )
    audit = audit_pb2_grpc.AuditServiceStub(alerting.channel)
    records = await audit.ListAudit(
        audit_pb2.ListAuditRequest(action_prefix="alerting.share"), metadata=md(AUDITOR_A)
    )
    assert [r.action for r in records.records] == ["alerting.share.create", "alerting.share.delete"]
    assert records.records[0].details["reason"] == "escape protocol 12"


async def test_list_alerts_filters_and_pages(alerting: Running) -> None:
    stub = alerting.stub()
    for i in range(7):
        await stub.Publish(
            pb.PublishRequest(event=camera_event(subject=f"s{i}", camera=f"c{i % 2}")), metadata=md(SERVICE)
        )
    page1 = await stub.ListAlerts(
        pb.ListAlertsRequest(filter=pb.AlertFilter(source_ids=["c0"]), page={"page_size": 2}),
        metadata=md(OPERATOR_A),
    )
    assert len(page1.alerts) == 2 and page1.page.next_page_token
    page2 = await stub.ListAlerts(
        pb.ListAlertsRequest(
            filter=pb.AlertFilter(source_ids=["c0"]),
            page={"page_size": 2, "page_token": page1.page.next_page_token},
        ),
        metadata=md(OPERATOR_A),
    )
    ids = [a.alert_id for a in [*page1.alerts, *page2.alerts]]
    assert len(set(ids)) == 4 and all(a.source.id == "c0" for a in [*page1.alerts, *page2.alerts])
    resolved = await stub.ListAlerts(
        pb.ListAlertsRequest(states=[pb.ALERT_STATE_RESOLVED]), metadata=md(OPERATOR_A)
    )
    assert not resolved.alerts
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListAlerts(pb.ListAlertsRequest(page={"page_size": 5000}), metadata=md(OPERATOR_A))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
