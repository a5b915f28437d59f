"""Face-match candidates name nobody and are acted on only after the reviewers confirm them."""

from __future__ import annotations

import grpc
import pytest

from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.caller import Caller

from .conftest import OPERATOR_A, SERVICE, Running, camera_event, md

OPERATOR_B_PRISON = Caller("op-a2", "prison", frozenset({"operator"}))
POLICE_SERVICE = Caller("service:identity", "police", frozenset({"service"}))


def candidate(match_id: str, **fields: object) -> object:
    return camera_event(
        "face_match_candidate",
        subject=f"match:{match_id}",
        attributes={"match_id": match_id, "score": 0.7, "review_state": "pending", "confirmed": False},
        summary="Possible face match, unconfirmed",
        **fields,
    )


def confirmation(match_id: str, agency: str = "prison") -> object:
    return camera_event(
        "face_match_confirmed",
        agency=agency,
        subject=f"match:{match_id}",
        attributes={"match_id": match_id, "person_id": "person-42", "confirmed": True},
        summary="Match confirmed by 2 reviewers: Inmate A-1047",
    )


async def test_a_candidate_that_names_someone_is_stored_without_the_name(alerting: Running) -> None:
    stub = alerting.stub()
    leaky = camera_event(
        "face_match_candidate",
        subject="person:person-42",
        attributes={
            "match_id": "m-1",
            "person_id": "person-42",
            "external_id": "A-1047",
            "display_name": "Inmate A-1047",
            "gallery_id": "g-escapees",
            "score": 0.8,
        },
        summary="Possible match: Inmate A-1047 in escapees",
    )
    published = await stub.Publish(pb.PublishRequest(event=leaky), metadata=md(SERVICE))
    alert = (
        await stub.GetAlert(pb.GetAlertRequest(alert_id=published.alert_id), metadata=md(OPERATOR_A))
    ).alert
    assert alert.subject == "match:m-1"
    assert set(alert.latest.attributes.fields) == {"match_id", "score"}
    shown = alert.SerializeToString()
    for secret in (b"person-42", b"A-1047", b"g-escapees"):
        assert secret not in shown
    # The batch path redacts the same way; without a review id the subject is left empty.
    anonymous = camera_event("face_match_candidate", camera="cam-2", subject="person:person-42")
    batch = await stub.PublishBatch(pb.PublishBatchRequest(events=[anonymous]), metadata=md(SERVICE))
    again = await stub.GetAlert(
        pb.GetAlertRequest(alert_id=batch.results[0].alert_id), metadata=md(OPERATOR_A)
    )
    assert again.alert.subject == "" and b"person-42" not in again.alert.SerializeToString()


async def test_resolving_as_real_needs_the_confirmation(alerting: Running) -> None:
    stub = alerting.stub()
    first = await stub.Publish(pb.PublishRequest(event=candidate("m-7")), metadata=md(SERVICE))
    for outcome in (pb.ALERT_OUTCOME_ACTION_TAKEN, pb.ALERT_OUTCOME_NO_ACTION_NEEDED):
        with pytest.raises(grpc.aio.AioRpcError) as early:
            await stub.Resolve(
                pb.ResolveRequest(alert_id=first.alert_id, outcome=outcome), metadata=md(OPERATOR_A)
            )
        assert early.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "unconfirmed face_match_candidate" in (early.value.details() or "")
    # Acknowledging (seen, being looked at) is not a judgement and stays open to operators.
    await stub.Acknowledge(pb.AcknowledgeRequest(alert_id=first.alert_id), metadata=md(OPERATOR_A))

    # Only a service (identity, after the reviews) may publish the confirmation.
    with pytest.raises(grpc.aio.AioRpcError) as forged:
        await stub.Publish(pb.PublishRequest(event=confirmation("m-7")), metadata=md(OPERATOR_B_PRISON))
    assert forged.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # Another agency's confirmation of the same review id unlocks nothing here.
    await stub.Publish(
        pb.PublishRequest(event=confirmation("m-7", agency="police")), metadata=md(POLICE_SERVICE)
    )
    with pytest.raises(grpc.aio.AioRpcError) as still:
        await stub.Resolve(
            pb.ResolveRequest(alert_id=first.alert_id, outcome=pb.ALERT_OUTCOME_ACTION_TAKEN),
            metadata=md(OPERATOR_A),
        )
    assert still.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    confirmed = await stub.Publish(pb.PublishRequest(event=confirmation("m-7")), metadata=md(SERVICE))
    shown = (
        await stub.GetAlert(pb.GetAlertRequest(alert_id=confirmed.alert_id), metadata=md(OPERATOR_A))
    ).alert
    assert shown.latest.attributes["person_id"] == "person-42"  # the confirmation names the person
    done = await stub.Resolve(
        pb.ResolveRequest(alert_id=first.alert_id, outcome=pb.ALERT_OUTCOME_ACTION_TAKEN, note="detained"),
        metadata=md(OPERATOR_A),
    )
    assert done.alert.state == pb.ALERT_STATE_RESOLVED

    # A candidate the reviewers never confirmed may always be closed as not real.
    other = await stub.Publish(
        pb.PublishRequest(event=candidate("m-8", camera="cam-3")), metadata=md(SERVICE)
    )
    closed = await stub.Resolve(
        pb.ResolveRequest(alert_id=other.alert_id, outcome=pb.ALERT_OUTCOME_FALSE_ALARM),
        metadata=md(OPERATOR_A),
    )
    assert closed.alert.outcome == pb.ALERT_OUTCOME_FALSE_ALARM
