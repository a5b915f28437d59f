"""FAISS search over the L2-normalised embeddings of one gallery and one model.

Small sets are searched exactly (``IndexFlatIP``: inner product with every vector). Above
``exact_limit`` a 4-bit product-quantisation index scanned with SIMD (``IndexPQFastScan``, 16
bytes per 512-d vector) makes a shortlist and the shortlist is re-ranked exactly against the
stored float vectors, so the scores returned are always exact cosines and only the shortlist is
approximate. Measured on synthetic clustered 512-d identities (bench/identity.py) this kept
recall@1 at 1.0 where IVF-Flat needed to scan ~2/3 of its cells and HNSW (M=32, efSearch=128)
reached 0.99 after a 60 s build at 100k; the PQ index trains in seconds.

Erasure: the exact index removes ids outright; the PQ index cannot, so removed ids become
tombstones that the re-ranking drops (the float vector is gone from the store at once, so an
erased person can never be returned) and the PQ index is rebuilt once tombstones pass 5 %.

Thread-safety: FAISS allows concurrent searches but not a search during an add, so searches
share a read lock and writes take the write lock. Rebuilds (exact -> PQ when the set grows,
retraining when it grew or shrank by a factor, purging tombstones) run off-lock on a snapshot;
writes made meanwhile are journalled and replayed onto the new index before it is swapped in, so
a search sees either the old or the new index, never a torn one, and no enrolment is lost.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import faiss
import numpy as np
import numpy.typing as npt

from kuzet.identity.rwlock import RWLock

FloatArray = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.int64]

# Retrain the PQ index when the set is this many times larger or smaller than at training.
_DRIFT = 4.0


def configure_threads(n: int) -> None:
    """FAISS's OpenMP threads. One probe at a time is searched per request and requests run
    concurrently, so 1 avoids OpenMP spin-waiting on a shared CPU (15 ms instead of 2 ms per
    10k-vector probe measured here with 2 threads under load)."""
    faiss.omp_set_num_threads(max(1, n))


@dataclass(frozen=True)
class IndexParams:
    """How the index is built; defaults suit face embeddings (512-d or 128-d, cosine)."""

    exact_limit: int = 20_000
    # Shortlist length for exact re-ranking (at least 4*k).
    shortlist: int = 100
    # Dimensions per 4-bit PQ sub-quantiser.
    dims_per_subquantiser: int = 16
    train_sample: int = 10_000
    # Rebuild the PQ index when this fraction of it is tombstones.
    max_dead_fraction: float = 0.05
    seed: int = 1234


class _Store:
    """Contiguous copy of the vectors (the IVF index cannot give them back cheaply); needed to
    retrain. Removal swaps the last row into the hole so the arrays stay dense."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.data: FloatArray = np.empty((0, dim), dtype=np.float32)
        self.ids: IdArray = np.empty((0,), dtype=np.int64)
        self.n = 0
        self.row: dict[int, int] = {}

    def add(self, ids: IdArray, vecs: FloatArray) -> None:
        need = self.n + len(ids)
        if need > len(self.data):
            cap = max(need, 2 * len(self.data), 1024)
            data = np.empty((cap, self.dim), dtype=np.float32)
            data[: self.n] = self.data[: self.n]
            idarr = np.empty((cap,), dtype=np.int64)
            idarr[: self.n] = self.ids[: self.n]
            self.data, self.ids = data, idarr
        self.data[self.n : need] = vecs
        self.ids[self.n : need] = ids
        for i, ident in enumerate(ids.tolist()):
            self.row[ident] = self.n + i
        self.n = need

    def remove(self, ids: IdArray) -> int:
        removed = 0
        for ident in ids.tolist():
            r = self.row.pop(ident, None)
            if r is None:
                continue
            last = self.n - 1
            if r != last:
                self.data[r] = self.data[last]
                moved = int(self.ids[last])
                self.ids[r] = moved
                self.row[moved] = r
            self.n = last
            removed += 1
        return removed

    def snapshot(self) -> tuple[IdArray, FloatArray]:
        return self.ids[: self.n].copy(), self.data[: self.n].copy()


