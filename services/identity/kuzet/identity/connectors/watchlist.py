"""Wanted-person records applied to one watchlist, all or nothing, as one audited bulk change.

Each record is keyed by (watchlist, feed, external id). Against what the last run of the feed
left, a record is:

- unchanged (same fingerprint): nothing is written, so a re-run reports 0 changes;
- new: a person is enrolled from its photo (a record without a photo is skipped as 'no photo':
  the identity model has no name-only entries, and an entry no face can match is no use);
- changed: the entry's name and expiry follow the record, its photo is replaced if the photo
  changed (a record that drops its photo keeps the enrolled one);
- gone from a snapshot (the default mode): the entry expires now. It is not erased: it stops
  matching at once, its history stays readable, erasure stays an administrator's decision, and
  the record coming back restores it.

A record whose expiry has passed expires its entry, or is skipped if it has none. An entry an
administrator erased is left alone while its record is unchanged and enrolled again when the
source changes the record.

Every photo to enrol goes through the same face detection and quality bar as EnrolPerson before
anything is written; a photo without a usable face rejects the batch like a malformed row.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kuzet.common.audit import AuditLog
from kuzet.common.connectors.base import Batch, ImportReport, Plan, Rejection
from kuzet.common.connectors.reporting import AUDIT_LIST_LIMIT, append_audit, audit_details
from kuzet.common.db import Database
from kuzet.common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from kuzet.common.objectstore import ObjectStore
from kuzet.common.timeutil import utcnow
from kuzet.identity.changes import record_change
from kuzet.identity.connectors.models import ImportedEntryRow
from kuzet.identity.connectors.wanted import WantedPerson
from kuzet.identity.faces import Face, FaceSource, Refusal
from kuzet.identity.models import EmbeddingRow, GalleryRow, ImageRow, PersonRow
from kuzet.identity.rpcbase import content_type_of, is_expired, key_part
from kuzet.identity.v1 import identity_pb2 as pb

log = logging.getLogger(__name__)

ACTION = "identity.watchlist.import"
FACE_CHECKS_AT_ONCE = 4


@dataclass(frozen=True)
class WatchlistTarget:
    gallery_id: str
    agency: str
    actor: str  # who runs the import: the audit record names them
    snapshot: bool = True  # the batch is the feed's whole list: entries not in it expire


@dataclass(frozen=True)
class _Link:
    person_id: str
    record_sha256: str
    photo_sha256: str
    person_exists: bool
    active: bool


@dataclass
class _Plan(Plan[WantedPerson, _Link]):
    """Removals are the entries gone from a snapshot: they expire."""

    skipped: list[Rejection] = field(default_factory=list)
    # Updates that end an active entry (the record's expiry passed): counted as removed.
    ended: set[str] = field(default_factory=set)

    def photos_to_enrol(self) -> list[WantedPerson]:
        changed = [
            r for r, link in self.updates if r.photo is not None and r.photo_sha256 != link.photo_sha256
        ]
        return self.adds + changed


@dataclass
class _Written:
    stored: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)


class WatchlistSink:
    def __init__(
        self,
        database: Database,
        audit: AuditLog,
        objects: ObjectStore,
        faces: FaceSource,
        target: WatchlistTarget,
        *,
        after_commit: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.db = database
        self.audit = audit
        self.objects = objects
        self.faces = faces
        self.target = target
        self.after_commit = after_commit

    async def legal_basis(self) -> str:
        """The watchlist's own legal basis: what an import accepts unless told otherwise."""
        return (await self.db.run(self._gallery)).legal_basis

    async def failed(self, feed: str, source: str, error: str) -> ImportReport:
        report = ImportReport.source_failed(feed, source, error)
        await self.db.run(lambda s: self._audit(s, report, _Plan()))
        return report

    async def apply(self, batch: Batch[WantedPerson]) -> ImportReport:
        now = utcnow()
        gallery = await self.db.run(self._gallery)
        links = await self.db.run(self._links, batch.feed, now)
        plan = self._plan(batch, links, now)
        faces, refused = await self._check_faces(plan.photos_to_enrol(), gallery.model)
        report = ImportReport.of_batch(batch, [*batch.rejected, *refused], plan.skipped)
        if report.rejected:
            await self.db.run(lambda s: self._audit(s, report, _Plan()))
            return report
        report.outcome = "applied"
        report.added = len(plan.adds)
        report.updated = len(plan.updates) - len(plan.ended)
        report.removed = len(plan.ended) + len(plan.removals)
        report.unchanged = plan.unchanged
        if not report.changes:
            await self.db.run(lambda s: self._audit(s, report, plan))
            return report
        written = _Written()
        try:
            photos = await self._store_photos(plan, faces, written)
            await self.db.run(lambda s: self._write(s, report, plan, links, photos, faces, written, now))
        except BaseException:
            for key in written.stored:
                await self.objects.delete(key)
            raise
        for key in written.replaced:
            await self.objects.delete(key)
        if self.after_commit is not None:
            try:
                await self.after_commit()
            except Exception:
                # The import stands; the change feed applies it on its next round.
                log.warning("import committed, not yet applied to this replica's indexes", exc_info=True)
        log.info("watchlist import applied", extra={"gallery_id": self.target.gallery_id, **report.counts()})
        return report

    # -- reading and planning ---------------------------------------------------------------------

    def _gallery(self, s: Session, *, lock: bool = False) -> GalleryRow:
        g = s.get(GalleryRow, self.target.gallery_id, with_for_update=lock)
        if g is None:
            raise NotFound(f"gallery {self.target.gallery_id} not found")
        if g.agency_id != self.target.agency:
            raise PermissionDenied(
                f"agency {self.target.agency} may not import into gallery {g.gallery_id} of another agency"
            )
        if g.kind != pb.GALLERY_KIND_WATCHLIST:
            raise FailedPrecondition(f"gallery {g.gallery_id} is not a watchlist")
        if is_expired(g.expires_at, utcnow()):
            raise FailedPrecondition(f"watchlist {g.gallery_id} has expired: nothing can be imported into it")
        return g

    def _links(self, s: Session, feed: str, now: datetime) -> dict[str, _Link]:
        rows = s.execute(
            select(ImportedEntryRow, PersonRow.expires_at, PersonRow.person_id)
            .outerjoin(PersonRow, PersonRow.person_id == ImportedEntryRow.person_id)
            .where(ImportedEntryRow.gallery_id == self.target.gallery_id, ImportedEntryRow.feed == feed)
        ).all()
        return {
            entry.external_id: _Link(
                entry.person_id,
                entry.record_sha256,
                entry.photo_sha256,
                person_exists=person_id is not None,
                active=person_id is not None and not is_expired(expires_at, now),
            )
            for entry, expires_at, person_id in rows
        }

    def _plan(self, batch: Batch[WantedPerson], links: dict[str, _Link], now: datetime) -> _Plan:
        plan = _Plan()
        for record in batch.records:
            link = links.get(record.external_id)
            if link is not None and link.record_sha256 == record.fingerprint():
                plan.unchanged += 1
            elif link is not None and link.person_exists:
                plan.updates.append((record, link))
                if link.active and is_expired(record.expires_at, now):
                    plan.ended.add(record.external_id)
            elif is_expired(record.expires_at, now):
                plan.skipped.append(
                    Rejection(record.row, record.external_id, f"expired at the source ({record.expires_at})")
                )
            elif record.photo is None:
                plan.skipped.append(
                    Rejection(record.row, record.external_id, "no photo: a watchlist entry needs a face")
                )
            else:
                plan.adds.append(record)
        if self.target.snapshot:
            listed = {r.external_id for r in batch.records}
            plan.removals = [
                (ext, link) for ext, link in sorted(links.items()) if ext not in listed and link.active
            ]
        return plan

    async def _check_faces(
        self, records: Sequence[WantedPerson], model: str
    ) -> tuple[dict[str, Face], list[Rejection]]:
        gate = asyncio.Semaphore(FACE_CHECKS_AT_ONCE)

        async def check(record: WantedPerson) -> Face | Refusal:
            assert record.photo is not None
            async with gate:
                try:
                    return await self.faces.face(record.photo, crop=False, strict=True)
                except InvalidArgument as exc:
                    return Refusal(pb.REFUSAL_REASON_UNREADABLE, str(exc))

        results = await asyncio.gather(*(check(r) for r in records))
        faces: dict[str, Face] = {}
        refused: list[Rejection] = []
        for record, result in zip(records, results, strict=True):
            if isinstance(result, Refusal):
                refused.append(Rejection(record.row, record.external_id, f"photo refused: {result.detail}"))
                continue
            model = model or result.model
            if result.model != model:
                raise FailedPrecondition(
                    f"gallery {self.target.gallery_id} holds {model} embeddings but inference now makes "
                    f"{result.model}: re-embed the gallery first"
                )
            faces[record.external_id] = result
        return faces, refused

    # -- writing --------------------------------------------------------------------------------

    async def _store_photos(
        self, plan: _Plan, faces: dict[str, Face], written: _Written
    ) -> dict[str, tuple[str, ImageRow]]:
        """Store each photo to enrol (before the transaction, as enrolment does); returns, by
        external id, the person id it is stored under and its image row."""
        person_of = {r.external_id: link.person_id for r, link in plan.updates}
        out: dict[str, tuple[str, ImageRow]] = {}
        for record in plan.photos_to_enrol():
            assert record.photo is not None
            person_id = person_of.get(record.external_id) or str(uuid.uuid4())
            image_id = str(uuid.uuid4())
            key = f"identity/{key_part(self.target.agency)}/{self.target.gallery_id}/{person_id}/{image_id}"
            ctype = content_type_of(record.photo)
            info = await self.objects.put(key, record.photo, ctype, overwrite=False)
            written.stored.append(key)
            box = faces[record.external_id].box
            out[record.external_id] = (
                person_id,
                ImageRow(
                    image_id=image_id,
                    person_id=person_id,
                    gallery_id=self.target.gallery_id,
                    object_key=key,
                    sha256=info.sha256,
                    size_bytes=info.size,
                    content_type=ctype,
                    source_kind="image",
                    box_x1=box.x1,
                    box_y1=box.y1,
                    box_x2=box.x2,
                    box_y2=box.y2,
                    created_at=utcnow(),
                ),
            )
        return out

    def _write(
        self,
        s: Session,
        report: ImportReport,
        plan: _Plan,
        links: dict[str, _Link],
        photos: dict[str, tuple[str, ImageRow]],
        faces: dict[str, Face],
        written: _Written,
        now: datetime,
    ) -> None:
        gallery = self._gallery(s, lock=True)
        if self._links(s, report.feed, now) != links:
            raise FailedPrecondition(
                f"another import of feed {report.feed} changed watchlist {gallery.gallery_id} meanwhile: "
                "run the import again"
            )
        touched: list[str] = []
        for record in plan.adds:
            person_id, _ = photos[record.external_id]
            s.add(
                PersonRow(
                    person_id=person_id,
                    gallery_id=gallery.gallery_id,
                    external_id=record.external_id,
                    display_name=record.display_name,
                    enrolled_at=now,
                    expires_at=record.expires_at,
                    enrolled_by=self.target.actor,
                )
            )
            touched.append(person_id)
        for record, link in plan.updates:
            person = s.get(PersonRow, link.person_id)
            if person is None:
                raise FailedPrecondition(
                    f"entry {record.external_id} was erased meanwhile: run the import again"
                )
            person.display_name = record.display_name
            person.expires_at = record.expires_at
            if record.external_id in photos:
                written.replaced += self._drop_images(s, link.person_id)
            touched.append(link.person_id)
        # No ORM relationships: parents are flushed before their children on every engine.
        s.flush()
        for external_id, (person_id, image) in photos.items():
            face = faces[external_id]
            s.add(image)
            s.flush()
            s.add(
                EmbeddingRow(
                    image_id=image.image_id,
                    person_id=person_id,
                    gallery_id=gallery.gallery_id,
                    model=face.model,
                    dim=int(face.vector.shape[0]),
                    vector=np.ascontiguousarray(face.vector, dtype=np.float32).tobytes(),
                    created_at=now,
                )
            )
            gallery.model = gallery.model or face.model
        for record in plan.adds:
            self._link(s, report, record, photos[record.external_id][0], now)
        for record, link in plan.updates:
            self._link(s, report, record, link.person_id, now)
        for external_id, link in plan.removals:
            person = s.get(PersonRow, link.person_id)
            entry = s.get(ImportedEntryRow, (gallery.gallery_id, report.feed, external_id))
            if person is None or entry is None:
                raise FailedPrecondition(f"entry {external_id} was erased meanwhile: run the import again")
            person.expires_at = now
            entry.record_sha256, entry.expires_at = "", now
            entry.run_id, entry.updated_at = report.run_id, now
            touched.append(link.person_id)
        s.flush()
        self._audit(s, report, plan)
        # After the audit append: record_change's lock comes second in every writer.
        for person_id in touched:
            record_change(s, "import", gallery.gallery_id, person_id)

    def _drop_images(self, s: Session, person_id: str) -> list[str]:
        keys = list(s.scalars(select(ImageRow.object_key).where(ImageRow.person_id == person_id)))
        s.execute(delete(EmbeddingRow).where(EmbeddingRow.person_id == person_id))
        s.execute(delete(ImageRow).where(ImageRow.person_id == person_id))
        return keys

    def _link(
        self, s: Session, report: ImportReport, record: WantedPerson, person_id: str, now: datetime
    ) -> None:
        key = (self.target.gallery_id, report.feed, record.external_id)
        entry = s.get(ImportedEntryRow, key)
        if entry is None:
            entry = ImportedEntryRow(gallery_id=key[0], feed=key[1], external_id=key[2], photo_sha256="")
            s.add(entry)
        entry.person_id = person_id
        entry.record_sha256 = record.fingerprint()
        if record.photo is not None:
            entry.photo_sha256 = record.photo_sha256
        entry.source = record.source
        entry.legal_basis = record.legal_basis
        entry.reason = record.reason
        entry.date_of_birth = record.date_of_birth
        entry.expires_at = record.expires_at
        entry.run_id = report.run_id
        entry.updated_at = now

    def _audit(self, s: Session, report: ImportReport, plan: _Plan) -> None:
        details = audit_details(report, snapshot=self.target.snapshot)
        if report.outcome == "applied":
            details["added"] = [r.external_id for r in plan.adds][:AUDIT_LIST_LIMIT]
            updated = [r.external_id for r, _ in plan.updates]
            details["updated"] = [ext for ext in updated if ext not in plan.ended][:AUDIT_LIST_LIMIT]
            details["expired"] = sorted([*plan.ended, *(ext for ext, _ in plan.removals)])[:AUDIT_LIST_LIMIT]
        append_audit(
            self.audit,
            s,
            ACTION,
            self.target.gallery_id,
            report,
            details,
            agency=self.target.agency,
            actor=self.target.actor,
        )
