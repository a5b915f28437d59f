"""Intake: idempotency, dedup, resolves, severity, validation, agency checks."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.caller import ANONYMOUS
from kuzet.common.v1 import common_pb2

from .conftest import OPERATOR_A, OPERATOR_B, SERVICE, Running, camera_event, md


async def test_publish_twice_is_one_alert(alerting: Running) -> None:
    stub = alerting.stub()
    event = camera_event()
    first = await stub.Publish(pb.PublishRequest(event=event), metadata=md(SERVICE))
    again = await stub.Publish(pb.PublishRequest(event=event), metadata=md(SERVICE))
    assert first.disposition == pb.PUBLISH_DISPOSITION_CREATED
    assert again.disposition == pb.PUBLISH_DISPOSITION_DUPLICATE
    assert again.alert_id == first.alert_id and again.count == 1
    listed = await stub.ListAlerts(pb.ListAlertsRequest(), metadata=md(OPERATOR_A))
    assert [a.alert_id for a in listed.alerts] == [first.alert_id]
    assert listed.alerts[0].count == 1


async def test_burst_from_one_camera_folds_into_one_alert(alerting: Running) -> None:
    stub = alerting.stub()
    results = await asyncio.gather(
        *(
            stub.Publish(pb.PublishRequest(event=camera_event(summary=f"n{i}")), metadata=md(SERVICE))
            for i in range(50)
        )
    )
    assert len({r.alert_id for r in results}) == 1
    assert sum(r.disposition == pb.PUBLISH_DISPOSITION_CREATED for r in results) == 1
    got = await stub.GetAlert(pb.GetAlertRequest(alert_id=results[0].alert_id), metadata=md(OPERATOR_A))
    assert got.alert.count == 50
    assert got.alert.state == pb.ALERT_STATE_NEW
    assert got.alert.latest.event_id  # latest evidence kept


async def test_different_subjects_are_different_alerts(alerting: Running) -> None:
    stub = alerting.stub()
    a = await stub.Publish(pb.PublishRequest(event=camera_event(subject="t1")), metadata=md(SERVICE))
    b = await stub.Publish(pb.PublishRequest(event=camera_event(subject="t2")), metadata=md(SERVICE))
    assert a.alert_id != b.alert_id


async def test_camera_online_resolves_camera_offline(alerting: Running) -> None:
    stub = alerting.stub()
    off = await stub.Publish(
        pb.PublishRequest(event=camera_event("camera_offline", rule="", subject="")), metadata=md(SERVICE)
    )
    on = await stub.Publish(
        pb.PublishRequest(event=camera_event("camera_online", rule="", subject="")), metadata=md(SERVICE)
    )
    assert on.disposition == pb.PUBLISH_DISPOSITION_RESOLVED and on.alert_id == off.alert_id
    got = await stub.GetAlert(pb.GetAlertRequest(alert_id=off.alert_id), metadata=md(OPERATOR_A))
    assert got.alert.state == pb.ALERT_STATE_RESOLVED
    assert got.alert.outcome == pb.ALERT_OUTCOME_AUTO_RESOLVED
    again = await stub.Publish(
        pb.PublishRequest(event=camera_event("camera_online", rule="", subject="")), metadata=md(SERVICE)
    )
    assert again.disposition == pb.PUBLISH_DISPOSITION_NO_OPEN_ALERT
    # A new outage after the resolution is a new alert.
    off2 = await stub.Publish(
        pb.PublishRequest(event=camera_event("camera_offline", rule="", subject="")), metadata=md(SERVICE)
    )
    assert off2.disposition == pb.PUBLISH_DISPOSITION_CREATED and off2.alert_id != off.alert_id


async def test_priority_orders_watchlist_over_intrusion_over_camera_offline(alerting: Running) -> None:
    stub = alerting.stub()
    for t in ("camera_offline", "zone_intrusion", "face_match_candidate"):
        await stub.Publish(pb.PublishRequest(event=camera_event(t, subject=t)), metadata=md(SERVICE))
    listed = await stub.ListAlerts(
        pb.ListAlertsRequest(order=pb.ALERT_ORDER_PRIORITY), metadata=md(OPERATOR_A)
    )
    assert [a.type for a in listed.alerts] == ["face_match_candidate", "zone_intrusion", "camera_offline"]
    # A producer may raise severity, never lower it below the type's default.
    low = camera_event("zone_intrusion", subject="x", severity=common_pb2.SEVERITY_INFO)
    r = await stub.Publish(pb.PublishRequest(event=low), metadata=md(SERVICE))
    got = await stub.GetAlert(pb.GetAlertRequest(alert_id=r.alert_id), metadata=md(OPERATOR_A))
    assert got.alert.severity == common_pb2.SEVERITY_HIGH


@pytest.mark.parametrize(
    ("mutate", "code", "words"),
    [
        (lambda e: setattr(e, "type", "alien_landing"), grpc.StatusCode.INVALID_ARGUMENT, "unknown type"),
        (lambda e: e.ClearField("source"), grpc.StatusCode.INVALID_ARGUMENT, "source.id is required"),
        (lambda e: setattr(e, "event_id", ""), grpc.StatusCode.INVALID_ARGUMENT, "event_id is required"),
        (lambda e: setattr(e, "agency_id", "police"), grpc.StatusCode.PERMISSION_DENIED, "may not publish"),
        (lambda e: setattr(e, "summary", "a\x00b"), grpc.StatusCode.INVALID_ARGUMENT, "NUL"),
        (lambda e: setattr(e, "zone_id", "z" * 200), grpc.StatusCode.INVALID_ARGUMENT, "zone_id is longer"),
    ],
)
async def test_invalid_events_are_refused_clearly(alerting: Running, mutate, code, words) -> None:  # type: ignore[no-untyped-def]
    event = camera_event()
    mutate(event)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await alerting.stub().Publish(pb.PublishRequest(event=event), metadata=md(OPERATOR_A))
    assert err.value.code() == code
    assert words in (err.value.details() or "")


async def test_anonymous_publish_is_refused(alerting: Running) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await alerting.stub().Publish(pb.PublishRequest(event=camera_event()))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # A service's token that names nobody: authenticated, but no identity to publish as.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await alerting.stub().Publish(pb.PublishRequest(event=camera_event()), metadata=md(ANONYMOUS))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_service_may_publish_for_any_agency_and_operators_see_only_their_own(alerting: Running) -> None:
    stub = alerting.stub()
    await stub.Publish(pb.PublishRequest(event=camera_event(agency="prison")), metadata=md(SERVICE))
    await stub.Publish(
        pb.PublishRequest(event=camera_event(agency="police", camera="c9")), metadata=md(SERVICE)
    )
    a = await stub.ListAlerts(pb.ListAlertsRequest(), metadata=md(OPERATOR_A))
    b = await stub.ListAlerts(pb.ListAlertsRequest(), metadata=md(OPERATOR_B))
    assert {x.agency_id for x in a.alerts} == {"prison"}
    assert {x.agency_id for x in b.alerts} == {"police"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetAlert(pb.GetAlertRequest(alert_id=a.alerts[0].alert_id), metadata=md(OPERATOR_B))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_publish_batch_rejects_only_the_bad_event(alerting: Running) -> None:
    good, bad = camera_event(), camera_event()
    bad.type = "nope"
    resp = await alerting.stub().PublishBatch(
        pb.PublishBatchRequest(events=[good, bad, good]), metadata=md(SERVICE)
    )
    assert [r.disposition for r in resp.results] == [
        pb.PUBLISH_DISPOSITION_CREATED,
        pb.PUBLISH_DISPOSITION_REJECTED,
        pb.PUBLISH_DISPOSITION_DUPLICATE,
    ]
    assert "unknown type" in resp.results[1].error


async def test_publish_batch_checks_traceparents(alerting: Running) -> None:
    stub = alerting.stub()
    events = [camera_event(subject="a"), camera_event(subject="b")]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.PublishBatch(
            pb.PublishBatchRequest(events=events, traceparents=["x"]), metadata=md(SERVICE)
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "one per event" in (
        err.value.details() or ""
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.PublishBatch(
            pb.PublishBatchRequest(events=events, traceparents=["x", ""]), metadata=md(SERVICE)
        )
    assert "traceparents[0]" in (err.value.details() or "")
    tp = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    resp = await stub.PublishBatch(
        pb.PublishBatchRequest(events=events, traceparents=[tp, ""]), metadata=md(SERVICE)
    )
    got = await stub.GetAlert(pb.GetAlertRequest(alert_id=resp.results[0].alert_id), metadata=md(OPERATOR_A))
    assert got.alert.traceparent == tp


async def test_one_failing_request_does_not_fail_the_others_in_its_commit(alerting: Running) -> None:
    store = alerting.app.store
    real = store.publish

    def failing(items):  # type: ignore[no-untyped-def]
        # Fault injection: the storage refuses one event (as a database error would).
        if any(i.event.subject == "poison" for i in items):
            raise RuntimeError("simulated storage failure")
        return real(items)

    store.publish = failing
    stub = alerting.stub()
    calls = [
        stub.Publish(pb.PublishRequest(event=camera_event(subject=f"ok{i}")), metadata=md(SERVICE))
        for i in range(10)
    ]
    calls.append(stub.Publish(pb.PublishRequest(event=camera_event(subject="poison")), metadata=md(SERVICE)))
    results = await asyncio.gather(*calls, return_exceptions=True)
    store.publish = real
    assert all(isinstance(r, pb.PublishResponse) for r in results[:10])
    assert isinstance(results[10], grpc.aio.AioRpcError) and results[10].code() == grpc.StatusCode.UNAVAILABLE
