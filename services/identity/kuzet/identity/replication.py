"""Keeping this replica's in-memory indexes in step with the shared database.

Start: a cold load of every gallery, after noting the newest change (so nothing committed during
the load is skipped). Then the change feed (identity_changes, written by changes.record_change)
is applied in sequence order from the last applied change on: woken at once by PostgreSQL
LISTEN/NOTIFY, and polled every ``poll_s`` to catch what a notification missed (the only
mechanism on SQLite). A change names a person or a gallery; applying it re-reads that person's
or gallery's current state from the database, so applying twice or late is harmless, and a
batch of changes costs one read per person, whatever the number of changes.

The indexes may lag the database by a moment; searches therefore check their candidates
against the database before returning them (ServicerBase._search), and this module only decides
how soon a new enrolment becomes findable here, never whether an erased one can match.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuzet.common.db import Database
from kuzet.common.pglisten import listen
from kuzet.common.timeutil import as_utc, utcnow
from kuzet.common.waiting import wait_set
from kuzet.identity.changes import CHANNEL
from kuzet.identity.models import ChangeRow, EmbeddingRow, GalleryRow, PersonRow
from kuzet.identity.registry import EmbeddingMeta, PersonMeta, Registry

log = logging.getLogger(__name__)

# Rows per IN (...) list and per fetched batch of a cold load: bounded statements and memory.
_CHUNK = 1_000
_LOAD_BATCH = 50_000


@dataclass(frozen=True)
class ReplicationStatus:
    """What health reports about this replica's copy of the galleries."""

    applied_seq: int
    # Seconds since this replica last confirmed it had applied every committed change.
    lag_s: float
    database_ok: bool
    # PostgreSQL notifications connected (polling alone on SQLite or while disconnected).
    listening: bool
    behind_after_s: float

    @property
    def current(self) -> bool:
        return self.database_ok and self.lag_s <= self.behind_after_s

    def describe(self) -> str:
        if not self.database_ok:
            return (
                f"database unreachable: indexes frozen at change {self.applied_seq} "
                f"{self.lag_s:.1f} s ago; searches fail rather than answer unchecked"
            )
        if not self.current:
            return f"behind: last caught up {self.lag_s:.1f} s ago (change {self.applied_seq})"
        return f"current at change {self.applied_seq}"


def _person_meta(row: Any) -> PersonMeta:
    return PersonMeta(
        row.person_id,
        row.gallery_id,
        row.external_id,
        row.display_name,
        as_utc(row.expires_at) if row.expires_at else None,
    )


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


