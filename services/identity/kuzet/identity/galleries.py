"""Gallery and people RPCs: create, list, share, enrol, list people, erase, re-embed."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

import grpc
import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuzet.common.caller import current_caller
from kuzet.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from kuzet.common.paging import Keyset
from kuzet.common.timeutil import as_utc, from_timestamp, utcnow
from kuzet.common.v1 import common_pb2
from kuzet.identity.changes import record_change
from kuzet.identity.convert import person_pb
from kuzet.identity.faces import Face, Refusal
from kuzet.identity.models import (
    EmbeddingRow,
    GalleryRow,
    ImageRow,
    MatchRow,
    PersonRow,
    ReviewRow,
    ShareRow,
)
from kuzet.identity.rpcbase import (
    ADMIN,
    ENROLLERS,
    PAGING,
    READERS,
    ServicerBase,
    content_type_of,
    is_expired,
    key_part,
)
from kuzet.identity.v1 import identity_pb2 as pb
from kuzet.identity.watchlists import MIN_WATCHLIST_REVIEWERS

log = logging.getLogger(__name__)

GALLERY_KEYS = Keyset("identity.galleries", GalleryRow.created_at, GalleryRow.gallery_id)
PEOPLE_KEYS = Keyset("identity.people", PersonRow.enrolled_at, PersonRow.person_id)


class GalleryRpcs(ServicerBase):
    # -- galleries ----------------------------------------------------------------------------

    async def CreateGallery(
        self, request: pb.CreateGalleryRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateGalleryResponse:
        caller = current_caller()
        self._require(caller, ADMIN)
        for name in ("name", "purpose", "legal_basis", "owner"):
            if not getattr(request, name).strip():
                raise InvalidArgument(
                    f"{name} is required: every gallery states why and under which law it exists"
                )
        if request.kind == pb.GALLERY_KIND_UNSPECIFIED or request.kind not in pb.GalleryKind.values():
            raise InvalidArgument("kind must be INMATES, STAFF, VISITORS or WATCHLIST")
        threshold = request.threshold or self.settings.default_threshold
        if not 0.0 < threshold < 1.0:
            raise InvalidArgument(f"threshold must be in (0, 1), got {threshold}")
        expires = from_timestamp(request.expires_at) if request.HasField("expires_at") else None
        if expires is not None and expires <= utcnow():
            raise InvalidArgument("expires_at must be in the future")
        if request.required_reviewers < 0:
            raise InvalidArgument("required_reviewers must be at least 1 (0 means the default)")
        reviewers = request.required_reviewers or (2 if request.kind == pb.GALLERY_KIND_WATCHLIST else 1)
        if request.kind == pb.GALLERY_KIND_WATCHLIST:
            self._check_watchlist(expires, reviewers)
        row = GalleryRow(
            gallery_id=str(uuid.uuid4()),
            agency_id=caller.agency,
            name=request.name.strip(),
            kind=request.kind,
            purpose=request.purpose.strip(),
            legal_basis=request.legal_basis.strip(),
            owner=request.owner.strip(),
            threshold=threshold,
            expires_at=expires,
            required_reviewers=reviewers,
            model="",
            created_at=utcnow(),
            created_by=caller.subject,
        )

        def save(s: Session) -> None:
            s.add(row)
            s.flush()
            self.audit.append(
                "identity.gallery.create",
                row.gallery_id,
                details={
                    "name": row.name,
                    "kind": pb.GalleryKind.Name(row.kind),
                    "purpose": row.purpose,
                    "legal_basis": row.legal_basis,
                    "owner": row.owner,
                    "threshold": threshold,
                    "required_reviewers": reviewers,
                    "expires_at": expires.isoformat() if expires else None,
                },
                session=s,
            )

        await self.db.run(save)
        return pb.CreateGalleryResponse(gallery=await self._gallery_pb(row, caller.agency))

    def _check_watchlist(self, expires: datetime | None, reviewers: int) -> None:
        """A watchlist ends by a set date and no single person confirms a match on it."""
        longest = timedelta(days=self.settings.watchlist_max_days)
        if expires is None:
            raise InvalidArgument(
                f"a watchlist needs expires_at (at most {self.settings.watchlist_max_days} days ahead)"
            )
        if expires > utcnow() + longest:
            raise InvalidArgument(
                f"expires_at is more than {self.settings.watchlist_max_days} days ahead, "
                "the longest this deployment allows for a watchlist"
            )
        if reviewers < MIN_WATCHLIST_REVIEWERS:
            raise InvalidArgument(
                f"a watchlist needs at least {MIN_WATCHLIST_REVIEWERS} required_reviewers, got {reviewers}"
            )

    async def ListGalleries(
        self, request: pb.ListGalleriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListGalleriesResponse:
        caller = current_caller()
        self._require(caller, READERS)
        size = PAGING.size(request.page)
        after = GALLERY_KEYS.after(request.page.page_token)

        def load(s: Session) -> tuple[list[GalleryRow], str]:
            q = select(GalleryRow).where(GalleryRow.agency_id == caller.agency)
            if request.include_shared:
                shared = select(ShareRow.gallery_id).where(ShareRow.agency_id == caller.agency)
                q = select(GalleryRow).where(
                    (GalleryRow.agency_id == caller.agency) | GalleryRow.gallery_id.in_(shared)
                )
            return GALLERY_KEYS.page(s.scalars(GALLERY_KEYS.query(q, after, size)).all(), size)

        rows, token = await self.db.run(load)
        return pb.ListGalleriesResponse(
            galleries=[await self._gallery_pb(g, caller.agency) for g in rows],
            page=common_pb2.PageResponse(next_page_token=token),
        )

    async def ShareGallery(
        self, request: pb.ShareGalleryRequest, context: grpc.aio.ServicerContext
    ) -> pb.ShareGalleryResponse:
        caller = current_caller()
        self._require(caller, ADMIN)
        g = await self._gallery_for(caller, request.gallery_id, "identity.gallery.share", own=True)
        if not request.agency_id or request.agency_id == caller.agency:
            raise InvalidArgument("agency_id must name another agency")
        if not request.reason.strip():
            raise InvalidArgument("reason is required: sharing a gallery is audited")

        def save(s: Session) -> None:
            existing = s.get(ShareRow, (g.gallery_id, request.agency_id))
            if request.revoke:
                if existing is None:
                    raise NotFound(f"gallery {g.gallery_id} is not shared with {request.agency_id}")
                s.delete(existing)
            elif existing is None:
                s.add(
                    ShareRow(
                        gallery_id=g.gallery_id,
                        agency_id=request.agency_id,
                        shared_at=utcnow(),
                        shared_by=caller.subject,
                        reason=request.reason,
                    )
                )
            self.audit.append(
                "identity.gallery.unshare" if request.revoke else "identity.gallery.share",
                g.gallery_id,
                details={"with_agency": request.agency_id, "reason": request.reason},
                session=s,
            )

        await self.db.run(save)
        return pb.ShareGalleryResponse(gallery=await self._gallery_pb(g, caller.agency))

    async def UpdateGallery(
        self, request: pb.UpdateGalleryRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateGalleryResponse:
        caller = current_caller()
        self._require(caller, ADMIN)
        g = await self._gallery_for(caller, request.gallery_id, "identity.gallery.update", own=True)
        stored = as_utc(g.expires_at) if g.expires_at is not None else None
        expires = from_timestamp(request.expires_at) if request.HasField("expires_at") else stored
        if request.HasField("expires_at") and expires is not None and expires <= utcnow():
            raise InvalidArgument("expires_at must be in the future")
        if request.required_reviewers < 0:
            raise InvalidArgument("required_reviewers must be at least 1 (0 keeps the current value)")
        reviewers = request.required_reviewers or g.required_reviewers
        if g.kind == pb.GALLERY_KIND_WATCHLIST:
            self._check_watchlist(expires, reviewers)

        def save(s: Session) -> GalleryRow:
            row = s.get(GalleryRow, g.gallery_id)
            if row is None:
                raise NotFound(f"gallery {g.gallery_id} not found")
            row.expires_at = expires
            row.required_reviewers = reviewers
            self.audit.append(
                "identity.gallery.update",
                row.gallery_id,
                details={
                    "required_reviewers": reviewers,
                    "expires_at": expires.isoformat() if expires else None,
                },
                session=s,
            )
            return row

        row = await self.db.run(save)
        return pb.UpdateGalleryResponse(gallery=await self._gallery_pb(row, caller.agency))

    # -- people -------------------------------------------------------------------------------

    async def EnrolPerson(
        self, request: pb.EnrolPersonRequest, context: grpc.aio.ServicerContext
    ) -> pb.EnrolPersonResponse:
        caller = current_caller()
        self._require(caller, ENROLLERS)
        g = await self._gallery_for(caller, request.gallery_id, "identity.enrol", own=True)
        now = utcnow()
        if is_expired(g.expires_at, now):
            raise FailedPrecondition(f"gallery {g.gallery_id} has expired: nobody can be enrolled in it")
        if not request.images:
            raise InvalidArgument("at least one image is required")
        if len(request.images) > self.settings.max_images_per_request:
            raise InvalidArgument(f"at most {self.settings.max_images_per_request} images per request")
        expires = from_timestamp(request.expires_at) if request.HasField("expires_at") else None
        if expires is not None and expires <= now:
            raise InvalidArgument("expires_at must be in the future")
        person: PersonRow | None = None
        if request.person_id:
            person = await self.db.run(lambda s: s.get(PersonRow, request.person_id))
            if person is None or person.gallery_id != g.gallery_id:
                raise NotFound(f"person {request.person_id} not found in gallery {g.gallery_id}")
        elif not (request.external_id.strip() or request.display_name.strip()):
            raise InvalidArgument("external_id or display_name is required for a new person")
        elif g.kind == pb.GALLERY_KIND_STAFF and not request.consent.strip():
            raise InvalidArgument(
                "consent is required to enrol a person in a staff gallery: staff are enrolled only with "
                "their recorded consent (give the reference of the signed consent, e.g. form number and date)"
            )
        consent = request.consent.strip()

        results: list[pb.ImageResult] = []
        accepted: list[tuple[int, bytes, str, Face]] = []
        for i, image in enumerate(request.images):
            kind = image.WhichOneof("kind")
            if kind is None:
                results.append(
                    pb.ImageResult(
                        index=i, refusal=pb.REFUSAL_REASON_UNREADABLE, detail="neither image nor crop is set"
                    )
                )
                continue
            data = image.image if kind == "image" else image.crop
            face = await self.faces.face(data, crop=kind == "crop", strict=True)
            if isinstance(face, Refusal):
                results.append(pb.ImageResult(index=i, refusal=face.reason, detail=face.detail))
                continue
            model = g.model or self.registry.model(g.gallery_id)
            if model and face.model != model:
                raise FailedPrecondition(
                    f"gallery {g.gallery_id} holds {model} embeddings but inference now makes "
                    f"{face.model}: re-embed the gallery first"
                )
            accepted.append((i, data, kind, face))

        person_id = person.person_id if person else str(uuid.uuid4())
        stored: list[str] = []
        image_rows: list[ImageRow] = []
        try:
            for i, data, kind, face in accepted:
                image_id = str(uuid.uuid4())
                key = f"identity/{key_part(g.agency_id)}/{g.gallery_id}/{person_id}/{image_id}"
                ctype = content_type_of(data)
                info = await self.objects.put(key, data, ctype, overwrite=False)
                stored.append(key)
                b = face.box
                image_rows.append(
                    ImageRow(
                        image_id=image_id,
                        person_id=person_id,
                        gallery_id=g.gallery_id,
                        object_key=key,
                        sha256=info.sha256,
                        size_bytes=info.size,
                        content_type=ctype,
                        source_kind=kind,
                        box_x1=b.x1,
                        box_y1=b.y1,
                        box_x2=b.x2,
                        box_y2=b.y2,
                        created_at=now,
                    )
                )
                results.append(
                    pb.ImageResult(
                        index=i,
                        accepted=True,
                        image_id=image_id,
                        face=common_pb2.Box(x1=b.x1, y1=b.y1, x2=b.x2, y2=b.y2),
                    )
                )
            results.sort(key=lambda r: r.index)
            refusals = [pb.RefusalReason.Name(r.refusal) for r in results if not r.accepted]

            def save(s: Session) -> tuple[PersonRow | None, list[EmbeddingRow], int]:
                p = s.get(PersonRow, person_id) if person else None
                if person and p is None:
                    raise NotFound(f"person {person_id} was erased meanwhile")
                if p is None and image_rows:
                    p = PersonRow(
                        person_id=person_id,
                        gallery_id=g.gallery_id,
                        external_id=request.external_id.strip(),
                        display_name=request.display_name.strip(),
                        enrolled_at=now,
                        expires_at=expires,
                        enrolled_by=caller.subject,
                        consent=consent,
                    )
                    s.add(p)
                elif p is not None:
                    p.expires_at = expires if expires is not None else p.expires_at
                    # A renewed consent (more photos for the same person) replaces the old one.
                    p.consent = consent or p.consent
                # No ORM relationships: flush parents first so foreign keys hold on every engine.
                s.flush()
                s.add_all(image_rows)
                s.flush()
                embs = []
                for row, (_, _, _, face) in zip(image_rows, accepted, strict=True):
                    embs.append(
                        EmbeddingRow(
                            image_id=row.image_id,
                            person_id=person_id,
                            gallery_id=g.gallery_id,
                            model=face.model,
                            dim=int(face.vector.shape[0]),
                            vector=np.ascontiguousarray(face.vector, dtype=np.float32).tobytes(),
                            created_at=now,
                        )
                    )
                s.add_all(embs)
                gal = s.get(GalleryRow, g.gallery_id)
                if gal is not None and not gal.model and accepted:
                    gal.model = accepted[0][3].model
                s.flush()
                count = 0
                if p is not None:
                    count = (
                        s.scalar(
                            select(func.count()).select_from(ImageRow).where(ImageRow.person_id == person_id)
                        )
                        or 0
                    )
                self.audit.append(
                    "identity.enrol",
                    g.gallery_id,
                    "ok" if image_rows else "refused",
                    details={
                        "person_id": person_id if p else None,
                        "external_id": request.external_id,
                        "accepted": [r.image_id for r in image_rows],
                        "refused": refusals,
                        "model": accepted[0][3].model if accepted else None,
                        "purpose": g.purpose,
                        "consent": consent or None,
                    },
                    session=s,
                )
                if p is not None and (embs or expires is not None):
                    record_change(s, "enrol" if embs else "expiry", g.gallery_id, person_id)
                return p, embs, count

            p, embs, count = await self.db.run(save)
        except BaseException:
            for key in stored:
                await self.objects.delete(key)
            raise
        if p is not None and (embs or expires is not None):
            await self._changed()
        response = pb.EnrolPersonResponse(results=results)
        if p is not None:
            response.person.CopyFrom(person_pb(p, count))
        return response

    async def ListPeople(
        self, request: pb.ListPeopleRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPeopleResponse:
        caller = current_caller()
        self._require(caller, READERS)
        g = await self._gallery_for(caller, request.gallery_id, "identity.people.list", own=True)
        size = PAGING.size(request.page)
        after = PEOPLE_KEYS.after(request.page.page_token)

        def load(s: Session) -> tuple[list[tuple[PersonRow, int]], str]:
            counts = (
                select(ImageRow.person_id, func.count().label("n")).group_by(ImageRow.person_id).subquery()
            )
            query = (
                select(PersonRow, func.coalesce(counts.c.n, 0))
                .outerjoin(counts, counts.c.person_id == PersonRow.person_id)
                .where(PersonRow.gallery_id == g.gallery_id)
            )
            rows, token = PEOPLE_KEYS.page(
                s.execute(PEOPLE_KEYS.query(query, after, size)).all(), size, key_of=lambda r: r[0]
            )
            return [(r[0], int(r[1])) for r in rows], token

        rows, token = await self.db.run(load)
        return pb.ListPeopleResponse(
            people=[person_pb(p, n) for p, n in rows], page=common_pb2.PageResponse(next_page_token=token)
        )

    async def RemovePerson(
        self, request: pb.RemovePersonRequest, context: grpc.aio.ServicerContext
    ) -> pb.RemovePersonResponse:
        caller = current_caller()
        self._require(caller, ADMIN)
        if not request.person_id:
            raise InvalidArgument("person_id is required")
        if not request.reason.strip():
            raise InvalidArgument("reason is required: an erasure is audited")
        person = await self.db.run(lambda s: s.get(PersonRow, request.person_id))
        if person is None:
            raise NotFound(f"person {request.person_id} not found")
        g = await self._gallery_for(caller, person.gallery_id, "identity.erase", own=True)

        def erase(s: Session) -> tuple[list[str], list[str], int]:
            images = list(s.scalars(select(ImageRow).where(ImageRow.person_id == person.person_id)))
            embs = list(s.scalars(select(EmbeddingRow).where(EmbeddingRow.person_id == person.person_id)))
            for e in embs:
                s.delete(e)
            s.flush()  # children before parents: there are no ORM relationships to order them
            for im in images:
                s.delete(im)
            s.flush()
            probes: list[str] = []
            for m in s.scalars(select(MatchRow).where(MatchRow.person_id == person.person_id)):
                # The review history stays, without anything that shows the erased person's face
                # (the probe of a match against them is, in all likelihood, them too).
                m.image_id = ""
                if m.probe_key:
                    probes.append(m.probe_key)
                    m.probe_key, m.probe_sha256, m.probe_size, m.probe_content_type = "", "", 0, ""
                if m.state == pb.MATCH_STATE_PENDING:
                    m.state = pb.MATCH_STATE_REJECTED
                    s.add(
                        ReviewRow(
                            match_id=m.match_id,
                            reviewer=f"system:{caller.subject}",
                            decision=pb.REVIEW_DECISION_REJECT,
                            reason="person erased from the gallery",
                            reviewed_at=utcnow(),
                        )
                    )
            p = s.get(PersonRow, person.person_id)
            if p is not None:
                s.delete(p)
            self.audit.append(
                "identity.erase",
                g.gallery_id,
                details={
                    "person_id": person.person_id,
                    "external_id": person.external_id,
                    "images": len(images),
                    "embeddings": len(embs),
                    "reason": request.reason,
                },
                session=s,
            )
            # Once this commits no replica returns the person (every search checks its
            # candidates against the database); the feed then drops them from every index.
            record_change(
                s,
                "erase",
                g.gallery_id,
                person.person_id,
                external_id=person.external_id,
                reason=request.reason,
            )
            return [im.object_key for im in images], probes, len(embs)

        keys, probes, n_embs = await self.db.run(erase)
        await self._changed()
        for key in [*keys, *probes]:
            await self.objects.delete(key)
        log.info("person erased", extra={"gallery_id": g.gallery_id, "embeddings": n_embs})
        return pb.RemovePersonResponse(images_removed=len(keys), embeddings_removed=n_embs)

    # -- model change -------------------------------------------------------------------------

    async def ReembedGallery(
        self, request: pb.ReembedGalleryRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReembedGalleryResponse:
        caller = current_caller()
        self._require(caller, ADMIN)
        g = await self._gallery_for(caller, request.gallery_id, "identity.reembed", own=True)
        model = await self.faces.current_model()
        images = await self.db.run(
            lambda s: list(
                s.scalars(
                    select(ImageRow).where(ImageRow.gallery_id == g.gallery_id).order_by(ImageRow.created_at)
                )
            )
        )
        new: list[tuple[ImageRow, Face]] = []
        failed = 0
        for im in images:
            data = await self.objects.get(im.object_key)
            face = await self.faces.face(data, crop=im.source_kind == "crop", strict=False)
            if isinstance(face, Refusal) or face.model != model:
                failed += 1
                continue
            new.append((im, face))
        now = utcnow()

        def save(s: Session) -> None:
            for im, face in new:
                s.query(EmbeddingRow).filter_by(image_id=im.image_id, model=model).delete()
                s.query(EmbeddingRow).filter(
                    EmbeddingRow.image_id == im.image_id, EmbeddingRow.model != model
                ).delete()
                s.add(
                    EmbeddingRow(
                        image_id=im.image_id,
                        person_id=im.person_id,
                        gallery_id=g.gallery_id,
                        model=model,
                        dim=int(face.vector.shape[0]),
                        vector=face.vector.astype(np.float32).tobytes(),
                        created_at=now,
                    )
                )
            gal = s.get(GalleryRow, g.gallery_id)
            assert gal is not None
            previous = gal.model
            gal.model = model
            self.audit.append(
                "identity.reembed",
                g.gallery_id,
                details={"from_model": previous, "to_model": model, "reembedded": len(new), "failed": failed},
                session=s,
            )
            record_change(s, "reembed", g.gallery_id)

        await self.db.run(save)
        await self._changed()
        return pb.ReembedGalleryResponse(model=model, images_reembedded=len(new), images_failed=failed)
