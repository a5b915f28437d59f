"""WatchWatchlistChanges: every agency's watchlist changes, in commit order, for the federation
service, which sends them down to the facilities.

It reads identity's own change feed (identity_changes, written in the same transaction as every
enrolment, import and erasure, in commit order: see changes.record_change) and turns each change
of a watchlist entry into what the entry is now: its photos when it is enrolled, its external id
and the erasure's reason when it was erased, or a removal once it has expired. Reading the
current state makes a change delivered late or twice harmless: a facility that applies it holds
what the hub holds. Only service:federation may read it (it sees every agency's watchlists, and
the photos); every batch read is audited, in the trail of each agency whose entries it held.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.common.caller import current_caller
from kuzet.common.errors import InvalidArgument, NotFound
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.identity.convert import gallery_pb, person_pb
from kuzet.identity.models import ChangeRow, GalleryRow, ImageRow, PersonRow
from kuzet.identity.rpcbase import ServicerBase, is_expired
from kuzet.identity.v1 import identity_pb2 as pb

log = logging.getLogger(__name__)

ACTION = "identity.watchlist_changes.read"
WATCHER = "service:federation"
# Changes per read: each may carry up to max_images_per_request photos.
BATCH = 50
_ENTRY_KINDS = ("enrol", "expiry", "import", "erase")


@dataclass
class _Pending:
    """One change as read in one transaction; the photos are fetched afterwards."""

    change: pb.WatchlistChange
    images: list[ImageRow] = field(default_factory=list)


class WatchlistFeedRpcs(ServicerBase):
    async def WatchWatchlistChanges(
        self, request: pb.WatchWatchlistChangesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchWatchlistChangesResponse]:
        caller = current_caller()
        if caller.subject != WATCHER or not caller.has_role("service"):
            raise await self._deny(
                caller, ACTION, "watchlists", f"only {WATCHER} reads every agency's watchlist changes"
            )
        if request.after_seq < 0:
            raise InvalidArgument(f"after_seq must be 0 or more, got {request.after_seq}")
        after = request.after_seq
        while True:
            pending, last = await self.db.run(lambda s, a=after: self._read(s, a))
            if last == after:
                await asyncio.sleep(self.settings.change_poll_s)
                continue
            changes = [await self._with_photos(p) for p in pending]
            if not changes:  # only other galleries' changes: skipped
                after = last
                continue
            # One record per agency whose entries were read: each agency's auditors see them.
            by_agency: dict[str, list[pb.WatchlistChange]] = {}
            for change in changes:
                by_agency.setdefault(change.watchlist.agency_id, []).append(change)
            for agency, read in by_agency.items():
                await self.audit.record(
                    ACTION,
                    ",".join(sorted({c.watchlist.gallery_id for c in read})),
                    details={
                        "after_seq": after,
                        "last_seq": last,
                        "changes": [
                            {
                                "seq": c.seq,
                                "kind": pb.WatchlistChangeKind.Name(c.kind),
                                "person_id": c.person.person_id,
                                "external_id": c.person.external_id,
                                "images": len(c.images),
                            }
                            for c in read
                        ],
                    },
                    agency=agency,
                )
            for change in changes:
                yield pb.WatchWatchlistChangesResponse(change=change)
            after = last

    def _read(self, s: Session, after: int) -> tuple[list[_Pending], int]:
        """The watchlist entry changes after ``after`` and the seq read up to (past other
        galleries' changes, which are then not read again)."""
        # First: a change that commits during this read has a larger seq (changes.record_change
        # makes seq order commit order), so it is read next time, never skipped.
        head = s.scalar(select(ChangeRow.seq).order_by(ChangeRow.seq.desc()).limit(1)) or 0
        rows = s.execute(
            select(ChangeRow, GalleryRow)
            .join(GalleryRow, GalleryRow.gallery_id == ChangeRow.gallery_id)
            .where(
                ChangeRow.seq > after,
                ChangeRow.seq <= head,
                ChangeRow.kind.in_(_ENTRY_KINDS),
                GalleryRow.kind == pb.GALLERY_KIND_WATCHLIST,
            )
            .order_by(ChangeRow.seq)
            .limit(BATCH)
        ).all()
        now = utcnow()
        pending = []
        for row, gallery in rows:
            change = pb.WatchlistChange(
                seq=row.seq,
                watchlist=gallery_pb(gallery, person_count=0, shared_with=[], show_shares=False),
                changed_at=to_timestamp(row.changed_at),
            )
            person = s.get(PersonRow, row.person_id) if row.kind != "erase" else None
            if person is None:
                # Erased: the change row says who and why. (A later erasure of an entry whose
                # enrolment is read here comes as its own change.)
                if row.kind != "erase":
                    continue
                change.kind = pb.WATCHLIST_CHANGE_KIND_REMOVE
                change.person.CopyFrom(
                    pb.Person(person_id=row.person_id, gallery_id=row.gallery_id, external_id=row.external_id)
                )
                change.reason = row.reason
                pending.append(_Pending(change))
                continue
            images = list(
                s.scalars(
                    select(ImageRow)
                    .where(ImageRow.person_id == person.person_id)
                    .order_by(ImageRow.created_at)
                )
            )
            change.person.CopyFrom(person_pb(person, len(images)))
            if is_expired(person.expires_at, now):
                assert person.expires_at is not None
                change.kind = pb.WATCHLIST_CHANGE_KIND_REMOVE
                change.reason = f"the entry expired at {person.expires_at.isoformat()}"
                pending.append(_Pending(change))
                continue
            change.kind = pb.WATCHLIST_CHANGE_KIND_ENROL
            pending.append(_Pending(change, images))
        return pending, (rows[-1][0].seq if len(rows) == BATCH else max(after, head))

    async def _with_photos(self, pending: _Pending) -> pb.WatchlistChange:
        for image in pending.images:
            try:
                data = await self.objects.get(image.object_key)
            except NotFound:  # erased since the read: its erasure is a change of its own
                log.warning("watchlist image %s is gone from the object store", image.image_id)
                continue
            face = pb.FaceImage(crop=data) if image.source_kind == "crop" else pb.FaceImage(image=data)
            pending.change.images.append(face)
        return pending.change
