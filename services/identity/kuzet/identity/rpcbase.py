"""Shared state and helpers of the IdentityService RPCs: agency checks, probes, gallery
selection, search, audit helpers, and loading the indexes from the database."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from kuzet.common.audit import AuditLog
from kuzet.common.caller import Caller
from kuzet.common.db import Database
from kuzet.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from kuzet.common.eventsink import EventSink
from kuzet.common.objectstore import ObjectStore
from kuzet.common.paging import Paging
from kuzet.common.timeutil import as_utc, utcnow
from kuzet.common.v1 import common_pb2
from kuzet.identity.config import IdentitySettings
from kuzet.identity.convert import gallery_pb, match_pb
from kuzet.identity.faces import Face, FaceSource, Refusal
from kuzet.identity.models import (
    EmbeddingRow,
    GalleryRow,
    ImageRow,
    MatchRow,
    PersonRow,
    ReviewRow,
    ShareRow,
)
from kuzet.identity.registry import Hit, Registry
from kuzet.identity.replication import ChangeFeed
from kuzet.identity.v1 import identity_pb2 as pb
from kuzet.identity.v1 import identity_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

ADMIN = ("admin",)
ENROLLERS = ("admin", "operator")
SEARCHERS = ("operator", "investigator", "admin", "service")
REVIEWERS = ("reviewer",)
VIEWERS = ("reviewer", "investigator", "admin", "operator")
READERS = ("operator", "investigator", "reviewer", "admin", "auditor", "service")
PAGING = Paging(default=100, maximum=500)
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def key_part(value: str) -> str:
    return _SAFE.sub("_", value)[:64] or "_"


def content_type_of(data: bytes) -> str:
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG"):
        return "image/png"
    return "application/octet-stream"


def is_expired(at: datetime | None, now: datetime) -> bool:
    return at is not None and as_utc(at) <= now


@dataclass
class ProbeFace:
    vector: np.ndarray
    model: str
    digest: str
    face: Face | None


class ServicerBase(pb_grpc.IdentityServiceServicer):
    def __init__(
        self,
        settings: IdentitySettings,
        database: Database,
        audit: AuditLog,
        objects: ObjectStore,
        faces: FaceSource,
        registry: Registry,
        changes: ChangeFeed,
        events: EventSink | None,
    ) -> None:
        self.settings = settings
        self.db = database
        self.audit = audit
        self.objects = objects
        self.faces = faces
        self.registry = registry
        self.changes = changes
        self.events = events

    async def _changed(self) -> None:
        """After a change committed: make it findable here before the call returns. The commit
        stands if this fails; the change feed's loop applies it on its next round."""
        try:
            await self.changes.catch_up()
        except Exception:
            log.warning("change committed, not yet applied to this replica's indexes", exc_info=True)

    # -- helpers ------------------------------------------------------------------------------

    async def _record(self, action: str, target: str, outcome: str = "ok", **details: Any) -> None:
        await self.audit.record(action, target, outcome, details)

    async def _deny(self, caller: Caller, action: str, target: str, message: str) -> PermissionDenied:
        await self._record(action, target, "denied", reason=message)
        return PermissionDenied(message)

    def _require(self, caller: Caller, roles: Sequence[str]) -> None:
        if not caller.agency:
            raise PermissionDenied("the caller has no agency")
        caller.require_role(*roles)

    def _visible(self, s: Session, gallery_id: str, agency: str) -> GalleryRow | None:
        g = s.get(GalleryRow, gallery_id)
        if g is None:
            return None
        if g.agency_id == agency:
            return g
        shared = s.get(ShareRow, (gallery_id, agency))
        return g if shared is not None else None

    async def _gallery_for(self, caller: Caller, gallery_id: str, action: str, *, own: bool) -> GalleryRow:
        """The gallery if the caller's agency may use it (own: only the owner may)."""
        if not gallery_id:
            raise InvalidArgument("gallery_id is required")

        def load(s: Session) -> tuple[GalleryRow | None, bool]:
            g = s.get(GalleryRow, gallery_id)
            if g is None:
                return None, False
            return g, self._visible(s, gallery_id, caller.agency) is not None

        g, visible = await self.db.run(load)
        if g is None:
            raise NotFound(f"gallery {gallery_id} not found")
        if not visible or (own and g.agency_id != caller.agency):
            what = "manage" if own else "use"
            raise await self._deny(
                caller,
                action,
                gallery_id,
                f"agency {caller.agency} may not {what} gallery {gallery_id} of another agency",
            )
        return g

    async def _gallery_pb(self, g: GalleryRow, agency: str) -> pb.Gallery:
        def load(s: Session) -> tuple[int, list[str]]:
            count = (
                s.scalar(
                    select(func.count()).select_from(PersonRow).where(PersonRow.gallery_id == g.gallery_id)
                )
                or 0
            )
            shares = list(s.scalars(select(ShareRow.agency_id).where(ShareRow.gallery_id == g.gallery_id)))
            return count, shares

        count, shares = await self.db.run(load)
        return gallery_pb(g, person_count=count, shared_with=shares, show_shares=g.agency_id == agency)

    async def _probe(self, probe: pb.Probe, strict: bool = False) -> ProbeFace:
        kind = probe.WhichOneof("kind")
        if kind is None:
            raise InvalidArgument("probe is required: an image, a crop or an embedding")
        if kind == "embedding":
            values = np.asarray(probe.embedding.values, dtype=np.float32)
            if not probe.embedding.model:
                raise InvalidArgument("probe.embedding.model (name@version) is required")
            norm = float(np.linalg.norm(values)) if values.size else 0.0
            if values.size == 0 or not np.isfinite(norm) or norm == 0.0:
                raise InvalidArgument("probe.embedding.values must be a non-zero, finite vector")
            digest = hashlib.sha256(values.tobytes()).hexdigest()
            return ProbeFace(values / norm, probe.embedding.model, digest, None)
        data = probe.image if kind == "image" else probe.crop
        result = await self.faces.face(data, crop=kind == "crop", strict=strict)
        if isinstance(result, Refusal):
            raise InvalidArgument(f"probe refused ({pb.RefusalReason.Name(result.reason)}): {result.detail}")
        return ProbeFace(result.vector, result.model, hashlib.sha256(data).hexdigest(), result)

    async def _searchable(
        self, caller: Caller, requested: Sequence[str], model: str, action: str
    ) -> list[GalleryRow]:
        """Galleries to search: the requested ones (all visible, else PERMISSION_DENIED) or every
        visible one. Expired galleries and galleries of another model are left out when implicit
        and refused when named."""
        now = utcnow()

        def load(s: Session) -> tuple[list[GalleryRow], list[str]]:
            if requested:
                found, hidden = [], []
                for gid in dict.fromkeys(requested):
                    g = self._visible(s, gid, caller.agency)
                    (found.append(g) if g is not None else hidden.append(gid))
                return found, hidden
            own = list(s.scalars(select(GalleryRow).where(GalleryRow.agency_id == caller.agency)))
            shared = list(
                s.scalars(
                    select(GalleryRow)
                    .join(ShareRow, ShareRow.gallery_id == GalleryRow.gallery_id)
                    .where(ShareRow.agency_id == caller.agency)
                )
            )
            return own + shared, []

        galleries, hidden = await self.db.run(load)
        if hidden:
            raise await self._deny(
                caller,
                action,
                ",".join(hidden),
                f"agency {caller.agency} may not search gallery {', '.join(hidden)}: "
                "it belongs to another agency and is not shared with it",
            )
        out = []
        for g in galleries:
            if is_expired(g.expires_at, now):
                if requested:
                    raise FailedPrecondition(
                        f"gallery {g.gallery_id} expired on {g.expires_at.isoformat() if g.expires_at else '?'}"
                    )
                continue
            # The database's model first: this replica's index may not have applied a re-embedding yet.
            gallery_model = g.model or self.registry.model(g.gallery_id)
            if gallery_model and gallery_model != model:
                if requested:
                    raise FailedPrecondition(
                        f"gallery {g.gallery_id} holds {gallery_model} embeddings, the probe is {model}: "
                        "re-embed the gallery (ReembedGallery) before searching it"
                    )
                log.warning("gallery %s skipped: model %s != probe %s", g.gallery_id, gallery_model, model)
                continue
            out.append(g)
        return out

    def _candidate(self, g: GalleryRow, hit: Hit, match_id: str = "") -> pb.Candidate:
        return pb.Candidate(
            person_id=hit.person.person_id,
            gallery_id=g.gallery_id,
            external_id=hit.person.external_id,
            display_name=hit.person.display_name,
            score=hit.score,
            threshold=g.threshold,
            above_threshold=hit.score >= g.threshold,
            image_id=hit.image_id,
            match_id=match_id,
        )

    async def _search(
        self, galleries: list[GalleryRow], vector: np.ndarray, mode: int, top_k: int
    ) -> list[tuple[GalleryRow, Hit]]:
        for g in galleries:
            index = self.registry.index(g.gallery_id)
            if index is not None and index.dim != vector.shape[0]:
                raise InvalidArgument(
                    f"the probe has {vector.shape[0]} dimensions, gallery {g.gallery_id} holds "
                    f"{index.dim}-dimensional embeddings"
                )
        now = utcnow()

        def run() -> list[tuple[GalleryRow, Hit]]:
            found = []
            for g in galleries:
                # More than asked: the database check below may drop some.
                for hit in self.registry.search(g.gallery_id, vector, 2 * top_k, now):
                    if mode == pb.MATCH_MODE_ALERT and hit.score < g.threshold:
                        continue
                    found.append((g, hit))
            found.sort(key=lambda gh: -gh[1].score)
            live = self._still_enrolled({h.embedding_id: h.person.person_id for _, h in found}, now)
            return [(g, h) for g, h in found if h.embedding_id in live][:top_k]

        return await asyncio.to_thread(run)

    def _still_enrolled(self, candidates: dict[int, str], now: datetime) -> set[int]:
        """The candidates' embeddings (id -> person) that the database still holds for the same,
        unexpired person. The person is compared too: SQLite may give a new embedding the id
        of the newest one erased.

        This replica's index may not have applied an erasure, expiry or re-embedding committed
        on another replica yet; this read, in the same request, is what guarantees that an
        erased or expired entry never matches once the call that removed it has returned.
        Without the database there is no answer rather than an unchecked one.
        """
        if not candidates:
            return set()
        try:
            with self.db.session() as s:
                rows = s.execute(
                    select(EmbeddingRow.embedding_id, EmbeddingRow.person_id, PersonRow.expires_at)
                    .join(PersonRow, PersonRow.person_id == EmbeddingRow.person_id)
                    .where(EmbeddingRow.embedding_id.in_(list(candidates)))
                ).all()
        except DBAPIError as exc:
            raise Unavailable(
                "the database cannot confirm that the candidates are still enrolled; try again"
            ) from exc
        return {
            r.embedding_id
            for r in rows
            if candidates[r.embedding_id] == r.person_id and not is_expired(r.expires_at, now)
        }

    async def _store_probe(self, agency: str, data: bytes) -> tuple[str, str, int, str]:
        key = f"identity/{key_part(agency)}/probes/{uuid.uuid4()}"
        ctype = content_type_of(data)
        info = await self.objects.put(key, data, ctype, overwrite=False)
        return info.key, info.sha256, info.size, ctype

    def _new_match(
        self, caller: Caller, g: GalleryRow, hit: Hit, probe: tuple[str, str, int, str], **fields: Any
    ) -> MatchRow:
        now = utcnow()
        return MatchRow(
            match_id=str(uuid.uuid4()),
            agency_id=g.agency_id,
            gallery_id=g.gallery_id,
            person_id=hit.person.person_id,
            external_id=hit.person.external_id,
            display_name=hit.person.display_name,
            image_id=hit.image_id,
            score=hit.score,
            threshold=g.threshold,
            state=pb.MATCH_STATE_PENDING,
            required_reviewers=g.required_reviewers,
            probe_key=probe[0],
            probe_sha256=probe[1],
            probe_size=probe[2],
            probe_content_type=probe[3],
            occurred_at=fields.pop("occurred_at", None) or now,
            created_at=now,
            created_by=caller.subject,
            **fields,
        )

    # -- review -------------------------------------------------------------------------------

    def _match_pb(self, s: Session, m: MatchRow) -> pb.Match:
        reviews = list(
            s.scalars(select(ReviewRow).where(ReviewRow.match_id == m.match_id).order_by(ReviewRow.review_id))
        )
        image = s.get(ImageRow, m.image_id) if m.image_id else None
        enrolled = (
            common_pb2.ObjectRef(
                key=image.object_key,
                sha256=image.sha256,
                size_bytes=image.size_bytes,
                content_type=image.content_type,
            )
            if image
            else None
        )
        return match_pb(m, reviews, enrolled)