class ChangeFeed:
    def __init__(
        self,
        database: Database,
        registry: Registry,
        *,
        poll_s: float = 0.5,
        listen: bool = True,
        behind_after_s: float = 5.0,
        batch: int = 10_000,
    ) -> None:
        self.db = database
        self.registry = registry
        self.poll_s = poll_s
        self.listen = listen and not database.is_sqlite
        self.behind_after_s = behind_after_s
        self.batch = batch
        self.applied_seq = 0
        self._caught_up_at = time.monotonic()
        self._database_ok = True
        self._listening = False
        self._wake = asyncio.Event()
        self._apply_lock = asyncio.Lock()

    # -- loading ------------------------------------------------------------------------------

    def load_all(self) -> int:
        """Cold load of every gallery; returns the number of embeddings indexed."""
        with self.db.session() as s:
            # Noted before loading: changes committed meanwhile are applied again afterwards.
            head = s.scalar(select(func.max(ChangeRow.seq))) or 0
            gallery_ids = list(s.scalars(select(GalleryRow.gallery_id)))
        for gid in gallery_ids:
            self.load_gallery(gid)
        self.applied_seq = head
        self._caught_up_at = time.monotonic()
        return sum(self.registry.size(gid) for gid in gallery_ids)

    def load_gallery(self, gallery_id: str) -> None:
        """Replace a gallery's index with what the database holds (its own model only)."""
        with self.db.session() as s:
            g = s.get(GalleryRow, gallery_id)
            if g is None:
                self.registry.drop_gallery(gallery_id)
                return
            people = [
                _person_meta(p)
                for p in s.execute(
                    select(
                        PersonRow.person_id,
                        PersonRow.gallery_id,
                        PersonRow.external_id,
                        PersonRow.display_name,
                        PersonRow.expires_at,
                    ).where(PersonRow.gallery_id == gallery_id)
                )
            ]
            metas, vectors = self._gallery_vectors(s, gallery_id, g.model)
        self.registry.set_gallery(gallery_id, g.model, people, metas, vectors)

    def _gallery_vectors(
        self, s: Session, gallery_id: str, model: str
    ) -> tuple[list[EmbeddingMeta], npt.NDArray[np.float32]]:
        where = (EmbeddingRow.gallery_id == gallery_id, EmbeddingRow.model == model)
        n = s.scalar(select(func.count()).select_from(EmbeddingRow).where(*where)) or 0
        dim = s.scalar(select(EmbeddingRow.dim).where(*where).limit(1)) or 0
        metas: list[EmbeddingMeta] = []
        # One preallocated array filled batch by batch: a million vectors never sit in memory
        # twice (as row objects and as the array).
        vectors = np.empty((n, dim), dtype=np.float32)
        result = s.execute(
            select(
                EmbeddingRow.embedding_id, EmbeddingRow.person_id, EmbeddingRow.image_id, EmbeddingRow.vector
            )
            .where(*where)
            .order_by(EmbeddingRow.embedding_id)
            .execution_options(yield_per=_LOAD_BATCH)
        )
        for rows in result.partitions():
            start = len(metas)
            if start + len(rows) > n:  # enrolled between the count and the read: next change has it
                rows = rows[: n - start]
            vectors[start : start + len(rows)] = np.frombuffer(
                b"".join(r.vector for r in rows), dtype=np.float32
            ).reshape(-1, dim)
            metas.extend(EmbeddingMeta(r.embedding_id, r.person_id, r.image_id) for r in rows)
        return metas, vectors[: len(metas)]

    # -- applying changes ---------------------------------------------------------------------

    def apply_pending(self) -> int:
        """Apply up to ``batch`` changes after the last applied one; returns how many."""
        try:
            with self.db.session() as s:
                rows = s.execute(
                    select(ChangeRow.seq, ChangeRow.gallery_id, ChangeRow.person_id)
                    .where(ChangeRow.seq > self.applied_seq)
                    .order_by(ChangeRow.seq)
                    .limit(self.batch)
                ).all()
            # Every state read below is at least as new as every change in the batch.
            galleries = {r.gallery_id for r in rows if not r.person_id}
            people = {
                r.person_id: r.gallery_id for r in rows if r.person_id and r.gallery_id not in galleries
            }
            for gid in galleries:
                self.load_gallery(gid)
            self._sync_people(people)
        except Exception:
            self._database_ok = False
            raise
        self._database_ok = True
        if rows:
            self.applied_seq = rows[-1].seq
        if len(rows) < self.batch:
            self._caught_up_at = time.monotonic()
        return len(rows)

    def _sync_people(self, people: dict[str, str]) -> None:
        if not people:
            return
        ids = list(people)
        found: dict[str, PersonMeta] = {}
        embeddings: dict[str, list[Any]] = defaultdict(list)
        with self.db.session() as s:
            models = dict(
                s.execute(
                    select(GalleryRow.gallery_id, GalleryRow.model).where(
                        GalleryRow.gallery_id.in_(set(people.values()))
                    )
                ).all()
            )
            for chunk in _chunks(ids):
                for p in s.execute(
                    select(
                        PersonRow.person_id,
                        PersonRow.gallery_id,
                        PersonRow.external_id,
                        PersonRow.display_name,
                        PersonRow.expires_at,
                    ).where(PersonRow.person_id.in_(chunk))
                ):
                    found[p.person_id] = _person_meta(p)
                for e in s.execute(
                    select(
                        EmbeddingRow.embedding_id,
                        EmbeddingRow.person_id,
                        EmbeddingRow.image_id,
                        EmbeddingRow.model,
                        EmbeddingRow.dim,
                        EmbeddingRow.vector,
                    )
                    .where(EmbeddingRow.person_id.in_(chunk))
                    .order_by(EmbeddingRow.embedding_id)
                ):
                    embeddings[e.person_id].append(e)
        now = utcnow()
        for pid, gid in people.items():
            if gid not in models:
                self.registry.drop_gallery(gid)
                continue
            model = models[gid]
            rows = [e for e in embeddings[pid] if e.model == model]
            vectors = (
                np.frombuffer(b"".join(e.vector for e in rows), dtype=np.float32).reshape(len(rows), -1)
                if rows
                else np.empty((0, 0), np.float32)
            )
            metas = [EmbeddingMeta(e.embedding_id, pid, e.image_id) for e in rows]
            try:
                self.registry.sync_person(pid, gid, model, found.get(pid), metas, vectors, now)
            except ValueError:
                # The gallery changed model under this replica: its own change is on the way,
                # but reloading now is always right.
                self.load_gallery(gid)

    async def catch_up(self) -> int:
        """Apply every committed change not yet applied here; returns how many."""
        async with self._apply_lock:
            total = 0
            while True:
                n = await asyncio.to_thread(self.apply_pending)
                total += n
                if n < self.batch:
                    return total

    # -- running ------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def _on_listening(self, connected: bool) -> None:
        self._listening = connected
        if connected:
            self.wake()  # notifications sent while disconnected are lost: look now

    async def run(self) -> None:
        """Apply changes until cancelled: on every notification and every ``poll_s``."""
        listener = (
            asyncio.create_task(
                listen(self.db.url, CHANNEL, lambda _: self.wake(), on_connected=self._on_listening),
                name="identity-changes-listen",
            )
            if self.listen
            else None
        )
        delay = self.poll_s
        try:
            while True:
                await wait_set(self._wake, delay)
                self._wake.clear()
                try:
                    await self.catch_up()
                    delay = self.poll_s
                except Exception as exc:
                    # Back off while the database is away; health says so meanwhile.
                    delay = min(max(delay * 2, self.poll_s), 10.0)
                    log.warning(
                        "identity change feed: cannot read the database (%s); retrying in %.1f s",
                        type(exc).__name__,
                        delay,
                    )
        finally:
            if listener is not None:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)

    def status(self) -> ReplicationStatus:
        return ReplicationStatus(
            applied_seq=self.applied_seq,
            lag_s=time.monotonic() - self._caught_up_at,
            database_ok=self._database_ok,
            listening=self._listening,
            behind_after_s=self.behind_after_s,
        )
