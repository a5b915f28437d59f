"""The in-memory search state: one vector index per gallery (for the gallery's model only) and
the little metadata a search needs to turn FAISS ids into people without a database round trip.

Loaded from the database at start, then kept in step with it by the change feed
(replication.py), which hands every changed person's current state to ``sync_person``. The
registry is a fast, possibly slightly stale copy: searches check their candidates against the
database before returning them (rpcbase.ServicerBase._search), so staleness can only hide a new
enrolment for a moment, never bring back an erased or expired one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from kuzet.identity.vectorindex import IndexParams, VectorIndex


@dataclass(frozen=True)
class PersonMeta:
    person_id: str
    gallery_id: str
    external_id: str
    display_name: str
    expires_at: datetime | None


@dataclass(frozen=True)
class EmbeddingMeta:
    embedding_id: int
    person_id: str
    image_id: str


@dataclass(frozen=True)
class Hit:
    """The best-scoring enrolled image of one person."""

    person: PersonMeta
    image_id: str
    score: float
    embedding_id: int


class _Gallery:
    def __init__(self, model: str, index: VectorIndex | None) -> None:
        self.model = model
        self.index = index


class Registry:
    def __init__(self, params: IndexParams | None = None) -> None:
        self.params = params or IndexParams()
        self._lock = threading.Lock()
        # Serialises whole changes (several steps under _lock and the index's own lock), so two
        # writers never both add the same embedding.
        self._write = threading.RLock()
        self._galleries: dict[str, _Gallery] = {}
        self._embeddings: dict[int, EmbeddingMeta] = {}
        self._people: dict[str, PersonMeta] = {}
        self._by_person: dict[str, set[int]] = {}

    # -- writes -------------------------------------------------------------------------------

    def set_gallery(
        self,
        gallery_id: str,
        model: str,
        people: list[PersonMeta],
        embeddings: list[EmbeddingMeta],
        vectors: npt.NDArray[np.float32],
    ) -> None:
        """Replace a gallery's whole state (start-up, re-embedding): built first, swapped after."""
        with self._write:
            index: VectorIndex | None = None
            if len(embeddings):
                index = VectorIndex(vectors.shape[1], self.params)
                index.add([e.embedding_id for e in embeddings], vectors)
                if index.needs_rebuild():
                    index.rebuild()
            with self._lock:
                for pid in [p.person_id for p in self._people.values() if p.gallery_id == gallery_id]:
                    del self._people[pid]
                    for ident in self._by_person.pop(pid, set()):
                        self._embeddings.pop(ident, None)
                for p in people:
                    self._people[p.person_id] = p
                    self._by_person[p.person_id] = set()
                for e in embeddings:
                    self._embeddings[e.embedding_id] = e
                    self._by_person.setdefault(e.person_id, set()).add(e.embedding_id)
                self._galleries[gallery_id] = _Gallery(model, index)

    def sync_person(
        self,
        person_id: str,
        gallery_id: str,
        model: str,
        person: PersonMeta | None,
        embeddings: list[EmbeddingMeta],
        vectors: npt.NDArray[np.float32],
        now: datetime,
    ) -> None:
        """Make one person's entry what the database holds now (``person`` None: erased).
        Idempotent: embeddings already indexed stay, missing ones are added, others removed.
        Raises ValueError when the gallery holds another model (the caller reloads the gallery)."""
        with self._write:
            if person is None or (person.expires_at is not None and person.expires_at <= now):
                self.remove_person(person_id)
                return
            with self._lock:
                gallery = self._galleries.setdefault(gallery_id, _Gallery(model, None))
                if gallery.model and gallery.model != model:
                    raise ValueError(f"gallery {gallery_id} holds {gallery.model}, not {model}")
                gallery.model = model
                if gallery.index is None and len(embeddings):
                    gallery.index = VectorIndex(vectors.shape[1], self.params)
                index = gallery.index
                held = self._by_person.setdefault(person_id, set())
                wanted = {e.embedding_id for e in embeddings}
                stale = sorted(held - wanted)
                fresh = [i for i, e in enumerate(embeddings) if e.embedding_id not in held]
                self._people[person_id] = person
                for ident in stale:
                    self._embeddings.pop(ident, None)
                for e in embeddings:
                    self._embeddings[e.embedding_id] = e
                self._by_person[person_id] = wanted
            if index is None:
                return
            if stale:
                index.remove(stale)
            if fresh:
                index.add([embeddings[i].embedding_id for i in fresh], vectors[fresh])
            if stale or fresh:
                index.rebuild_in_background()

    def remove_person(self, person_id: str) -> int:
        """Drop a person's vectors from the index; returns how many were indexed."""
        with self._write:
            with self._lock:
                person = self._people.pop(person_id, None)
                ids = self._by_person.pop(person_id, set())
                for ident in ids:
                    self._embeddings.pop(ident, None)
                gallery = self._galleries.get(person.gallery_id) if person else None
            if gallery is None or gallery.index is None or not ids:
                return 0
            removed = gallery.index.remove(sorted(ids))
            gallery.index.rebuild_in_background()
            return removed

    def drop_expired(self, now: datetime) -> int:
        """Take expired entries out of the indexes (searches already skip them; this keeps them
        from crowding the top-k). Returns how many people were dropped."""
        with self._lock:
            expired = [
                p.person_id for p in self._people.values() if p.expires_at is not None and p.expires_at <= now
            ]
        for person_id in expired:
            self.remove_person(person_id)
        return len(expired)

    def drop_gallery(self, gallery_id: str) -> None:
        with self._write, self._lock:
            for pid in [p.person_id for p in self._people.values() if p.gallery_id == gallery_id]:
                del self._people[pid]
                for ident in self._by_person.pop(pid, set()):
                    self._embeddings.pop(ident, None)
            self._galleries.pop(gallery_id, None)

    # -- reads --------------------------------------------------------------------------------

    def model(self, gallery_id: str) -> str:
        with self._lock:
            g = self._galleries.get(gallery_id)
            return g.model if g else ""

    def size(self, gallery_id: str) -> int:
        with self._lock:
            g = self._galleries.get(gallery_id)
        return len(g.index) if g and g.index is not None else 0

    def index(self, gallery_id: str) -> VectorIndex | None:
        with self._lock:
            g = self._galleries.get(gallery_id)
        return g.index if g else None

    def person(self, person_id: str) -> PersonMeta | None:
        with self._lock:
            return self._people.get(person_id)

    def search(
        self, gallery_id: str, probe: npt.NDArray[np.float32], people: int, now: datetime
    ) -> list[Hit]:
        """The best ``people`` distinct, unexpired people of a gallery, best first."""
        index = self.index(gallery_id)
        if index is None or len(index) == 0:
            return []
        # Several images per person and expired entries share the top-k: fetch more than asked.
        k = min(len(index), people * 4 + 16)
        scores, ids = index.search(probe.reshape(1, -1), k)
        best: dict[str, Hit] = {}
        with self._lock:
            for score, ident in zip(scores[0].tolist(), ids[0].tolist(), strict=True):
                meta = self._embeddings.get(int(ident)) if ident >= 0 else None
                if meta is None:
                    continue  # erased while this search ran
                person = self._people.get(meta.person_id)
                if person is None or (person.expires_at is not None and person.expires_at <= now):
                    continue
                if meta.person_id not in best:
                    best[meta.person_id] = Hit(person, meta.image_id, float(score), meta.embedding_id)
        return sorted(best.values(), key=lambda h: -h.score)[:people]
