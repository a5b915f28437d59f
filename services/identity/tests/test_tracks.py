"""Faces from ingest: matched once per track; an alert-mode hit reaches a real alerting service
as a face_match_candidate event, unconfirmed until reviewed."""

from __future__ import annotations

import asyncio
import io

import grpc
import pytest
from PIL import Image

from kuzet.alerting.v1 import alerting_pb2
from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import audit_pb2, common_pb2
from kuzet.identity.v1 import identity_pb2 as pb

from .conftest import (
    AUDITOR,
    INGEST,
    INVESTIGATOR,
    REVIEWER_1,
    REVIEWER_2,
    AlertingStub,
    Photos,
    Running,
    jpeg,
    md,
    shrunk,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

CAMERA = common_pb2.Source(
    kind=common_pb2.SOURCE_KIND_CAMERA, id="cam-7", site_id="facility-12", name="Block C corridor"
)
OPERATOR = Caller("op-p", "prison", frozenset({"operator"}))


async def face_crop(running, photo: bytes) -> bytes:  # type: ignore[no-untyped-def]
    """A loose crop around the face, as ingest sends it."""
    found = await running.identify(photo, mode=pb.MATCH_MODE_INVESTIGATION)
    b = found.probe_face
    img = Image.open(io.BytesIO(photo))
    pad_x, pad_y = (b.x2 - b.x1) * 0.3, (b.y2 - b.y1) * 0.3
    return jpeg(
        img.crop(
            (
                int(max(0, b.x1 - pad_x)),
                int(max(0, b.y1 - pad_y)),
                int(min(img.width, b.x2 + pad_x)),
                int(min(img.height, b.y2 + pad_y)),
            )
        )
    )


async def test_tracks_match_once_and_alert_as_unconfirmed_candidates(
    identity_to_alerting: tuple[Running, AlertingStub], photos: Photos
) -> None:
    running, stub = identity_to_alerting
    gallery = await running.gallery(name="escapees")
    obama = await running.enrol(gallery.gallery_id, [photos.obama[0]], "Obama")
    crop = await face_crop(running, photos.obama[2])

    def track(track_id: int, data: bytes) -> pb.MatchTrackRequest:
        return pb.MatchTrackRequest(
            crop=data,
            source=CAMERA,
            track_id=track_id,
            zone_id="zone-yard",
            frame_time=to_timestamp(utcnow()),
            box=common_pb2.Box(x1=10, y1=20, x2=110, y2=150),
            snapshot=common_pb2.ObjectRef(
                key="ingest/cam-7/frame-1.jpg",
                sha256="ab" * 32,
                size_bytes=1234,
                content_type="image/jpeg",
            ),
        )

    # A crop below the bar is refused and does not use up the track...
    refused = await running.stub.MatchTrack(track(41, shrunk(crop, 0.1)), metadata=md(INGEST))
    assert refused.outcome == pb.TRACK_OUTCOME_REFUSED
    assert refused.refusal in (pb.REFUSAL_REASON_TOO_SMALL, pb.REFUSAL_REASON_NO_FACE), refused.detail
    # ...so a better crop of the same track is matched.
    hit = await running.stub.MatchTrack(track(41, crop), metadata=md(INGEST))
    assert hit.outcome == pb.TRACK_OUTCOME_CANDIDATE and hit.event_id
    assert await running.matched(hit) == [obama.person.person_id]
    again = await running.stub.MatchTrack(track(41, crop), metadata=md(INGEST))
    assert again.outcome == pb.TRACK_OUTCOME_ALREADY_MATCHED and not again.candidates
    other = await running.stub.MatchTrack(track(42, photos.biden), metadata=md(INGEST))
    assert other.outcome == pb.TRACK_OUTCOME_NO_MATCH
    with pytest.raises(grpc.aio.AioRpcError) as not_ingest:
        await running.stub.MatchTrack(track(43, crop), metadata=md(INVESTIGATOR))
    assert not_ingest.value.code() == grpc.StatusCode.PERMISSION_DENIED

    # The review queue has it, with the camera context.
    queue = await running.stub.ListReviews(pb.ListReviewsRequest(), metadata=md(REVIEWER_1))
    (match,) = [m for m in queue.matches if m.track_id == 41]
    assert match.source.id == "cam-7" and match.zone_id == "zone-yard"
    assert match.snapshot.key == "ingest/cam-7/frame-1.jpg" and match.event_id == hit.event_id
    assert match.probe_image.key and match.state == pb.MATCH_STATE_PENDING

    # The event reached alerting: one alert, for the owning agency, marked unconfirmed, that
    # names the review to open and nobody.
    for _ in range(50):
        listed = await stub.ListAlerts(
            alerting_pb2.ListAlertsRequest(), metadata=caller_metadata(OPERATOR, audience="alerting")
        )
        if listed.alerts:
            break
        await asyncio.sleep(0.1)
    (alert,) = listed.alerts
    assert alert.type == "face_match_candidate" and alert.agency_id == "prison"
    assert alert.source.id == "cam-7" and alert.subject == f"match:{match.match_id}"
    attrs = alert.latest.attributes
    assert attrs["review_state"] == "pending" and attrs["confirmed"] is False
    assert attrs["match_id"] == match.match_id and "unconfirmed" in alert.latest.summary
    shown = alert.SerializeToString()
    for secret in (obama.person.person_id, b"Obama", b"obama", gallery.gallery_id, b"escapees"):
        assert (secret if isinstance(secret, bytes) else secret.encode()) not in shown
    # Nobody closes it as real before the review.
    with pytest.raises(grpc.aio.AioRpcError) as early:
        await stub.Resolve(
            alerting_pb2.ResolveRequest(
                alert_id=alert.alert_id, outcome=alerting_pb2.ALERT_OUTCOME_ACTION_TAKEN
            ),
            metadata=caller_metadata(OPERATOR, audience="alerting"),
        )
    assert early.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "unconfirmed" in (early.value.details() or "")

    # Confirmed by two reviewers: alerting hears of it through face_match_confirmed.
    for reviewer in (REVIEWER_1, REVIEWER_2):
        reviewed = await running.stub.SubmitReview(
            pb.SubmitReviewRequest(
                match_id=match.match_id,
                decision=pb.REVIEW_DECISION_CONFIRM,
                reason="same person, checked against the file",
            ),
            metadata=md(reviewer),
        )
    assert reviewed.match.state == pb.MATCH_STATE_CONFIRMED
    for _ in range(50):
        listed = await stub.ListAlerts(
            alerting_pb2.ListAlertsRequest(), metadata=caller_metadata(OPERATOR, audience="alerting")
        )
        confirmed = [a for a in listed.alerts if a.type == "face_match_confirmed"]
        if confirmed:
            break
        await asyncio.sleep(0.1)
    assert confirmed and confirmed[0].latest.attributes["match_id"] == match.match_id
    assert confirmed[0].latest.attributes["confirmed"] is True
    # Now, and only now, the alert names the person; and the candidate may be closed as real.
    assert confirmed[0].latest.attributes["person_id"] == obama.person.person_id
    assert "Obama" in confirmed[0].latest.summary
    resolved = await stub.Resolve(
        alerting_pb2.ResolveRequest(
            alert_id=alert.alert_id, outcome=alerting_pb2.ALERT_OUTCOME_ACTION_TAKEN, note="detained"
        ),
        metadata=caller_metadata(OPERATOR, audience="alerting"),
    )
    assert resolved.alert.state == alerting_pb2.ALERT_STATE_RESOLVED

    # Ingest serves all agencies with one agency-less service identity: the request names it.
    shared_ingest = Caller("service:ingest", "", frozenset({"service"}))
    with pytest.raises(grpc.aio.AioRpcError) as no_agency:
        await running.stub.MatchTrack(track(50, crop), metadata=md(shared_ingest))
    assert no_agency.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    request = track(50, crop)
    request.agency_id = "prison"
    named = await running.stub.MatchTrack(request, metadata=md(shared_ingest))
    assert named.outcome == pb.TRACK_OUTCOME_CANDIDATE
    request.agency_id = "police"
    other_agency = await running.stub.MatchTrack(request, metadata=md(shared_ingest))
    assert other_agency.outcome == pb.TRACK_OUTCOME_NO_MATCH  # police cannot see the prison gallery
    trail = await running.audit_stub.ListAudit(
        audit_pb2.ListAuditRequest(action_prefix="identity.track_match"), metadata=md(AUDITOR)
    )
    assert {r.details["track_id"] for r in trail.records} >= {41, 42, 50}
