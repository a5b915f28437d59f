"""Evidence added later: an `amends` event gives an occurrence its clip of the seconds after it."""

from __future__ import annotations

import grpc
import pytest

from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.caller import Caller
from kuzet.common.v1 import audit_pb2, audit_pb2_grpc, common_pb2

from .conftest import OPERATOR_A, SERVICE, Running, camera_event, md

AUDITOR_A = Caller("aud-a", "prison", frozenset({"auditor"}))


def clip(name: str) -> common_pb2.ObjectRef:
    return common_pb2.ObjectRef(
        key=f"clips/prison/cam-1/{name}.mp4", sha256="ab" * 32, content_type="video/mp4"
    )


def amendment(original: common_pb2.Event, name: str, **fields: object) -> common_pb2.Event:
    return camera_event(
        original.type,
        subject=original.subject,
        clip=clip(name),
        amends=original.event_id,
        attributes={"clip_after_s": 4.0},
        **fields,
    )


async def test_the_clip_after_replaces_the_clip_before_and_counts_no_occurrence(alerting: Running) -> None:
    stub = alerting.stub()
    event = camera_event(clip=clip("before"), attributes={"score": 0.9})
    first = await stub.Publish(pb.PublishRequest(event=event), metadata=md(SERVICE))
    later = amendment(event, "around")
    amended = await stub.Publish(pb.PublishRequest(event=later), metadata=md(SERVICE))
    assert amended.disposition == pb.PUBLISH_DISPOSITION_AMENDED
    assert amended.alert_id == first.alert_id and amended.count == 1
    again = await stub.Publish(pb.PublishRequest(event=later), metadata=md(SERVICE))
    assert again.disposition == pb.PUBLISH_DISPOSITION_DUPLICATE

    got = await stub.GetAlert(
        pb.GetAlertRequest(alert_id=first.alert_id, include_history=True), metadata=md(OPERATOR_A)
    )
    alert = got.alert
    assert alert.count == 1 and alert.latest.event_id == event.event_id
    assert alert.latest.clip.key.endswith("around.mp4")
    assert alert.latest.attributes["score"] == 0.9 and alert.latest.attributes["clip_after_s"] == 4.0
    assert [h.kind for h in got.history] == [pb.ALERT_UPDATE_KIND_CREATED, pb.ALERT_UPDATE_KIND_UPDATED]

    audit = audit_pb2_grpc.AuditServiceStub(alerting.channel)
    records = await audit.ListAudit(
        audit_pb2.ListAuditRequest(action_prefix="alert.evidence_added"), metadata=md(AUDITOR_A)
    )
    (record,) = records.records
    assert record.target == first.alert_id
    assert record.details["clip"]["key"].endswith("around.mp4")
    assert record.details["event_id"] == event.event_id


async def test_an_amendment_in_the_same_batch_as_its_event(alerting: Running) -> None:
    stub = alerting.stub()
    event = camera_event(clip=clip("before"))
    batch = await stub.PublishBatch(
        pb.PublishBatchRequest(events=[event, amendment(event, "around")]), metadata=md(SERVICE)
    )
    created, amended = batch.results
    assert created.disposition == pb.PUBLISH_DISPOSITION_CREATED
    assert amended.disposition == pb.PUBLISH_DISPOSITION_AMENDED and amended.alert_id == created.alert_id
    got = await stub.GetAlert(pb.GetAlertRequest(alert_id=created.alert_id), metadata=md(OPERATOR_A))
    assert got.alert.latest.clip.key.endswith("around.mp4") and got.alert.count == 1


async def test_a_newer_occurrence_keeps_its_own_clip(alerting: Running) -> None:
    stub = alerting.stub()
    first = camera_event(clip=clip("one"))
    second = camera_event(clip=clip("two"))
    for e in (first, second):
        await stub.Publish(pb.PublishRequest(event=e), metadata=md(SERVICE))
    late = await stub.Publish(pb.PublishRequest(event=amendment(first, "one-around")), metadata=md(SERVICE))
    assert late.disposition == pb.PUBLISH_DISPOSITION_AMENDED
    got = await stub.GetAlert(pb.GetAlertRequest(alert_id=late.alert_id), metadata=md(OPERATOR_A))
    assert got.alert.count == 2 and got.alert.latest.clip.key.endswith("two.mp4")


async def test_amendments_that_cannot_apply_are_refused_and_may_come_again(alerting: Running) -> None:
    stub = alerting.stub()
    unknown = camera_event(clip=clip("x"))
    early = amendment(unknown, "x-around")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Publish(pb.PublishRequest(event=early), metadata=md(SERVICE))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "opened or joined no alert" in (err.value.details() or "")
    # Refused, not recorded: once its event is in, the same amendment applies.
    await stub.Publish(pb.PublishRequest(event=unknown), metadata=md(SERVICE))
    ok = await stub.Publish(pb.PublishRequest(event=early), metadata=md(SERVICE))
    assert ok.disposition == pb.PUBLISH_DISPOSITION_AMENDED

    other_camera = amendment(unknown, "y", camera="cam-2")
    batch = await stub.PublishBatch(pb.PublishBatchRequest(events=[other_camera]), metadata=md(SERVICE))
    assert batch.results[0].disposition == pb.PUBLISH_DISPOSITION_REJECTED
    assert "another source" in batch.results[0].error


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda e: setattr(e, "amends", e.event_id), "names the event itself"),
        (lambda e: setattr(e, "resolves", True), "either resolves or amends"),
        (lambda e: setattr(e, "amends", "x" * 100), "amends is longer"),
    ],
)
async def test_malformed_amendments_are_invalid(alerting: Running, mutate, words) -> None:  # type: ignore[no-untyped-def]
    event = amendment(camera_event(), "z")
    mutate(event)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await alerting.stub().Publish(pb.PublishRequest(event=event), metadata=md(SERVICE))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in (err.value.details() or "")
