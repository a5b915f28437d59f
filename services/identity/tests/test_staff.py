"""Staff galleries (issue #19 item 3): staff are enrolled with consent on a legal basis; a staff
match opens no review and raises no alert but tells ingest that staff are in view; every other
gallery keeps the review gate."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf.json_format import MessageToDict

from kuzet.alerting.v1 import alerting_pb2
from kuzet.common.caller import caller_metadata
from kuzet.common.v1 import audit_pb2
from kuzet.identity.v1 import identity_pb2 as pb

from .conftest import ADMIN, AUDITOR, INGEST, REVIEWER_1, AlertingStub, Photos, Running, md
from .test_sightings import OPERATOR, track
from .test_tracks import face_crop

pytestmark = pytest.mark.asyncio(loop_scope="session")

CONSENT = "consent form HR-2026-114, signed 2026-03-01"


async def staff_and_watchlist(running: Running, photos: Photos) -> tuple[pb.Person, pb.Person]:
    """Obama is on the staff, Biden on a watchlist."""
    staff = await running.gallery(pb.GALLERY_KIND_STAFF, name="block B officers", purpose="staff in view")
    watchlist = await running.gallery(name="escapees")
    officer = (await running.enrol(staff.gallery_id, [photos.obama[0]], "Obama", consent=CONSENT)).person
    wanted = (await running.enrol(watchlist.gallery_id, [photos.biden], "Biden")).person
    return officer, wanted


async def refused(call: object) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call  # type: ignore[misc]
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    return str(err.value.details())


async def test_staff_are_enrolled_only_with_consent_and_a_legal_basis(
    identity: Running, photos: Photos
) -> None:
    message = await refused(identity.gallery(pb.GALLERY_KIND_STAFF, legal_basis=" "))
    assert "legal_basis" in message
    staff = await identity.gallery(pb.GALLERY_KIND_STAFF, name="officers", legal_basis="Prison Act art. 12")
    message = await refused(identity.enrol(staff.gallery_id, [photos.obama[0]], "Obama"))
    assert "consent" in message
    await refused(identity.enrol(staff.gallery_id, [photos.obama[0]], "Obama", consent="  "))

    enrolled = await identity.enrol(staff.gallery_id, [photos.obama[0]], "Obama", consent=CONSENT)
    assert enrolled.person.consent == CONSENT
    # More photos of an enrolled member need no new consent; the recorded one stays.
    more = await identity.enrol(staff.gallery_id, [photos.obama[1]], "", person_id=enrolled.person.person_id)
    assert more.person.consent == CONSENT and more.person.image_count == 2
    listed = await identity.stub.ListPeople(
        pb.ListPeopleRequest(gallery_id=staff.gallery_id), metadata=md(ADMIN)
    )
    assert [p.consent for p in listed.people] == [CONSENT]
    trail = await identity.audit_stub.ListAudit(
        audit_pb2.ListAuditRequest(action_prefix="identity.enrol"), metadata=md(AUDITOR)
    )
    recorded = [
        MessageToDict(r.details).get("consent") for r in trail.records if r.target == staff.gallery_id
    ]
    assert recorded == [CONSENT, None]
    # Other kinds keep their rules: no consent asked of a watchlist entry.
    watchlist = await identity.gallery(name="escapees")
    assert (await identity.enrol(watchlist.gallery_id, [photos.biden], "Biden")).person.person_id


async def test_a_staff_match_opens_no_review_and_a_watchlist_match_still_does(
    identity: Running, photos: Photos
) -> None:
    officer, wanted = await staff_and_watchlist(identity, photos)
    officer_crop = await face_crop(identity, photos.obama[2])
    wanted_crop = await face_crop(identity, photos.biden)

    seen = await identity.stub.MatchTrack(track("cam-cell-b", 1, officer_crop), metadata=md(INGEST))
    assert seen.outcome == pb.TRACK_OUTCOME_STAFF
    assert not seen.candidates and not seen.event_id
    (sighting,) = seen.staff
    assert sighting.person_id == officer.person_id and sighting.external_id == "obama"
    assert sighting.score >= sighting.threshold
    queue = await identity.stub.ListReviews(pb.ListReviewsRequest(), metadata=md(REVIEWER_1))
    assert not queue.matches, "a staff match is not a review case"

    matched = await identity.stub.MatchTrack(track("cam-cell-b", 2, wanted_crop), metadata=md(INGEST))
    assert matched.outcome == pb.TRACK_OUTCOME_CANDIDATE and not matched.staff
    assert await identity.matched(matched) == [wanted.person_id]

    # The searcher's 1:N search in alert mode: the same split.
    found = await identity.identify(photos.obama[2])
    assert not found.candidates and [s.person_id for s in found.staff] == [officer.person_id]
    queue = await identity.stub.ListReviews(pb.ListReviewsRequest(), metadata=md(REVIEWER_1))
    assert [m.candidate.person_id for m in queue.matches] == [wanted.person_id]

    # The sighting is on the record like every search.
    trail = await identity.audit_stub.ListAudit(
        audit_pb2.ListAuditRequest(action_prefix="identity.track_match"), metadata=md(AUDITOR)
    )
    by_track = {int(r.details["track_id"]): MessageToDict(r.details)["candidates"] for r in trail.records}
    assert by_track[1] == [
        {
            "person_id": officer.person_id,
            "gallery_id": officer.gallery_id,
            "score": pytest.approx(round(sighting.score, 4)),
            "staff": True,
        }
    ]


async def test_a_staff_match_raises_no_alert_and_a_watchlist_match_still_does(
    identity_to_alerting: tuple[Running, AlertingStub], photos: Photos
) -> None:
    running, alerts = identity_to_alerting
    await staff_and_watchlist(running, photos)
    seen = await running.stub.MatchTrack(
        track("cam-cell-b", 1, await face_crop(running, photos.obama[2])), metadata=md(INGEST)
    )
    matched = await running.stub.MatchTrack(
        track("cam-cell-b", 2, await face_crop(running, photos.biden)), metadata=md(INGEST)
    )
    assert seen.outcome == pb.TRACK_OUTCOME_STAFF and matched.outcome == pb.TRACK_OUTCOME_CANDIDATE
    listed: list[alerting_pb2.Alert] = []
    for _ in range(100):
        reply = await alerts.ListAlerts(
            alerting_pb2.ListAlertsRequest(), metadata=caller_metadata(OPERATOR, audience="alerting")
        )
        listed = list(reply.alerts)
        if listed:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    reply = await alerts.ListAlerts(
        alerting_pb2.ListAlertsRequest(), metadata=caller_metadata(OPERATOR, audience="alerting")
    )
    assert [(a.type, a.latest.track_ids[0]) for a in reply.alerts] == [("face_match_candidate", 2)]
