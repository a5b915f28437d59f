"""Enrol -> identify -> review over gRPC, with the real inference service and real photos."""

from __future__ import annotations

import hashlib

import grpc
import pytest

from kuzet.common.grpcclient import open_channel
from kuzet.common.inference.client import FaceInput, InferenceClient
from kuzet.common.v1 import audit_pb2
from kuzet.identity.v1 import identity_pb2 as pb

from .conftest import (
    ADMIN,
    AUDITOR,
    INVESTIGATOR,
    OPERATOR,
    REVIEWER_1,
    REVIEWER_2,
    Photos,
    Running,
    md,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_enrol_identify_review(identity: Running, photos: Photos, inference_address: str) -> None:
    gallery = await identity.gallery()
    assert gallery.required_reviewers == 2  # watchlist default
    assert gallery.threshold == pytest.approx(0.45)

    enrolled = await identity.enrol(gallery.gallery_id, [photos.obama[0], photos.obama[1]], "Obama")
    assert [r.accepted for r in enrolled.results] == [True, True], enrolled.results
    assert enrolled.person.image_count == 2
    biden = await identity.enrol(gallery.gallery_id, [photos.biden], "Biden", caller=OPERATOR)
    assert biden.results[0].accepted

    listed = await identity.stub.ListGalleries(pb.ListGalleriesRequest(), metadata=md(ADMIN))
    assert [(g.gallery_id, g.person_count, g.model) for g in listed.galleries] == [
        (gallery.gallery_id, 2, "sface@2021dec")
    ]

    # A third, never enrolled photo of the same person.
    # Alert mode: the searcher learns that there is a candidate and its review id, not who it is.
    found = await identity.identify(photos.obama[2])
    assert found.model == "sface@2021dec"
    assert await identity.matched(found) == [enrolled.person.person_id]
    top = found.candidates[0]
    assert top.above_threshold and top.score >= top.threshold == pytest.approx(0.45)

    # The same search from an embedding made elsewhere (here: by the inference service itself).
    async with open_channel(inference_address, audience="inference") as channel:
        client = InferenceClient(channel)
        face = (await client.detect_faces([photos.obama[2]]))[0].faces[0]
        vector = (await client.embed_faces([photos.obama[2]], [FaceInput.from_detection(0, face)]))[0].vector
    by_vector = await identity.stub.Identify(
        pb.IdentifyRequest(
            probe=pb.Probe(embedding=pb.Embedding(values=vector.tolist(), model="sface@2021dec")),
            mode=pb.MATCH_MODE_INVESTIGATION,
            top_k=1,
            purpose="case 2026/117",
        ),
        metadata=md(INVESTIGATOR),
    )
    assert by_vector.candidates[0].person_id == enrolled.person.person_id
    assert by_vector.candidates[0].score == pytest.approx(top.score, abs=1e-3)
    with pytest.raises(grpc.aio.AioRpcError) as wrong_dim:
        await identity.stub.Identify(
            pb.IdentifyRequest(
                probe=pb.Probe(embedding=pb.Embedding(values=[0.1] * 64, model="sface@2021dec")),
                mode=pb.MATCH_MODE_ALERT,
                purpose="p",
            ),
            metadata=md(INVESTIGATOR),
        )
    assert wrong_dim.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "dimensions" in (wrong_dim.value.details() or "")

    # Investigation mode: top-k below the threshold too, and no review opened.
    investigation = await identity.identify(photos.obama[2], mode=pb.MATCH_MODE_INVESTIGATION, top_k=5)
    assert [c.person_id for c in investigation.candidates] == [
        enrolled.person.person_id,
        biden.person.person_id,
    ]
    assert not investigation.candidates[1].above_threshold
    assert not any(c.match_id for c in investigation.candidates)
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await identity.identify(photos.obama[2], caller=OPERATOR, mode=pb.MATCH_MODE_INVESTIGATION)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED

    queue = await identity.stub.ListReviews(pb.ListReviewsRequest(), metadata=md(REVIEWER_1))
    assert [m.match_id for m in queue.matches] == [top.match_id]
    match = queue.matches[0]
    assert match.state == pb.MATCH_STATE_PENDING and match.required_reviewers == 2
    assert match.candidate.score == pytest.approx(top.score) and match.candidate.threshold == pytest.approx(
        0.45
    )
    assert match.probe_image.key and match.enrolled_image.key
    assert match.candidate.display_name == "Obama"  # the reviewer sees who it is
    assert match.candidate.image_id in {r.image_id for r in enrolled.results}

    probe = await identity.stub.GetProbeImage(
        pb.GetProbeImageRequest(match_id=top.match_id, purpose="review"), metadata=md(REVIEWER_1)
    )
    assert hashlib.sha256(probe.data).hexdigest() == match.probe_image.sha256
    enrolled_image = await identity.stub.GetPersonImage(
        pb.GetPersonImageRequest(image_id=match.candidate.image_id, purpose="review"),
        metadata=md(REVIEWER_1),
    )
    assert enrolled_image.data in (photos.obama[0], photos.obama[1])

    async def review(caller, decision=pb.REVIEW_DECISION_CONFIRM, reason="same scar, same ears"):  # type: ignore[no-untyped-def]
        request = pb.SubmitReviewRequest(match_id=top.match_id, decision=decision, reason=reason)
        return (await identity.stub.SubmitReview(request, metadata=md(caller))).match

    first = await review(REVIEWER_1)
    assert first.state == pb.MATCH_STATE_PENDING and len(first.reviews) == 1
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await review(REVIEWER_1)
    assert again.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "distinct reviewers" in (again.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as no_reason:
        await review(REVIEWER_2, reason=" ")
    assert no_reason.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    confirmed = await review(REVIEWER_2)
    assert confirmed.state == pb.MATCH_STATE_CONFIRMED
    assert [r.reviewer for r in confirmed.reviews] == ["rev-1", "rev-2"]
    with pytest.raises(grpc.aio.AioRpcError) as closed:
        await review(REVIEWER_2, decision=pb.REVIEW_DECISION_REJECT)
    assert closed.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    # A rejection with a reason ends a candidate at once.
    second = await identity.identify(photos.obama[3])
    rejected = await identity.stub.SubmitReview(
        pb.SubmitReviewRequest(
            match_id=second.candidates[0].match_id,
            decision=pb.REVIEW_DECISION_REJECT,
            reason="probe is a poster, not a person",
        ),
        metadata=md(REVIEWER_1),
    )
    assert rejected.match.state == pb.MATCH_STATE_REJECTED

    # Searchers may not review their own searches' matches.
    third = await identity.identify(photos.obama[4], caller=ADMIN)
    with pytest.raises(grpc.aio.AioRpcError) as own:
        await identity.stub.SubmitReview(
            pb.SubmitReviewRequest(
                match_id=third.candidates[0].match_id, decision=pb.REVIEW_DECISION_CONFIRM, reason="x"
            ),
            metadata=md(ADMIN),
        )
    assert own.value.code() == grpc.StatusCode.PERMISSION_DENIED

    verify = await identity.stub.Verify(
        pb.VerifyRequest(
            probe=pb.Probe(image=photos.obama[2]), person_id=biden.person.person_id, purpose="visitor check"
        ),
        metadata=md(OPERATOR),
    )
    assert not verify.match and verify.score < verify.threshold
    verify = await identity.stub.Verify(
        pb.VerifyRequest(
            probe=pb.Probe(image=photos.obama[2]),
            person_id=enrolled.person.person_id,
            purpose="visitor check",
        ),
        metadata=md(OPERATOR),
    )
    assert verify.match and verify.score >= 0.6

    trail = await identity.audit_stub.ListAudit(
        audit_pb2.ListAuditRequest(action_prefix="identity."), metadata=md(AUDITOR)
    )
    actions = [r.action for r in trail.records]
    for action in (
        "identity.gallery.create",
        "identity.enrol",
        "identity.search",
        "identity.review",
        "identity.probe.view",
        "identity.image.view",
        "identity.verify",
    ):
        assert action in actions, action
    search = next(r for r in trail.records if r.action == "identity.search")
    assert search.actor == "inv-p" and search.target == gallery.gallery_id
    assert search.details["purpose"] == "case 2026/117"
    assert search.details["probe_sha256"] == hashlib.sha256(photos.obama[2]).hexdigest()
    assert search.details["candidates"][0]["person_id"] == enrolled.person.person_id
    verified = await identity.audit_stub.VerifyAudit(audit_pb2.VerifyAuditRequest(), metadata=md(AUDITOR))
    assert verified.ok and verified.records_checked >= len(actions)


async def test_bad_requests_are_invalid_argument(identity_sqlite: Running, photos: Photos) -> None:
    stub = identity_sqlite.stub
    cases = [
        (
            stub.CreateGallery(
                pb.CreateGalleryRequest(name="x", kind=pb.GALLERY_KIND_STAFF, purpose="p", owner="o"),
                metadata=md(ADMIN),
            ),
            "legal_basis",
        ),
        (
            stub.Identify(
                pb.IdentifyRequest(probe=pb.Probe(image=photos.biden), mode=pb.MATCH_MODE_ALERT),
                metadata=md(INVESTIGATOR),
            ),
            "purpose",
        ),
        (
            stub.Identify(
                pb.IdentifyRequest(
                    probe=pb.Probe(image=b"not a jpeg"), mode=pb.MATCH_MODE_ALERT, purpose="p"
                ),
                metadata=md(INVESTIGATOR),
            ),
            "UNREADABLE",
        ),
        (
            stub.Identify(
                pb.IdentifyRequest(
                    probe=pb.Probe(embedding=pb.Embedding(values=[0, 0], model="m")),
                    mode=pb.MATCH_MODE_ALERT,
                    purpose="p",
                ),
                metadata=md(INVESTIGATOR),
            ),
            "non-zero",
        ),
        (
            stub.Identify(
                pb.IdentifyRequest(probe=pb.Probe(image=photos.biden), purpose="p"), metadata=md(INVESTIGATOR)
            ),
            "mode",
        ),
    ]
    for call, needle in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert needle in (err.value.details() or ""), err.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await stub.ListGalleries(pb.ListGalleriesRequest())
    assert anonymous.value.code() == grpc.StatusCode.PERMISSION_DENIED
