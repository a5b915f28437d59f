"""Matching RPCs: 1:N identification, 1:1 verification, tracked faces from ingest."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import grpc
import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kuzet.common.caller import Caller, current_caller, reset_current_caller, set_current_caller
from kuzet.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from kuzet.common.events import new_event
from kuzet.common.timeutil import from_timestamp, utcnow
from kuzet.common.v1 import common_pb2
from kuzet.identity.convert import match_subject, unconfirmed
from kuzet.identity.faces import Refusal
from kuzet.identity.models import (
    EmbeddingRow,
    GalleryRow,
    MatchRow,
    PersonRow,
    TrackRow,
)
from kuzet.identity.rpcbase import SEARCHERS, ProbeFace, ServicerBase, is_expired
from kuzet.identity.sightings import pending_at_camera, sighting_key
from kuzet.identity.staff import split_staff
from kuzet.identity.v1 import identity_pb2 as pb

log = logging.getLogger(__name__)


class MatchingRpcs(ServicerBase):
    # -- matching -----------------------------------------------------------------------------

    async def Identify(
        self, request: pb.IdentifyRequest, context: grpc.aio.ServicerContext
    ) -> pb.IdentifyResponse:
        caller = current_caller()
        self._require(caller, SEARCHERS)
        if request.mode not in (pb.MATCH_MODE_ALERT, pb.MATCH_MODE_INVESTIGATION):
            raise InvalidArgument("mode must be MATCH_MODE_ALERT or MATCH_MODE_INVESTIGATION")
        if request.mode == pb.MATCH_MODE_INVESTIGATION:
            caller.require_role("investigator")
        if not request.purpose.strip():
            raise InvalidArgument("purpose is required: every search is audited with its purpose")
        top_k = request.top_k or 10
        if not 0 < top_k <= self.settings.max_top_k:
            raise InvalidArgument(f"top_k must be between 1 and {self.settings.max_top_k}")
        probe = await self._probe(request.probe)
        galleries = await self._searchable(caller, request.gallery_ids, probe.model, "identity.search")
        hits = await self._search(galleries, probe.vector, request.mode, top_k)
        staff: list[pb.StaffSighting] = []
        if request.mode == pb.MATCH_MODE_ALERT:
            staff, hits = split_staff(hits)

        candidates: list[pb.Candidate] = []
        if request.mode == pb.MATCH_MODE_ALERT and hits:
            data = probe.face.aligned_jpeg if probe.face else b""
            ref = await self._store_probe(caller.agency, data) if data else ("", "", 0, "")
            rows = [
                self._new_match(
                    caller,
                    g,
                    h,
                    ref,
                    purpose=request.purpose,
                    source_kind=common_pb2.SOURCE_KIND_IDENTITY,
                    source_id="identify",
                )
                for g, h in hits
            ]
            await self.db.run(lambda s: s.add_all(rows))
            candidates = [self._candidate(g, h, r.match_id) for (g, h), r in zip(hits, rows, strict=True)]
        else:
            candidates = [self._candidate(g, h) for g, h in hits]
        # The audit names who matched (an auditor must see it); the searcher does not, in alert
        # mode, until the reviewers confirm.
        await self._audit_search(
            caller,
            "identity.search",
            galleries,
            probe,
            candidates,
            staff,
            purpose=request.purpose,
            mode=pb.MatchMode.Name(request.mode),
            top_k=top_k,
        )
        if request.mode == pb.MATCH_MODE_ALERT:
            candidates = [unconfirmed(c) for c in candidates]
        response = pb.IdentifyResponse(candidates=candidates, model=probe.model, staff=staff)
        if probe.face is not None:
            b = probe.face.box
            response.probe_face.CopyFrom(common_pb2.Box(x1=b.x1, y1=b.y1, x2=b.x2, y2=b.y2))
        return response

    async def _audit_search(
        self,
        caller: Caller,
        action: str,
        galleries: list[GalleryRow],
        probe: ProbeFace,
        candidates: Sequence[pb.Candidate],
        staff: Sequence[pb.StaffSighting],
        **details: Any,
    ) -> None:
        found = [
            {
                "person_id": c.person_id,
                "gallery_id": c.gallery_id,
                "score": round(c.score, 4),
                "match_id": c.match_id,
            }
            for c in candidates
        ]
        # Staff sightings open no review, and are on the record like every other result.
        found += [
            {"person_id": c.person_id, "gallery_id": c.gallery_id, "score": round(c.score, 4), "staff": True}
            for c in staff
        ]
        target = ",".join(g.gallery_id for g in galleries) or "-"
        await self._record(
            action, target, probe_sha256=probe.digest, model=probe.model, candidates=found, **details
        )
        # The owner of a shared gallery learns that another agency searched it.
        for g in galleries:
            if g.agency_id != caller.agency:
                await self.audit.record(
                    action,
                    g.gallery_id,
                    "ok",
                    {
                        "by_agency": caller.agency,
                        "probe_sha256": probe.digest,
                        "candidates": [f for f in found if f["gallery_id"] == g.gallery_id],
                        **details,
                    },
                    agency=g.agency_id,
                )

    async def Verify(self, request: pb.VerifyRequest, context: grpc.aio.ServicerContext) -> pb.VerifyResponse:
        caller = current_caller()
        self._require(caller, SEARCHERS)
        if not request.person_id:
            raise InvalidArgument("person_id is required")
        if not request.purpose.strip():
            raise InvalidArgument("purpose is required: every verification is audited with its purpose")
        person = await self.db.run(lambda s: s.get(PersonRow, request.person_id))
        if person is None:
            raise NotFound(f"person {request.person_id} not found")
        g = await self._gallery_for(caller, person.gallery_id, "identity.verify", own=False)
        now = utcnow()
        if is_expired(g.expires_at, now) or is_expired(person.expires_at, now):
            raise FailedPrecondition(
                f"the entry of person {person.person_id} has expired and no longer matches"
            )
        probe = await self._probe(request.probe)
        model = g.model or self.registry.model(g.gallery_id)
        if model != probe.model:
            raise FailedPrecondition(
                f"person {person.person_id} is enrolled with {model or 'no'} embeddings, "
                f"the probe is {probe.model}"
            )
        # From the database, not this replica's index: an enrolment made on another replica a
        # moment ago counts, and a face erased meanwhile does not.
        stored = await self.db.run(
            lambda s: list(
                s.scalars(
                    select(EmbeddingRow.vector).where(
                        EmbeddingRow.person_id == person.person_id, EmbeddingRow.model == model
                    )
                )
            )
        )
        if not stored:
            raise FailedPrecondition(f"person {person.person_id} has no enrolled face")
        score = max(float(np.frombuffer(v, dtype=np.float32) @ probe.vector) for v in stored)
        match = score >= g.threshold
        await self._record(
            "identity.verify",
            g.gallery_id,
            probe_sha256=probe.digest,
            model=probe.model,
            person_id=person.person_id,
            score=round(score, 4),
            match=match,
            purpose=request.purpose,
        )
        return pb.VerifyResponse(match=match, score=score, threshold=g.threshold, model=probe.model)

    async def MatchTrack(
        self, request: pb.MatchTrackRequest, context: grpc.aio.ServicerContext
    ) -> pb.MatchTrackResponse:
        caller = current_caller()
        caller.require_role("service")
        # Ingest serves every agency's cameras: the camera's agency comes with the request.
        agency = request.agency_id or caller.agency
        if not agency:
            raise InvalidArgument("agency_id (the camera's agency) is required")
        if caller.agency and agency != caller.agency:
            raise PermissionDenied(
                f"a caller of agency {caller.agency} may not match faces for agency {agency}"
            )
        caller = Caller(caller.subject, agency, caller.roles)
        # Audit records and forwarded calls then carry the camera's agency.
        token = set_current_caller(caller)
        try:
            return await self._match_track(request, caller)
        finally:
            reset_current_caller(token)

    async def _match_track(self, request: pb.MatchTrackRequest, caller: Caller) -> pb.MatchTrackResponse:
        if not request.crop:
            raise InvalidArgument("crop is required")
        if not request.source.id:
            raise InvalidArgument("source.id (the camera) is required")
        if request.track_id <= 0:
            raise InvalidArgument("track_id must be positive")
        key = (caller.agency, request.source.id, request.track_id)

        def claim(s: Session) -> bool:
            if s.get(TrackRow, key) is not None:
                return False
            s.add(
                TrackRow(
                    agency_id=key[0],
                    source_id=key[1],
                    track_id=key[2],
                    outcome=pb.TRACK_OUTCOME_UNSPECIFIED,
                    matched_at=utcnow(),
                )
            )
            return True

        try:
            claimed = await self.db.run(claim)
        except IntegrityError:
            claimed = False
        if not claimed:
            return pb.MatchTrackResponse(outcome=pb.TRACK_OUTCOME_ALREADY_MATCHED)
        try:
            result = await self.faces.face(request.crop, crop=True, strict=False)
        except BaseException:
            await self.db.run(
                lambda s: (
                    s.query(TrackRow).filter_by(agency_id=key[0], source_id=key[1], track_id=key[2]).delete()
                )
            )
            raise
        if isinstance(result, Refusal):
            # Not recorded as matched: the track may send a better crop later.
            await self.db.run(
                lambda s: (
                    s.query(TrackRow).filter_by(agency_id=key[0], source_id=key[1], track_id=key[2]).delete()
                )
            )
            return pb.MatchTrackResponse(
                outcome=pb.TRACK_OUTCOME_REFUSED, refusal=result.reason, detail=result.detail
            )
        probe = ProbeFace(result.vector, result.model, hashlib.sha256(request.crop).hexdigest(), result)
        galleries = await self._searchable(caller, request.gallery_ids, probe.model, "identity.track_match")
        hits = await self._search(galleries, probe.vector, pb.MATCH_MODE_ALERT, 5)
        staff, hits = split_staff(hits)
        occurred = from_timestamp(request.frame_time) if request.HasField("frame_time") else None
        response = pb.MatchTrackResponse(
            outcome=pb.TRACK_OUTCOME_STAFF if staff else pb.TRACK_OUTCOME_NO_MATCH, staff=staff
        )
        rows: list[MatchRow] = []
        event: common_pb2.Event | None = None
        if hits:
            pending = await self.db.run(lambda s: pending_at_camera(s, request.source, hits))
            fresh = [(g, h) for g, h in hits if sighting_key(g, h) not in pending]
            snap = request.snapshot
            # The probe is kept for a new review only: a repeat sighting's face is not reviewed.
            ref = await self._store_probe(caller.agency, request.crop) if fresh else ("", "", 0, "")
            rows = [
                self._new_match(
                    caller,
                    g,
                    h,
                    ref,
                    source_kind=request.source.kind,
                    source_id=request.source.id,
                    source_site=request.source.site_id,
                    source_name=request.source.name,
                    track_id=request.track_id,
                    zone_id=request.zone_id,
                    snapshot_key=snap.key,
                    snapshot_sha256=snap.sha256,
                    snapshot_size=snap.size_bytes,
                    snapshot_content_type=snap.content_type,
                    occurred_at=occurred,
                    purpose="live matching of a tracked face",
                )
                for g, h in fresh
            ]
            opened = iter(rows)
            match_ids = [pending.get(sighting_key(g, h)) or next(opened).match_id for g, h in hits]
            best_g, best = hits[0]
            first_id = match_ids[0]
            seen_again = first_id in pending.values()
            event = new_event(
                best_g.agency_id,
                "face_match_candidate",
                request.source,
                occurred_at=occurred,
                # Opaque until confirmed: the subject and attributes name the review, not the
                # person, the gallery or the enrolled image (ARCHITECTURE "Safeguards"). A repeat
                # sighting carries its pending match's subject, so it folds into that alert.
                subject=match_subject(first_id),
                zone_id=request.zone_id,
                track_ids=[request.track_id],
                boxes=[request.box],
                location=request.location,
                snapshot=request.snapshot,
                attributes={
                    "match_id": first_id,
                    "score": round(best.score, 4),
                    "threshold": best_g.threshold,
                    "review_state": "pending",
                    "required_reviewers": best_g.required_reviewers,
                    "candidates": len(hits),
                    "confirmed": False,
                    "seen_again": seen_again,
                },
                summary=(
                    f"Possible face match, unconfirmed: {best_g.required_reviewers} reviewers must "
                    f"confirm it before anyone is named or acts (review {first_id}"
                    + (", seen again while it waits)" if seen_again else ")")
                ),
            )
            for r in rows:
                r.event_id = event.event_id
            response.outcome = pb.TRACK_OUTCOME_CANDIDATE
            response.event_id = event.event_id
            response.candidates.extend(
                self._candidate(g, h, match_id) for (g, h), match_id in zip(hits, match_ids, strict=True)
            )

        def save(s: Session) -> None:
            s.add_all(rows)
            t = s.get(TrackRow, key)
            if t is not None:
                t.outcome = response.outcome
                t.event_id = response.event_id

        await self.db.run(save)
        if event is not None and self.events is not None:
            self.events.publish(event)
        await self._audit_search(
            caller,
            "identity.track_match",
            galleries,
            probe,
            response.candidates,
            staff,
            camera=request.source.id,
            track_id=request.track_id,
            purpose="live matching of a tracked face",
            event_id=response.event_id,
        )
        redacted = [unconfirmed(c) for c in response.candidates]
        del response.candidates[:]
        response.candidates.extend(redacted)
        return response
