"""A person passing the same camera on several tracks is one pending review and one alert, not
one per track (issue #20 item 8: a looping demo clip queued 74 identical reviews)."""

from __future__ import annotations

import asyncio

import pytest

from kuzet.alerting.v1 import alerting_pb2
from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import audit_pb2, common_pb2
from kuzet.identity.v1 import identity_pb2 as pb

from .conftest import AUDITOR, INGEST, REVIEWER_1, REVIEWER_2, AlertingStub, Photos, Running, md
from .test_tracks import face_crop

pytestmark = pytest.mark.asyncio(loop_scope="session")

OPERATOR = Caller("op-p", "prison", frozenset({"operator"}))


def camera(camera_id: str) -> common_pb2.Source:
    return common_pb2.Source(
        kind=common_pb2.SOURCE_KIND_CAMERA, id=camera_id, site_id="north", name=camera_id
    )


def track(camera_id: str, track_id: int, crop: bytes) -> pb.MatchTrackRequest:
    return pb.MatchTrackRequest(
        crop=crop,
        source=camera(camera_id),
        track_id=track_id,
        zone_id="corridor",
        frame_time=to_timestamp(utcnow()),
        snapshot=common_pb2.ObjectRef(
            key=f"ingest/{camera_id}/frame-{track_id}.jpg",
            sha256="cd" * 32,
            size_bytes=100,
            content_type="image/jpeg",
        ),
    )


async def candidate_alerts(alerts: AlertingStub, count: int) -> list[alerting_pb2.Alert]:
    listed: list[alerting_pb2.Alert] = []
    for _ in range(100):
        reply = await alerts.ListAlerts(
            alerting_pb2.ListAlertsRequest(), metadata=caller_metadata(OPERATOR, audience="alerting")
        )
        listed = [a for a in reply.alerts if a.type == "face_match_candidate"]
        if sum(a.count for a in listed) >= count:
            break
        await asyncio.sleep(0.1)
    return listed


async def test_repeat_tracks_of_a_person_at_a_camera_are_sightings_of_one_pending_review(
    identity_to_alerting: tuple[Running, AlertingStub], photos: Photos
) -> None:
    running, alerts = identity_to_alerting
    gallery = await running.gallery(name="escapees")
    await running.enrol(gallery.gallery_id, [photos.obama[0]], "Obama")
    crop = await face_crop(running, photos.obama[2])

    # Three loops of the clip at cam-gate, one pass at cam-yard.
    gate = [await running.stub.MatchTrack(track("cam-gate", t, crop), metadata=md(INGEST)) for t in (1, 2, 3)]
    yard = await running.stub.MatchTrack(track("cam-yard", 9, crop), metadata=md(INGEST))
    assert all(r.outcome == pb.TRACK_OUTCOME_CANDIDATE for r in [*gate, yard])
    gate_ids = {r.candidates[0].match_id for r in gate}
    assert len(gate_ids) == 1, "each track opened a review of its own"
    (match_id,) = gate_ids
    assert yard.candidates[0].match_id != match_id  # another camera is another review
    assert len({r.event_id for r in gate}) == 3  # each sighting is still an event

    queue = (await running.stub.ListReviews(pb.ListReviewsRequest(), metadata=md(REVIEWER_1))).matches
    assert sorted(m.source.id for m in queue) == ["cam-gate", "cam-yard"]
    first = next(m for m in queue if m.source.id == "cam-gate")
    # The review is the first sighting's face, still unconfirmed.
    assert first.match_id == match_id and first.track_id == 1 and first.state == pb.MATCH_STATE_PENDING
    assert first.event_id == gate[0].event_id and first.probe_image.key

    # Alerting folds the sightings into the one alert, still unconfirmed and naming nobody.
    listed = await candidate_alerts(alerts, 4)
    by_camera = {a.source.id: a for a in listed}
    assert sorted(by_camera) == ["cam-gate", "cam-yard"]
    alert = by_camera["cam-gate"]
    assert alert.count == 3 and alert.subject == f"match:{match_id}"
    assert alert.latest.snapshot.key == "ingest/cam-gate/frame-3.jpg"
    attrs = alert.latest.attributes
    assert attrs["confirmed"] is False and attrs["seen_again"] is True and attrs["match_id"] == match_id
    assert b"Obama" not in alert.SerializeToString()

    # Every track's search is on the audit trail, filed under the review it joined.
    trail = await running.audit_stub.ListAudit(
        audit_pb2.ListAuditRequest(action_prefix="identity.track_match"), metadata=md(AUDITOR)
    )
    filed = {
        int(r.details["track_id"]): r.details["candidates"][0]["match_id"]
        for r in trail.records
        if r.details["camera"] == "cam-gate"
    }
    assert filed == {1: match_id, 2: match_id, 3: match_id}

    # Once decided, the next track opens a new review: a decision covers what was reviewed.
    rejected = await running.stub.SubmitReview(
        pb.SubmitReviewRequest(match_id=match_id, decision=pb.REVIEW_DECISION_REJECT, reason="another man"),
        metadata=md(REVIEWER_2),
    )
    assert rejected.match.state == pb.MATCH_STATE_REJECTED
    later = await running.stub.MatchTrack(track("cam-gate", 4, crop), metadata=md(INGEST))
    assert later.outcome == pb.TRACK_OUTCOME_CANDIDATE
    assert later.candidates[0].match_id != match_id
    reviews = await running.audit_stub.ListAudit(
        audit_pb2.ListAuditRequest(action_prefix="identity.review"), metadata=md(AUDITOR)
    )
    decided = [r for r in reviews.records if r.action == "identity.review" and r.target == match_id]
    assert [r.details["decision"] for r in decided] == ["REVIEW_DECISION_REJECT"]
