"""Three ingest replicas as real processes; one is killed with SIGKILL; the survivors take over.

Ownership comes from membership leases, in the service's database (SQLite file and PostgreSQL, what
`kuzet up` runs) and in a real kube-apiserver (what the chart runs). Every 0.25 s the test asks each
replica which cameras it decodes frames of (frames_decoded moved since the last look), and checks
that no camera is decoded by two replicas for longer than one renewal period, during the start-up
hand-overs as well as the takeover, and how long the killed replica's cameras went unanalysed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from kuzet.common.grpcclient import open_channel
from kuzet.common.k8stest import KubeApiServer, kube_apiserver  # noqa: F401 - fixture
from kuzet.common.testing import free_port_number
from kuzet.ingest.ownership import lease_timing
from kuzet.ingest.v1 import ingest_pb2 as pb
from kuzet.ingest.v1 import ingest_pb2_grpc

from .conftest import ADMIN

REPLICAS = ("ingest-0", "ingest-1", "ingest-2")
CAMERAS = [f"cam-{i}" for i in range(6)]
ROUND_S = 0.25
SERVE = "from kuzet.common.cli import main; raise SystemExit(main(['serve', 'ingest']))"


@dataclass
class Replica:
    name: str
    port: int
    proc: asyncio.subprocess.Process
    stub: Any = None
    channel: Any = None
    frames: dict[str, int] = field(default_factory=dict)


class Cluster:
    """The replicas and a record of who decoded which camera in every round."""

    def __init__(self, tmp: Path, env: dict[str, str], database_url: str) -> None:
        self.tmp, self.env, self.database_url = tmp, env, database_url
        self.replicas: dict[str, Replica] = {}
        # (round end time, {camera: replicas that decoded it during the round})
        self.rounds: list[tuple[float, dict[str, set[str]]]] = []
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for name in REPLICAS:
            port = free_port_number()
            env = {
                **self.env,
                "KUZET_INGEST_PORT": str(port),
                "KUZET_INGEST_REPLICA_ID": name,
                "KUZET_DATA_DIR": str(self.tmp / name),
            }
            with (self.tmp / f"{name}.log").open("wb") as log:  # the child keeps its own copy
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-c", SERVE, env=env, stdout=log, stderr=asyncio.subprocess.STDOUT
                )
            self.replicas[name] = Replica(name, port, proc)
        for replica in self.replicas.values():
            replica.channel = open_channel(f"127.0.0.1:{replica.port}", audience="ingest", caller=ADMIN)
            replica.stub = ingest_pb2_grpc.IngestServiceStub(replica.channel)
            await self._until_serving(replica)

    async def _until_serving(self, replica: Replica) -> None:
        deadline = time.monotonic() + 90
        while True:
            try:
                await replica.stub.ShardStatus(pb.ShardStatusRequest(), timeout=2)
                return
            except Exception:
                if replica.proc.returncode is not None or time.monotonic() > deadline:
                    log = (self.tmp / f"{replica.name}.log").read_text(errors="replace")
                    raise AssertionError(f"{replica.name} did not start:\n{log[-3000:]}") from None
                await asyncio.sleep(0.5)

    async def _decoding(self, replica: Replica) -> set[str]:
        try:
            health = (await replica.stub.ListCameraHealth(pb.ListCameraHealthRequest(), timeout=1)).health
        except Exception:  # killed, or too busy to answer this round: it decoded nothing we saw
            return set()
        out = set()
        for h in health:
            if h.frames_decoded > replica.frames.get(h.camera_id, h.frames_decoded):
                out.add(h.camera_id)
            replica.frames[h.camera_id] = h.frames_decoded
        return out

    async def _watch_rounds(self) -> None:
        while True:
            await asyncio.sleep(ROUND_S)
            seen = await asyncio.gather(*(self._decoding(r) for r in self.replicas.values()))
            by_camera: dict[str, set[str]] = {cam: set() for cam in CAMERAS}
            for replica, cams in zip(self.replicas.values(), seen, strict=True):
                for cam in cams:
                    by_camera.setdefault(cam, set()).add(replica.name)
            self.rounds.append((time.monotonic(), by_camera))

    def watch(self) -> None:
        self._watch = asyncio.create_task(self._watch_rounds())

    async def settled(self, within_s: float) -> dict[str, str]:
        """Every camera decoded by exactly one replica for three rounds in a row: camera -> replica."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            last = [by for _, by in self.rounds[-3:]]
            if len(last) == 3 and all(len(by[cam]) == 1 for by in last for cam in CAMERAS):
                owners = [{cam: next(iter(by[cam])) for cam in CAMERAS} for by in last]
                if owners[0] == owners[1] == owners[2]:
                    return owners[0]
            await asyncio.sleep(ROUND_S)
        raise AssertionError(f"cameras never settled on one replica each: {self.rounds[-3:]}")

    def longest_double_decoding_s(self) -> float:
        """The longest run of rounds in which some camera was decoded by two replicas."""
        longest = 0.0
        for cam in CAMERAS:
            run_start = None
            previous_end = None
            for end, by in self.rounds:
                if len(by[cam]) > 1:
                    run_start = run_start if run_start is not None else (previous_end or end - ROUND_S)
                    longest = max(longest, end - run_start)
                else:
                    run_start = None
                previous_end = end
        return longest

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for replica in self.replicas.values():
            if replica.channel is not None:
                await replica.channel.close()
            if replica.proc.returncode is None:
                replica.proc.send_signal(signal.SIGTERM)
        for replica in self.replicas.values():
            try:
                await asyncio.wait_for(replica.proc.wait(), 20)
            except TimeoutError:
                replica.proc.kill()
                await replica.proc.wait()


