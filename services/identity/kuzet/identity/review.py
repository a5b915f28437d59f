"""Review RPCs (queue, decisions) and the audited viewing of face images."""

from __future__ import annotations

import logging

import grpc
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kuzet.common.caller import current_caller
from kuzet.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from kuzet.common.events import new_event
from kuzet.common.paging import Keyset
from kuzet.common.timeutil import utcnow
from kuzet.common.v1 import common_pb2
from kuzet.identity.convert import match_subject
from kuzet.identity.models import (
    ImageRow,
    MatchRow,
    ReviewRow,
)
from kuzet.identity.rpcbase import PAGING, REVIEWERS, VIEWERS, ServicerBase
from kuzet.identity.v1 import identity_pb2 as pb

CONFIRMED_EVENT = "face_match_confirmed"

log = logging.getLogger(__name__)

REVIEW_KEYS = Keyset("identity.reviews", MatchRow.created_at, MatchRow.match_id)


class ReviewRpcs(ServicerBase):
    async def ListReviews(
        self, request: pb.ListReviewsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListReviewsResponse:
        caller = current_caller()
        self._require(caller, REVIEWERS)
        size = PAGING.size(request.page)
        after = REVIEW_KEYS.after(request.page.page_token)
        state = request.state or pb.MATCH_STATE_PENDING

        def load(s: Session) -> tuple[list[MatchRow], str]:
            q = select(MatchRow).where(MatchRow.agency_id == caller.agency, MatchRow.state == state)
            if (sites := caller.site_limit(caller.agency)) is not None:
                # A reviewer limited to sites reviews the faces seen there (a search's own
                # matches belong to no site).
                q = q.where(MatchRow.source_site.in_(sorted(sites)))
            if request.gallery_id:
                q = q.where(MatchRow.gallery_id == request.gallery_id)
            return REVIEW_KEYS.page(s.scalars(REVIEW_KEYS.query(q, after, size)).all(), size)

        rows, token = await self.db.run(load)

        def convert(s: Session) -> list[pb.Match]:
            return [self._match_pb(s, m) for m in rows]

        matches = await self.db.run(convert)
        await self._record(
            "identity.review.list",
            request.gallery_id or "*",
            count=len(matches),
            state=pb.MatchState.Name(state),
        )
        return pb.ListReviewsResponse(matches=matches, page=common_pb2.PageResponse(next_page_token=token))

    async def SubmitReview(
        self, request: pb.SubmitReviewRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitReviewResponse:
        caller = current_caller()
        self._require(caller, REVIEWERS)
        if not request.match_id:
            raise InvalidArgument("match_id is required")
        if request.decision not in (pb.REVIEW_DECISION_CONFIRM, pb.REVIEW_DECISION_REJECT):
            raise InvalidArgument("decision must be REVIEW_DECISION_CONFIRM or REVIEW_DECISION_REJECT")
        if not request.reason.strip():
            raise InvalidArgument("reason is required for every review decision")
        match = await self.db.run(lambda s: s.get(MatchRow, request.match_id))
        if match is None or not caller.sees_site(match.agency_id, match.source_site):
            raise NotFound(f"match {request.match_id} not found")
        if match.agency_id != caller.agency:
            raise await self._deny(
                caller,
                "identity.review",
                match.match_id,
                f"agency {caller.agency} may not review matches of agency {match.agency_id}",
            )
        if match.created_by == caller.subject:
            raise PermissionDenied("a reviewer may not review a match from a search they made themselves")

        def review(s: Session) -> pb.Match:
            m = s.get(MatchRow, request.match_id, with_for_update=True)
            assert m is not None
            if m.state != pb.MATCH_STATE_PENDING:
                raise FailedPrecondition(f"match {m.match_id} is already {pb.MatchState.Name(m.state)}")
            done = s.scalar(
                select(ReviewRow).where(
                    ReviewRow.match_id == m.match_id, ReviewRow.reviewer == caller.subject
                )
            )
            if done is not None:
                raise AlreadyExists(
                    f"{caller.subject} already reviewed match {m.match_id}: "
                    "confirmations must come from distinct reviewers"
                )
            s.add(
                ReviewRow(
                    match_id=m.match_id,
                    reviewer=caller.subject,
                    decision=request.decision,
                    reason=request.reason.strip(),
                    reviewed_at=utcnow(),
                )
            )
            s.flush()
            confirms = (
                s.scalar(
                    select(func.count())
                    .select_from(ReviewRow)
                    .where(ReviewRow.match_id == m.match_id, ReviewRow.decision == pb.REVIEW_DECISION_CONFIRM)
                )
                or 0
            )
            if request.decision == pb.REVIEW_DECISION_REJECT:
                m.state = pb.MATCH_STATE_REJECTED
            elif confirms >= m.required_reviewers:
                m.state = pb.MATCH_STATE_CONFIRMED
            self.audit.append(
                "identity.review",
                m.match_id,
                details={
                    "decision": pb.ReviewDecision.Name(request.decision),
                    "reason": request.reason,
                    "gallery_id": m.gallery_id,
                    "person_id": m.person_id,
                    "state": pb.MatchState.Name(m.state),
                    "confirmations": confirms,
                    "required": m.required_reviewers,
                },
                session=s,
            )
            return self._match_pb(s, m)

        try:
            result = await self.db.run(review)
        except IntegrityError:
            raise AlreadyExists(f"{caller.subject} already reviewed match {request.match_id}") from None
        if result.state == pb.MATCH_STATE_CONFIRMED:
            self._announce_confirmation(result)
        return pb.SubmitReviewResponse(match=result)

    def _announce_confirmation(self, match: pb.Match) -> None:
        """Only a confirmed match may lead to action: alerting learns of the confirmation through
        its own event type, whose alert (same subject as the candidate's) is the first to name
        who matched and the one that acting on the candidate requires."""
        if self.events is None:
            log.info("match confirmed (no event sink to announce it)", extra={"match_id": match.match_id})
            return
        c = match.candidate
        source = (
            match.source
            if match.source.id
            else common_pb2.Source(kind=common_pb2.SOURCE_KIND_IDENTITY, id="identity")
        )
        self.events.publish(
            new_event(
                match.agency_id,
                CONFIRMED_EVENT,
                source,
                occurred_at=utcnow(),
                subject=match_subject(match.match_id),
                zone_id=match.zone_id,
                track_ids=[match.track_id] if match.track_id else [],
                snapshot=match.snapshot if match.snapshot.key else None,
                attributes={
                    "match_id": match.match_id,
                    "candidate_event_id": match.event_id,
                    "gallery_id": c.gallery_id,
                    "person_id": c.person_id,
                    "score": round(c.score, 4),
                    "reviewers": [r.reviewer for r in match.reviews],
                    "confirmed": True,
                },
                summary=f"Match confirmed by {len(match.reviews)} reviewers: "
                f"{c.display_name or c.external_id}, score {c.score:.2f}",
            )
        )

    # -- images -------------------------------------------------------------------------------

    async def GetPersonImage(
        self, request: pb.GetPersonImageRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPersonImageResponse:
        caller = current_caller()
        self._require(caller, VIEWERS)
        if not request.image_id:
            raise InvalidArgument("image_id is required")
        if not request.purpose.strip():
            raise InvalidArgument("purpose is required: viewing a face image is audited")
        image = await self.db.run(lambda s: s.get(ImageRow, request.image_id))
        if image is None:
            raise NotFound(f"image {request.image_id} not found")
        await self._gallery_for(caller, image.gallery_id, "identity.image.view", own=False)
        data = await self.objects.get(image.object_key)
        await self._record(
            "identity.image.view",
            image.image_id,
            gallery_id=image.gallery_id,
            person_id=image.person_id,
            purpose=request.purpose,
        )
        return pb.GetPersonImageResponse(
            data=data,
            ref=common_pb2.ObjectRef(
                key=image.object_key,
                sha256=image.sha256,
                size_bytes=image.size_bytes,
                content_type=image.content_type,
            ),
        )

    async def GetProbeImage(
        self, request: pb.GetProbeImageRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetProbeImageResponse:
        caller = current_caller()
        self._require(caller, VIEWERS)
        if not request.match_id:
            raise InvalidArgument("match_id is required")
        if not request.purpose.strip():
            raise InvalidArgument("purpose is required: viewing a face image is audited")
        m = await self.db.run(lambda s: s.get(MatchRow, request.match_id))
        if m is None or not caller.sees_site(m.agency_id, m.source_site):
            raise NotFound(f"match {request.match_id} not found")
        if m.agency_id != caller.agency:
            raise await self._deny(
                caller,
                "identity.probe.view",
                m.match_id,
                f"agency {caller.agency} may not view matches of agency {m.agency_id}",
            )
        if not m.probe_key:
            raise NotFound(f"match {m.match_id} has no stored probe image")
        data = await self.objects.get(m.probe_key)
        await self._record("identity.probe.view", m.match_id, purpose=request.purpose)
        return pb.GetProbeImageResponse(
            data=data,
            ref=common_pb2.ObjectRef(
                key=m.probe_key,
                sha256=m.probe_sha256,
                size_bytes=m.probe_size,
                content_type=m.probe_content_type,
            ),
        )
