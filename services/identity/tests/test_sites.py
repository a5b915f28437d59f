"""Per-site permissions in identity: a reviewer limited to sites reviews the faces seen there
(issue #21 item 1). Galleries stay the agency's: a watchlist is the agency's list."""

from __future__ import annotations

import grpc
import pytest

from kuzet.common.caller import Caller
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import common_pb2
from kuzet.identity.v1 import identity_pb2 as pb

from .conftest import INGEST, REVIEWER_1, Photos, Running, md
from .test_tracks import face_crop

pytestmark = pytest.mark.asyncio(loop_scope="session")

BLOCK_A = Caller("rev-a", "prison", frozenset({"reviewer"}), sites=frozenset({"block-a"}))


def seen_at(site: str, camera_id: str, crop: bytes) -> pb.MatchTrackRequest:
    return pb.MatchTrackRequest(
        crop=crop,
        source=common_pb2.Source(
            kind=common_pb2.SOURCE_KIND_CAMERA, id=camera_id, site_id=site, name=camera_id
        ),
        track_id=1,
        frame_time=to_timestamp(utcnow()),
    )


async def test_a_reviewer_limited_to_a_site_sees_and_decides_only_its_matches(
    identity: Running, photos: Photos
) -> None:
    gallery = await identity.gallery(name="escapees")
    await identity.enrol(gallery.gallery_id, [photos.obama[0]], "Obama")
    crop = await face_crop(identity, photos.obama[2])
    here = await identity.stub.MatchTrack(seen_at("block-a", "cam-a", crop), metadata=md(INGEST))
    there = await identity.stub.MatchTrack(seen_at("block-b", "cam-b", crop), metadata=md(INGEST))
    mine, theirs = here.candidates[0].match_id, there.candidates[0].match_id

    queue = (await identity.stub.ListReviews(pb.ListReviewsRequest(), metadata=md(BLOCK_A))).matches
    assert [m.match_id for m in queue] == [mine]
    everyone = (await identity.stub.ListReviews(pb.ListReviewsRequest(), metadata=md(REVIEWER_1))).matches
    assert {m.match_id for m in everyone} == {mine, theirs}

    # Block B's match reads as not there: no review, no probe face.
    for call in (
        identity.stub.SubmitReview(
            pb.SubmitReviewRequest(match_id=theirs, decision=pb.REVIEW_DECISION_CONFIRM, reason="same man"),
            metadata=md(BLOCK_A),
        ),
        identity.stub.GetProbeImage(
            pb.GetProbeImageRequest(match_id=theirs, purpose="review"), metadata=md(BLOCK_A)
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.NOT_FOUND, err.value.details()
    probe = await identity.stub.GetProbeImage(
        pb.GetProbeImageRequest(match_id=mine, purpose="review"), metadata=md(BLOCK_A)
    )
    assert probe.data[:2] == b"\xff\xd8"
    done = await identity.stub.SubmitReview(
        pb.SubmitReviewRequest(match_id=mine, decision=pb.REVIEW_DECISION_REJECT, reason="another man"),
        metadata=md(BLOCK_A),
    )
    assert done.match.state == pb.MATCH_STATE_REJECTED