def _as_vectors(vecs: npt.ArrayLike, dim: int) -> FloatArray:
    arr = np.ascontiguousarray(np.asarray(vecs, dtype=np.float32))
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(f"expected vectors of dimension {dim}, got shape {arr.shape}")
    return arr


class _ExactBackend:
    """Every vector scored; ids removed outright."""

    kind = "exact"

    def __init__(self, dim: int) -> None:
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.dead = 0

    def add(self, ids: IdArray, vecs: FloatArray) -> None:
        self.index.add_with_ids(vecs, ids)

    def remove(self, ids: IdArray) -> None:
        self.index.remove_ids(ids)  # type: ignore[arg-type]  # the numpy overload is untyped

    def search(self, q: FloatArray, k: int, store: _Store) -> tuple[FloatArray, IdArray]:
        scores, ids = self.index.search(q, k)
        return scores, ids


class _PQBackend:
    """4-bit PQ fast-scan shortlist, exact re-ranking from the store."""

    kind = "pq"

    def __init__(self, dim: int, params: IndexParams, train: FloatArray) -> None:
        m = max(1, dim // params.dims_per_subquantiser)
        while dim % m:
            m -= 1
        self.index = faiss.IndexPQFastScan(dim, m, 4, faiss.METRIC_INNER_PRODUCT)
        self.index.pq.cp.niter = 10  # enough for 16 centroids per sub-space; 25 is 2.5x slower
        self.index.pq.cp.seed = params.seed
        self.index.train(train)
        self.params = params
        # PQ fast-scan has no ids: label = insertion position, mapped back here.
        self.pos_ids: IdArray = np.empty((0,), dtype=np.int64)
        self.npos = 0
        self.dead = 0

    def add(self, ids: IdArray, vecs: FloatArray) -> None:
        need = self.npos + len(ids)
        if need > len(self.pos_ids):
            grown = np.empty((max(need, 2 * len(self.pos_ids), 1024),), dtype=np.int64)
            grown[: self.npos] = self.pos_ids[: self.npos]
            self.pos_ids = grown
        self.index.add(vecs)
        self.pos_ids[self.npos : need] = ids
        self.npos = need

    def remove(self, ids: IdArray) -> None:
        # The store already dropped the vectors; re-ranking skips ids it no longer holds.
        self.dead += len(ids)

    def search(self, q: FloatArray, k: int, store: _Store) -> tuple[FloatArray, IdArray]:
        r = max(self.params.shortlist, 4 * k) + min(self.dead, 1_000)
        r = min(r, self.npos)
        _, labels = self.index.search(q, r)
        out_s = np.full((len(q), k), -np.inf, dtype=np.float32)
        out_i = np.full((len(q), k), -1, dtype=np.int64)
        for qi in range(len(q)):
            lab = labels[qi][labels[qi] >= 0]
            cand = self.pos_ids[lab]
            rows = np.fromiter((store.row.get(int(c), -1) for c in cand), dtype=np.int64, count=len(cand))
            live = rows >= 0
            cand, rows = cand[live], rows[live]
            if not len(cand):
                continue
            exact = store.data[rows] @ q[qi]
            order = np.argsort(-exact)[:k]
            out_s[qi, : len(order)] = exact[order]
            out_i[qi, : len(order)] = cand[order]
        return out_s, out_i


_Backend = _ExactBackend | _PQBackend


class VectorIndex:
    """Inner-product top-k search over int64-keyed L2-normalised vectors."""

    def __init__(self, dim: int, params: IndexParams | None = None) -> None:
        self.dim = dim
        self.params = params or IndexParams()
        self._lock = RWLock()
        self._store = _Store(dim)
        self._backend: _Backend = _ExactBackend(dim)
        self._trained_n = 0
        self._journal: list[tuple[str, IdArray, FloatArray | None]] | None = None
        self._rebuild_lock = threading.Lock()

    def _build(self, ids: IdArray, vecs: FloatArray) -> _Backend:
        backend: _Backend
        if len(vecs) <= self.params.exact_limit:
            backend = _ExactBackend(self.dim)
        else:
            rng = np.random.default_rng(self.params.seed)
            sample = min(len(vecs), self.params.train_sample)
            train = vecs[np.sort(rng.choice(len(vecs), size=sample, replace=False))]
            backend = _PQBackend(self.dim, self.params, train)
        if len(vecs):
            backend.add(ids, vecs)
        return backend

    def needs_rebuild(self) -> bool:
        n = self._store.n
        b = self._backend
        if isinstance(b, _ExactBackend):
            return n > self.params.exact_limit
        if n <= self.params.exact_limit // 2:
            return True  # hysteresis: don't flip back and forth at the limit
        if b.dead > max(1_000, self.params.max_dead_fraction * b.npos):
            return True
        return n > self._trained_n * _DRIFT or n * _DRIFT < self._trained_n

    def rebuild(self) -> None:
        """Rebuild from the stored vectors (exact or PQ by size) and swap it in atomically."""
        with self._rebuild_lock:
            with self._lock.write():
                ids, vecs = self._store.snapshot()
                self._journal = []
            try:
                backend = self._build(ids, vecs)
            except BaseException:
                with self._lock.write():
                    self._journal = None
                raise
            with self._lock.write():
                for op, jids, jvecs in self._journal or []:
                    if op == "add":
                        assert jvecs is not None
                        backend.add(jids, jvecs)
                    else:
                        backend.remove(jids)
                self._journal = None
                self._backend, self._trained_n = backend, len(vecs)

    def rebuild_in_background(self) -> threading.Thread | None:
        """Start a rebuild if the size calls for one and none is running."""
        if not self.needs_rebuild() or self._rebuild_lock.locked():
            return None
        thread = threading.Thread(target=self.rebuild, name="vectorindex-rebuild", daemon=True)
        thread.start()
        return thread

    def add(self, ids: npt.ArrayLike, vecs: npt.ArrayLike) -> None:
        arr = _as_vectors(vecs, self.dim)
        idarr = np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))
        if len(idarr) != len(arr):
            raise ValueError("one id per vector")
        with self._lock.write():
            dup = [i for i in idarr.tolist() if i in self._store.row]
            if dup:
                raise ValueError(f"ids already indexed: {dup[:5]}")
            self._store.add(idarr, arr)
            self._backend.add(idarr, arr)
            if self._journal is not None:
                self._journal.append(("add", idarr, arr))

    def remove(self, ids: npt.ArrayLike) -> int:
        """Remove ids (unknown ones are ignored); returns how many were indexed."""
        idarr = np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))
        with self._lock.write():
            present = np.asarray([i for i in idarr.tolist() if i in self._store.row], dtype=np.int64)
            removed = self._store.remove(present)
            if removed:
                self._backend.remove(present)
                if self._journal is not None:
                    self._journal.append(("remove", present, None))
        return removed

    def search(self, queries: npt.ArrayLike, k: int) -> tuple[FloatArray, IdArray]:
        """Top-k (scores, ids) per query, best first; empty slots have id -1."""
        q = _as_vectors(queries, self.dim)
        with self._lock.read():
            if self._store.n == 0 or k <= 0:
                return (
                    np.full((len(q), max(k, 0)), -np.inf, dtype=np.float32),
                    np.full((len(q), max(k, 0)), -1, dtype=np.int64),
                )
            return self._backend.search(q, k, self._store)

    def vector(self, ident: int) -> FloatArray | None:
        with self._lock.read():
            r = self._store.row.get(int(ident))
            return None if r is None else self._store.data[r].copy()

    def __len__(self) -> int:
        return self._store.n

    def __contains__(self, ident: object) -> bool:
        return isinstance(ident, int) and ident in self._store.row

    @property
    def kind(self) -> str:
        """ "exact" or "pq" (for metrics and tests)."""
        return self._backend.kind