@pytest.fixture(params=["sqlite", "postgres", "kubernetes"])
async def cluster(
    request: pytest.FixtureRequest, tmp_path: Path, long_mp4: Path
) -> AsyncIterator[tuple[Cluster, float]]:
    # The default takeover goal, 15 s (a 9 s lease), which `kuzet up` and the chart run; "-short"
    # keeps tests that judge no takeover short with 8 s (a 4 s lease).
    backend, _, short = str(request.param).partition("-")
    duration = 8.0 if short else 15.0
    env = {
        **os.environ,
        "KUZET_INGEST_LEASE_DURATION_S": str(duration),
        "KUZET_INGEST_LOOP_FILES": "true",
        "KUZET_INGEST_RECONCILE_S": "0.5",
        "KUZET_INGEST_OBJECT_STORE_URL": f"file://{tmp_path / 'objects'}",
        # Nothing to analyse with: every camera still decodes (that is what the test watches).
        "KUZET_ENDPOINT_INFERENCE": "127.0.0.1:1",
        "KUZET_ENDPOINT_IDENTITY": "127.0.0.1:1",
        "KUZET_ENDPOINT_ALERTING": "127.0.0.1:1",
    }
    if backend == "postgres":
        env["KUZET_INGEST_DATABASE_URL"] = request.getfixturevalue("pg_url")
    else:
        env["KUZET_INGEST_DATABASE_URL"] = f"sqlite:///{tmp_path / 'ingest.db'}"
    if backend == "kubernetes":
        server: KubeApiServer = request.getfixturevalue("kube_apiserver")
        env.update(
            KUZET_INGEST_MEMBERSHIP="kubernetes",
            KUBECONFIG=str(server.kubeconfig),
            KUZET_POD_NAMESPACE=server.create_namespace(),
        )
    else:
        env["KUZET_INGEST_MEMBERSHIP"] = "database"
    group = Cluster(tmp_path, env, env["KUZET_INGEST_DATABASE_URL"])
    try:
        await group.start()
        yield group, duration
    finally:
        await group.close()


