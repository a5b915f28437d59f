"""Identity at N replicas on PostgreSQL: how soon an enrolment on one replica is found on another,
whether an erased face ever matches on another replica, and what a cold load and a catch-up cost.

Replica A and replica B are two identity service instances (in this process, each with its own
gRPC server, indexes and change feed) on one fresh PostgreSQL database, with a real inference
service for enrolment. Replica C is the same as B without LISTEN/NOTIFY (polling only); replica
D applies changes only when the bench tells it to (a notification that never comes).
  - visibility: enrol on A, search B and C by the face's embedding every few ms until found;
  - erasure races: erase on A, search B and D at once (D's index has certainly not applied it,
    B's may not have);
  - cold load: N faces (4 images per person) written straight into a second database, loaded
    the way a starting replica loads them; catch-up: a replica that missed K changes applies them.
Baseline in the same run (named "previous behaviour"): a replica that loads the galleries at
start and applies nothing afterwards, searched the way the previous version searched (its
in-memory index alone, no database check). It never finds a later enrolment and returns every
later erasure; its only way to see changes is a full reload, which is what cold_load_s costs.

    python bench/identity_replicas.py            # 1M faces, 60 races (about 1.5 min)
    python bench/identity_replicas.py --quick    # 100k faces, 20 races (< 1 min)

Writes bench/results/identity_replicas.json. Run it under `nice` on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import numpy as np
import numpy.typing as npt

from kuzet.common.tls import secure_channel, use_local_pki

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "identity_replicas.json"
PG_ADMIN = os.environ.get("KUZET_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
MODEL = "sface@2021dec"
DIM = 128
VISIBLE_TIMEOUT_S = 5.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def create_db(tag: str) -> tuple[str, str]:
    import psycopg

    name = f"kuzet_bench_identity_{tag}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    return name, f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)


def drop_db(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile_ms(samples: list[float], q: float) -> float | None:
    return round(float(np.percentile(np.asarray(samples), q)) * 1000, 1) if samples else None


# -- replicas over gRPC --------------------------------------------------------------------------


class Replica:
    def __init__(self, server: Any, app: Any, channel: Any) -> None:
        from kuzet.identity.v1 import identity_pb2_grpc

        self.server, self.app, self.channel = server, app, channel
        self.stub = identity_pb2_grpc.IdentityServiceStub(channel)

    async def stop(self) -> None:
        await self.channel.close()
        await self.server.stop(0)


async def start_replica(db_url: str, data_dir: Path, inference: str, **settings: Any) -> Replica:

    from kuzet.common.config import Endpoints
    from kuzet.identity.config import IdentitySettings
    from kuzet.identity.server import build

    config = IdentitySettings(
        port=0, database_url=db_url, data_dir=data_dir, publish_events=False, log_level="WARNING", **settings
    )
    server, app = await build(
        config, port=0, endpoints=Endpoints(inference=inference, alerting="127.0.0.1:1")
    )
    address = await server.start()
    return Replica(server, app, secure_channel(address))


async def races(db_url: str, work: Path, rounds: int) -> dict[str, Any]:
    from kuzet.common.caller import Caller, caller_metadata
    from kuzet.common.testdata import face_photos
    from kuzet.common.timeutil import to_timestamp, utcnow
    from kuzet.identity.faces import Face
    from kuzet.identity.registry import Registry
    from kuzet.identity.replication import ChangeFeed
    from kuzet.identity.v1 import identity_pb2 as pb
    from kuzet.inference.config import InferenceSettings
    from kuzet.inference.server import build as build_inference

    admin = caller_metadata(Caller("admin-bench", "prison", frozenset({"admin"})), audience="identity")
    investigator = caller_metadata(
        Caller("inv-bench", "prison", frozenset({"investigator"})), audience="identity"
    )
    inference = await build_inference(
        InferenceSettings(port=free_port(), data_dir=work / "inference", log_level="WARNING")
    )
    inference_address = await inference.start()
    a = await start_replica(db_url, work / "a", inference_address)
    b = await start_replica(db_url, work / "b", inference_address)
    c = await start_replica(db_url, work / "c", inference_address, change_listen=False)
    # D applies changes only when told: every erasure reaches it before its index has caught up.
    d = await start_replica(db_url, work / "d", inference_address, change_listen=False, change_poll_s=60)
    rng = np.random.default_rng(7)
    try:
        photo = face_photos()["obama"][0].read_bytes()
        face = await a.app.servicer.faces.face(photo, crop=False, strict=False)
        assert isinstance(face, Face), face
        probe = pb.Probe(embedding=pb.Embedding(values=face.vector.tolist(), model=face.model))
        gallery = (
            await a.stub.CreateGallery(
                pb.CreateGalleryRequest(
                    name="bench",
                    kind=pb.GALLERY_KIND_WATCHLIST,
                    purpose="benchmark",
                    legal_basis="none (synthetic)",
                    owner="bench",
                    expires_at=to_timestamp(utcnow() + timedelta(days=1)),
                ),
                metadata=admin,
            )
        ).gallery
        gid = gallery.gallery_id

        async def found_on(replica: Replica, person_id: str) -> bool:
            reply = await replica.stub.Identify(
                pb.IdentifyRequest(
                    probe=probe,
                    gallery_ids=[gid],
                    mode=pb.MATCH_MODE_INVESTIGATION,
                    top_k=100,
                    purpose="bench",
                ),
                metadata=investigator,
            )
            return any(cand.person_id == person_id for cand in reply.candidates)

        visible: dict[str, list[float]] = {"listen": [], "poll": []}
        missed = {"listen": 0, "poll": 0}
        people: list[str] = []
        for i in range(rounds):
            # A random phase against C's polling period, or every round would wait a whole one.
            await asyncio.sleep(float(rng.uniform(0, 0.5)))
            enrolled = await a.stub.EnrolPerson(
                pb.EnrolPersonRequest(
                    gallery_id=gid,
                    external_id=f"p{i}",
                    display_name=f"P {i}",
                    images=[pb.FaceImage(image=photo)],
                ),
                metadata=admin,
            )
            pid = enrolled.person.person_id
            people.append(pid)
            t0 = time.perf_counter()
            pending = {"listen": b, "poll": c}
            while pending and time.perf_counter() - t0 < VISIBLE_TIMEOUT_S:
                for kind, replica in list(pending.items()):
                    if await found_on(replica, pid):
                        visible[kind].append(time.perf_counter() - t0)
                        del pending[kind]
                await asyncio.sleep(0.005)
            for kind in pending:
                missed[kind] += 1

        # Previous behaviour: loaded now (as at a start), never updated, searched by its index alone.
        baseline = Registry()
        ChangeFeed(a.app.database, baseline, listen=False).load_all()
        baseline_found_later = 0

        await d.app.changes.catch_up()
        stale = stale_baseline = index_not_caught_up = 0
        for pid in people:
            await a.stub.RemovePerson(
                pb.RemovePersonRequest(person_id=pid, reason="bench erasure"), metadata=admin
            )
            # The instant the erasure returned: do B's and D's indexes still hold the face?
            for replica in (b, d):
                index_not_caught_up += int(replica.app.registry.person(pid) is not None)
                stale += int(await found_on(replica, pid))
            hits = baseline.search(gid, face.vector, 100, utcnow())
            stale_baseline += int(any(h.person.person_id == pid for h in hits))
        # One enrolment after the baseline loaded: does the baseline ever find it?
        late = await a.stub.EnrolPerson(
            pb.EnrolPersonRequest(
                gallery_id=gid, external_id="late", display_name="Late", images=[pb.FaceImage(image=photo)]
            ),
            metadata=admin,
        )
        await asyncio.sleep(1.0)
        hits = baseline.search(gid, face.vector, 100, utcnow())
        baseline_found_later = int(any(h.person.person_id == late.person.person_id for h in hits))
        return {
            "rounds": rounds,
            "erasure_searches": 2 * rounds,
            "visible_ms_p50": percentile_ms(visible["listen"], 50),
            "visible_ms_p99": percentile_ms(visible["listen"], 99),
            "visible_ms_max": percentile_ms(visible["listen"], 100),
            "not_visible_within_5s": missed["listen"],
            "visible_ms_p50_polling_only": percentile_ms(visible["poll"], 50),
            "visible_ms_p99_polling_only": percentile_ms(visible["poll"], 99),
            "not_visible_within_5s_polling_only": missed["poll"],
            "stale_matches_after_erasure": stale,
            "erasures_raced_before_index_caught_up": index_not_caught_up,
            "baseline_stale_matches_after_erasure": stale_baseline,
            "baseline_found_enrolment_after_1s": baseline_found_later,
        }
    finally:
        for replica in (a, b, c, d):
            await replica.stop()
        await inference.stop(0)


# -- cold load and catch-up --------------------------------------------------------------------


def bulk_gallery(db_url: str, faces: int, rng: np.random.Generator) -> str:
    """``faces`` embeddings (4 per person) written by PostgreSQL itself from 10,000 distinct
    random unit vectors, so that writing a million rows takes seconds, not minutes."""
    import psycopg

    from kuzet.common.db import Database, migrate
    from kuzet.common.pglisten import libpq_url

    migrate(Database(db_url), "kuzet.identity.migrations")
    gid = str(uuid.uuid4())
    templates = rng.standard_normal((10_000, DIM), dtype=np.float32)
    templates /= np.linalg.norm(templates, axis=1, keepdims=True)
    with psycopg.connect(libpq_url(db_url)) as conn:
        conn.execute("SET session_replication_role = replica")  # no FK triggers for a bulk load
        conn.execute(
            "INSERT INTO identity_galleries VALUES (%s, 'prison', 'bulk', 4, 'bench', 'none', 'bench', "
            "0.45, NULL, 2, %s, now(), 'bench')",
            (gid, MODEL),
        )
        conn.execute("CREATE TEMP TABLE bench_vectors (k int PRIMARY KEY, v bytea)")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO bench_vectors VALUES (%s, %s)",
                [(k, v.tobytes()) for k, v in enumerate(templates)],
            )
        conn.execute(
            "INSERT INTO identity_people SELECT 'p' || g, %s, 'x' || g, 'X ' || g, now(), NULL, 'bench' "
            "FROM generate_series(0, %s) g",
            (gid, (faces - 1) // 4),
        )
        conn.execute(
            "INSERT INTO identity_images SELECT 'i' || g, 'p' || (g / 4), %s, 'k/' || g, 'sha', 1, "
            "'image/jpeg', 'image', 0, 0, 1, 1, now() FROM generate_series(0, %s) g",
            (gid, faces - 1),
        )
        conn.execute(
            "INSERT INTO identity_embeddings (image_id, person_id, gallery_id, model, dim, vector, created_at) "
            "SELECT 'i' || g, 'p' || (g / 4), %s, %s, %s, t.v, now() FROM generate_series(0, %s) g "
            "JOIN bench_vectors t ON t.k = g %% 10000",
            (gid, MODEL, DIM, faces - 1),
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return gid


def write_enrolment(database: Any, gid: str, pid: str, vector: npt.NDArray[np.float32]) -> None:
    """One enrolment as a replica commits it: person, image, embedding and its change row."""
    from kuzet.common.timeutil import utcnow
    from kuzet.identity.changes import record_change
    from kuzet.identity.models import EmbeddingRow, ImageRow, PersonRow

    iid = f"img-{pid}"
    now = utcnow()
    with database.session() as s:
        s.add(
            PersonRow(
                person_id=pid,
                gallery_id=gid,
                external_id=pid,
                display_name=pid,
                enrolled_at=now,
                enrolled_by="b",
            )
        )
        s.flush()
        s.add(
            ImageRow(
                image_id=iid,
                person_id=pid,
                gallery_id=gid,
                object_key="k",
                sha256="s",
                size_bytes=1,
                content_type="image/jpeg",
                source_kind="image",
                box_x1=0,
                box_y1=0,
                box_x2=1,
                box_y2=1,
                created_at=now,
            )
        )
        s.flush()
        s.add(
            EmbeddingRow(
                image_id=iid,
                person_id=pid,
                gallery_id=gid,
                model=MODEL,
                dim=DIM,
                vector=vector.tobytes(),
                created_at=now,
            )
        )
        record_change(s, "enrol", gid, pid)


def cold_and_catch_up(db_url: str, faces: int, changes: int) -> dict[str, Any]:
    from kuzet.common.db import Database
    from kuzet.identity.registry import Registry
    from kuzet.identity.replication import ChangeFeed
    from kuzet.identity.vectorindex import IndexParams

    rng = np.random.default_rng(42)
    t0 = time.perf_counter()
    gid = bulk_gallery(db_url, faces, rng)
    write_s = time.perf_counter() - t0
    database = Database(db_url)
    registry = Registry(IndexParams())
    feed = ChangeFeed(database, registry, listen=False)
    t0, c0 = time.perf_counter(), time.process_time()
    loaded = feed.load_all()
    cold_s, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
    index = registry.index(gid)

    # K changes committed by "another replica" while this one was not listening; three times,
    # as one catch-up is short enough for a neighbour's burst of CPU to double it.
    catchups: list[float] = []
    for rep in range(3):
        vectors: npt.NDArray[np.float32] = rng.standard_normal((changes, DIM), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        for i in range(changes):
            write_enrolment(database, gid, f"new-{rep}-{i}", vectors[i])
        t0 = time.perf_counter()
        applied = asyncio.run(feed.catch_up())
        catchups.append(time.perf_counter() - t0)
        assert applied == changes, (applied, changes)
    assert registry.size(gid) == loaded + 3 * changes
    database.dispose()
    return {
        "cold_load_faces": loaded,
        "cold_load_people": (faces + 3) // 4,
        "cold_load_s": round(cold_s, 2),
        "cold_load_cpu_s": round(cold_cpu, 2),
        "cold_load_index_kind": index.kind if index is not None else None,
        "bulk_write_s": round(write_s, 2),
        "catchup_changes": changes,
        "catchup_s": round(float(np.median(catchups)), 3),
        "catchup_s_runs": [round(x, 3) for x in catchups],
        "baseline_full_reload_s": round(cold_s, 2),
    }


def main() -> int:
    from kuzet.common.auditkeys import use_run_audit_key

    use_run_audit_key()  # the services it starts refuse to start without an audit key
    use_local_pki(Path(mkdtemp(prefix="kuzet-bench-pki-")), "bench")  # mTLS, as deployed
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k faces, 20 races (< 1 min)")
    parser.add_argument("--faces", type=int, default=0, help="faces for the cold load")
    parser.add_argument("--out", type=Path, default=RESULTS)
    opts = parser.parse_args()
    from kuzet.common.callerkeys import use_ephemeral_keys

    # The services it starts verify caller tokens: keys for this run (kept until main returns).
    _keys = use_ephemeral_keys("bench")
    faces = opts.faces or (100_000 if opts.quick else 1_000_000)
    rounds = 20 if opts.quick else 60
    changes = 200 if opts.quick else 1_000
    load_before = os.getloadavg()

    import tempfile

    names: list[str] = []
    try:
        name, url = create_db("races")
        names.append(name)
        with tempfile.TemporaryDirectory() as work:
            race = asyncio.run(races(url, Path(work), rounds))
        print("  races done", file=sys.stderr)
        name, url = create_db("bulk")
        names.append(name)
        load = cold_and_catch_up(url, faces, changes)
    finally:
        for name in names:
            drop_db(name)

    rows = [
        (
            "enrolment on A found on B, p50 / p99 ms",
            f"{race['visible_ms_p50']} / {race['visible_ms_p99']}",
            "never (no propagation)",
        ),
        (
            "  polling only (C), p50 / p99 ms",
            f"{race['visible_ms_p50_polling_only']} / {race['visible_ms_p99_polling_only']}",
            "",
        ),
        (
            f"stale matches after {rounds} erasures (searched on B and D)",
            str(race["stale_matches_after_erasure"]),
            str(race["baseline_stale_matches_after_erasure"]),
        ),
        (
            "  searches made before that index had caught up",
            str(race["erasures_raced_before_index_caught_up"]),
            "",
        ),
        (f"cold load of {load['cold_load_faces']:,} faces, s", str(load["cold_load_s"]), ""),
        (
            f"catch-up of {changes} missed changes, s",
            str(load["catchup_s"]),
            f"{load['baseline_full_reload_s']} (full reload)",
        ),
    ]
    print(f"{'':50} {'change feed':>16} {'previous':>24}")
    for label, ours, base in rows:
        print(f"{label:50} {ours:>16} {base:>24}")

    result = {
        "benchmark": "identity_replicas",
        "quick": opts.quick,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            "note": "CPU shared with other jobs (see load average); PostgreSQL on the same machine",
        },
        "baseline": (
            "previous behaviour: a replica that loads the galleries at start and applies nothing "
            "afterwards, searched by its in-memory index alone (no database check); it sees "
            "changes only by a full reload (baseline_full_reload_s)"
        ),
        **race,
        **load,
    }
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {opts.out.relative_to(ROOT) if opts.out.is_relative_to(ROOT) else opts.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
