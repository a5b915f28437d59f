"""The FAISS index: approximate search checked against exact search, erasure, rebuilds, and
searches running while enrolments and erasures happen."""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt

from kuzet.identity.rwlock import RWLock
from kuzet.identity.vectorindex import IndexParams, VectorIndex

DIM = 128


def identities(n: int, seed: int = 0) -> npt.NDArray[np.float32]:
    """Clustered like face embeddings: look-alikes share a direction."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(1, n // 50), DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.standard_normal((n, DIM)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    x = 0.6 * centres[rng.integers(0, len(centres), n)] + 0.8 * noise
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def probes_near(
    x: npt.NDArray[np.float32], idx: npt.NDArray[np.int64], seed: int = 1
) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((len(idx), DIM)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    p = 0.75 * x[idx] + 0.66 * noise
    return (p / np.linalg.norm(p, axis=1, keepdims=True)).astype(np.float32)


def test_small_galleries_are_exact_and_large_ones_approximate_with_full_recall() -> None:
    n = 6000
    x = identities(n)
    index = VectorIndex(DIM, IndexParams(exact_limit=1000, train_sample=3000))
    index.add(np.arange(500), x[:500])
    assert index.kind == "exact" and not index.needs_rebuild()
    index.add(np.arange(500, n), x[500:])
    assert index.needs_rebuild()
    index.rebuild()
    assert index.kind == "pq"

    truth_idx = np.random.default_rng(2).choice(n, 300, replace=False)
    q = probes_near(x, truth_idx)
    exact_top = np.argmax(q @ x.T, axis=1)
    scores, ids = index.search(q, 10)
    assert (ids[:, 0] == exact_top).mean() >= 0.99
    # Scores are exact cosines (re-ranked against the stored vectors), best first.
    np.testing.assert_allclose(scores[:, 0], np.einsum("ij,ij->i", q, x[ids[:, 0]]), rtol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)


def test_removed_vectors_are_never_returned_in_either_mode() -> None:
    x = identities(3000, seed=3)
    for exact_limit in (10_000, 500):
        index = VectorIndex(DIM, IndexParams(exact_limit=exact_limit, train_sample=2000))
        index.add(np.arange(3000), x)
        index.rebuild()
        gone = np.arange(0, 3000, 3)
        assert index.remove(gone) == len(gone)
        assert index.remove(gone) == 0
        _, ids = index.search(x[gone[:200]], 5)
        assert not np.isin(ids, gone).any()
        # Each removed vector's own nearest is now someone else, never itself.
        assert len(index) == 2000 and index.vector(0) is None and index.vector(1) is not None


def test_tombstones_trigger_a_rebuild_that_purges_them() -> None:
    x = identities(4000, seed=4)
    index = VectorIndex(DIM, IndexParams(exact_limit=1000, train_sample=2000))
    index.add(np.arange(4000), x)
    index.rebuild()
    assert index.kind == "pq" and not index.needs_rebuild()
    index.remove(np.arange(1500))
    assert index.needs_rebuild()  # 1500 dead > 1000
    thread = index.rebuild_in_background()
    assert thread is not None
    thread.join(30)
    assert not index.needs_rebuild() and len(index) == 2500


def test_writes_during_a_rebuild_are_not_lost() -> None:
    x = identities(5000, seed=5)
    index = VectorIndex(DIM, IndexParams(exact_limit=1000, train_sample=2000))
    index.add(np.arange(3000), x[:3000])
    started = threading.Event()
    real_build = index._build

    def slow_build(ids, vecs):  # type: ignore[no-untyped-def]
        started.set()
        return real_build(ids, vecs)

    index._build = slow_build
    thread = threading.Thread(target=index.rebuild)
    thread.start()
    started.wait(10)
    index.add(np.arange(3000, 5000), x[3000:])  # journalled while the new index trains
    index.remove(np.arange(100))
    thread.join(60)
    _, ids = index.search(x[4000:4100], 1)
    assert (ids[:, 0] == np.arange(4000, 4100)).all()
    _, ids = index.search(x[:50], 3)
    assert not np.isin(ids, np.arange(100)).any()


def test_searches_during_enrolment_and_erasure_see_no_torn_state() -> None:
    """Every result is a vector that was indexed, with its exact score, in order."""
    x = identities(4000, seed=6)
    index = VectorIndex(DIM, IndexParams(exact_limit=1500, train_sample=2000))
    index.add(np.arange(1000), x[:1000])
    errors: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        for start in range(1000, 4000, 100):
            index.add(np.arange(start, start + 100), x[start : start + 100])
            index.remove(np.arange(start - 1000, start - 950))
            index.rebuild_in_background()
        stop.set()

    def reader(seed: int) -> None:
        rng = np.random.default_rng(seed)
        while not stop.is_set():
            which = rng.integers(0, 4000, 8)
            scores, ids = index.search(x[which], 5)
            for qi in range(len(which)):
                valid = ids[qi] >= 0
                got = ids[qi][valid]
                if len(set(got.tolist())) != len(got):
                    errors.append("duplicate id")
                exact = x[got] @ x[which[qi]]
                if not np.allclose(exact, scores[qi][valid], atol=1e-4):
                    errors.append("score does not belong to the id")
                if np.any(np.diff(scores[qi][valid]) > 1e-6):
                    errors.append("not sorted")

    readers = [threading.Thread(target=reader, args=(s,)) for s in range(3)]
    for t in readers:
        t.start()
    writer()
    for t in readers:
        t.join(60)
    assert errors == []
    assert len(index) == 4000 - 3000 // 100 * 50


def test_rwlock_prefers_a_waiting_writer() -> None:
    lock = RWLock()
    order: list[str] = []
    reading = threading.Event()
    release = threading.Event()

    def long_reader() -> None:
        with lock.read():
            reading.set()
            release.wait(5)
            order.append("reader-1 done")

    def writer() -> None:
        with lock.write():
            order.append("writer")

    def late_reader() -> None:
        with lock.read():
            order.append("reader-2")

    t1 = threading.Thread(target=long_reader)
    t1.start()
    reading.wait(5)
    t2 = threading.Thread(target=writer)
    t2.start()
    while not lock._writers_waiting:
        pass
    t3 = threading.Thread(target=late_reader)
    t3.start()
    release.set()
    for t in (t1, t2, t3):
        t.join(5)
    assert order == ["reader-1 done", "writer", "reader-2"]