@pytest.mark.slow
async def test_killed_replica_cameras_are_taken_over_within_the_lease(
    cluster: tuple[Cluster, float], long_mp4: Path
) -> None:
    group, duration = cluster
    _, period = lease_timing(duration)
    first = group.replicas[REPLICAS[0]].stub
    for cam in CAMERAS:
        camera = pb.Camera(id=cam, site_id="north", url=f"file://{long_mp4}", enabled=True, analytic_fps=1.0)
        await first.CreateCamera(pb.CreateCameraRequest(camera=camera))
    group.watch()
    owners = await group.settled(within_s=4 * duration + 30)
    statuses = [await r.stub.ShardStatus(pb.ShardStatusRequest()) for r in group.replicas.values()]
    assert all(s.lease_held and list(s.replicas) == list(REPLICAS) for s in statuses), statuses
    victim = max(REPLICAS, key=lambda r: sum(1 for o in owners.values() if o == r))
    theirs = [cam for cam, o in owners.items() if o == victim]

    group.replicas[victim].proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    taken: dict[str, float] = {}
    while len(taken) < len(theirs):
        assert time.monotonic() - killed < duration + 15, f"not taken over: {set(theirs) - set(taken)}"
        await asyncio.sleep(ROUND_S)
        for end, by in group.rounds:
            for cam in theirs:
                if end > killed and cam not in taken and by[cam] - {victim}:
                    taken[cam] = end - killed
    takeover_s = max(taken.values())
    double_s = group.longest_double_decoding_s()
    print(
        f"\ningest_takeover_s={takeover_s:.2f} (goal {duration:.0f}s, {len(theirs)} cameras of "
        f"{victim}); longest double decoding {double_s:.2f}s (renewal period {period:.1f}s)"
    )
    # Whenever in the renewal period the kill fell: at most the lease (3/5 of the goal) after the
    # last renewal, two listings, a reconcile and the first decoded frames (1 fps, seen by this
    # test's rounds: up to 3 s on a loaded machine), all within the goal.
    assert takeover_s <= duration
    assert double_s <= period
    survivors = tuple(r for r in REPLICAS if r != victim)
    status = await group.replicas[survivors[0]].stub.ShardStatus(pb.ShardStatusRequest())
    assert list(status.replicas) == list(survivors) and status.lease_held


@pytest.mark.slow
@pytest.mark.parametrize("cluster", ["sqlite-short", "postgres-short"], indirect=True)
async def test_replicas_that_lose_the_database_stop_their_cameras(
    cluster: tuple[Cluster, float], long_mp4: Path
) -> None:
    group, duration = cluster
    _, period = lease_timing(duration)
    first = group.replicas[REPLICAS[0]].stub
    for cam in CAMERAS:
        camera = pb.Camera(id=cam, site_id="north", url=f"file://{long_mp4}", enabled=True, analytic_fps=1.0)
        await first.CreateCamera(pb.CreateCameraRequest(camera=camera))
    group.watch()
    await group.settled(within_s=4 * duration + 30)
    with locked_database(group.database_url):
        locked = time.monotonic()
        # Renewals and listings stall: every replica stops its cameras before anybody could
        # take one over (nobody can: they all lost the database).
        while any(by[cam] for _, by in group.rounds[-3:] for cam in CAMERAS):
            assert time.monotonic() - locked < duration, "cameras still decoded without a lease"
            await asyncio.sleep(ROUND_S)
        stopped_s = time.monotonic() - locked
        for replica in group.replicas.values():
            status = await replica.stub.ShardStatus(pb.ShardStatusRequest(), timeout=5)
            assert not status.lease_held and not status.camera_ids, status
        await asyncio.sleep(period)
    print(f"\ncameras stopped {stopped_s:.2f}s after the database locked (lease {duration:.0f}s)")
    await group.settled(within_s=4 * duration + 10)
    assert group.longest_double_decoding_s() <= period


@contextlib.contextmanager
def locked_database(url: str) -> Iterator[None]:
    """Another client holds the lease table (SQLite: the whole file) locked: a stalled database."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
    else:
        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        conn.execute("LOCK TABLE kuzet_leases IN ACCESS EXCLUSIVE MODE")
    try:
        yield
    finally:
        conn.rollback()
        conn.close()
