"""Badge benchmark: concurrent badge streams at 1 report/s held by one service process (p50/p99
report -> stored-and-acknowledged latency), and evidence upload time next to a plain object-store
put of the same bytes in the same run.

    python bench/badge.py                 # full: 10,000 badges, 30 s measured, 64 MiB upload
    python bench/badge.py --quick         # < 1 minute: 1,000 badges, 6 s, 8 MiB
    python bench/badge.py --db postgres --store s3
    python bench/badge.py --quick --only upload --repeats 7   # one part, for iterating
    python bench/badge.py --quick --device-http2 builtin,h2   # both device-port framings

The upload part sends one unmeasured warm-up upload and put (connection set-up, first writes),
then `--repeats` of each (quick 5, full 5), alternating, and reports the median of the per-pair
ratios (upload / the put right after it), the medians and the CPU time each took (the
service's for an upload). On this 2-core VM a put's time swings about
2.5x from run to run with the state of the machine's memory (writes into page-cache pages the
hypervisor has to supply again are slow); a put's CPU time shows which state a run met.

The service runs as its own process (`SPEC.run()`, the same code `kuzet serve badge` runs); the
badges are simulated by separate load-generator processes speaking the real Connect protocol
(kuzet.badge.sim). The device port is dialled in plaintext HTTP/2, as badges reach it behind the
TLS-terminating load balancer; the API port (the baseline) and the bare floor, grpcio servers
that serve only mutual TLS, with TLS, ALPN h2 and the run's certificate. Latency is measured at
the badge: from writing a report to reading the ack that covers it, which the service only sends
after the report is committed to the database.
`--device-http2` names the device port's HTTP/2 framings to measure (KUZET_BADGE_DEVICE_HTTP2),
in that order, the service restarted for each on the same database; the first is the headline,
every one is in `device_port_by_framing` with the ratio of its CPU per report to the first's.
Writes bench/results/badge.json (a part run alone: badge-<part>.json; on PostgreSQL, -postgres
follows); the stored objects are deleted at the end, the logs kept in the work directory it
prints.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

from kuzet.common.tls import secure_channel, use_local_pki

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("KUZET_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
AGENCY = "bench-police"


def caller_md() -> list[tuple[str, str]]:
    """The bench's caller, in a token for the badge service (minted per call: tokens expire)."""
    from kuzet.common.caller import Caller, caller_metadata

    return caller_metadata(Caller("service:bench", AGENCY, frozenset({"admin", "service"})), audience="badge")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- setup -----------------------------------------------------------------------------------


def create_pg_db() -> tuple[str, str]:
    import psycopg

    name = f"kuzet_bench_badge_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)


def drop_pg_db(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed_badges(db_url: str, count: int) -> dict[str, str]:
    """Registered badges with an officer on shift, written directly (10,000 RPCs would be setup time).

    Their device tokens, by badge id: the device port authenticates every stream by its token.
    """
    from kuzet.badge import credentials
    from kuzet.badge.models import BadgeRow, ShiftRow
    from kuzet.badge.v1 import badge_pb2
    from kuzet.common.db import Database, migrate

    database = Database(db_url)
    migrate(database, "kuzet.badge.migrations")
    now = datetime.now(UTC)
    ids = [f"BB-{i:05d}" for i in range(count)]
    issued = {b: credentials.new_token(b) for b in ids}
    with database.session() as session:
        session.add_all(
            BadgeRow(
                badge_id=b,
                agency_id=AGENCY,
                unit_id=f"unit-{i % 50}",
                serial_number=b,
                firmware_version="1.0",
                status=badge_pb2.BADGE_STATUS_ACTIVE,
                officer_id=f"off-{b}",
                registered_at=now,
                updated_at=now,
                device_credential_hash=issued[b][1],
            )
            for i, b in enumerate(ids)
        )
        session.flush()
        session.add_all(
            ShiftRow(badge_id=b, officer_id=f"off-{b}", started_at=now, assigned_by="bench") for b in ids
        )
    database.dispose()
    return {b: token for b, (token, _) in issued.items()}


BARE_SERVER = """
import asyncio, sys
import grpc
from kuzet.badge.v1 import badge_pb2 as A, badge_pb2_grpc
from kuzet.common.tls import bind, server_credentials


class Bare(badge_pb2_grpc.BadgeServiceServicer):
    # The floor: the same Connect protocol (welcome, one ack per report) with no storage, no
    # rules and no interceptors, to show what grpc.aio itself costs per report.
    async def Connect(self, requests, context):
        acks = asyncio.Queue()

        async def read():
            async for message in requests:
                if message.WhichOneof("payload") == "report":
                    acks.put_nowait(message.report.seq)
            acks.put_nowait(None)

        reader = asyncio.create_task(read())
        yield A.ConnectResponse(welcome=A.Welcome())
        while (seq := await acks.get()) is not None:
            yield A.ConnectResponse(ack=A.Ack(up_to_seq=seq))
        await reader


async def main():
    server = grpc.aio.server()
    badge_pb2_grpc.add_BadgeServiceServicer_to_server(Bare(), server)
    bind(server, "127.0.0.1:" + sys.argv[1], server_credentials())
    await server.start()
    await server.wait_for_termination()


asyncio.run(main())
"""


BARE_DEVICE_SERVER = """
import asyncio, sys
import grpc
from kuzet.badge.telemetry.grpcwire import WireEndpoint
from kuzet.badge.v1 import badge_pb2 as A
from kuzet.badge.telemetry.wire import CONNECT, http2_framing


class Bare:
    # The device port's floor for one framing: the bare server's protocol over the same endpoint
    # the service runs, so that what is left is the framing's cost per report and ack.
    def __init__(self, stream):
        self.stream = stream

    def on_message(self, data):
        message = A.ConnectRequest.FromString(data)
        kind = message.WhichOneof("payload")
        if kind == "hello":
            self.stream.send_message(A.ConnectResponse(welcome=A.Welcome()).SerializeToString())
        elif kind == "report":
            reply = A.ConnectResponse(ack=A.Ack(up_to_seq=message.report.seq))
            self.stream.send_message(reply.SerializeToString())

    def on_half_close(self):
        self.stream.finish(grpc.StatusCode.OK)

    def on_closed(self):
        pass


async def main():
    endpoint = WireEndpoint({CONNECT: Bare}, http2_framing(sys.argv[2]))
    await endpoint.start("127.0.0.1", int(sys.argv[1]))
    await asyncio.Event().wait()


asyncio.run(main())
"""


def start_bare_server(port: int, data_dir: Path, framing: str = "") -> subprocess.Popen[bytes]:
    """The bare grpc.aio server, or with ``framing`` the bare device port of that framing."""
    script = data_dir / f"bare_server{'_' + framing if framing else ''}.py"
    script.write_text(BARE_DEVICE_SERVER if framing else BARE_SERVER)
    return subprocess.Popen([sys.executable, str(script), str(port), framing])


def start_service(
    env_extra: dict[str, str], port: int, device_port: int, data_dir: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KUZET_BADGE_PORT": str(port),
        "KUZET_BADGE_DEVICE_PORT": str(device_port),
        "KUZET_BADGE_DATA_DIR": str(data_dir),
        "KUZET_BADGE_LOG_LEVEL": "WARNING",
        # No alerting runs in the benchmark: events wait in the bounded outbox.
        "KUZET_ENDPOINT_ALERTING": f"127.0.0.1:{free_port()}",
        **env_extra,
    }
    script = data_dir / "serve_badge.py"
    serve = "asyncio.run(SPEC.run())"
    # KUZET_BENCH_PROFILE=file: profile the service's CPU time (cProfile, process clock).
    if profile := os.environ.get("KUZET_BENCH_PROFILE"):
        serve = (
            "import cProfile, time\nprofiler = cProfile.Profile(time.process_time)\n"
            f"profiler.runcall(lambda: {serve})\nprofiler.dump_stats({profile!r})"
        )
    script.write_text(f"import asyncio\nfrom kuzet.badge.server import SPEC\n{serve}\n")
    command = [sys.executable, str(script)]
    log = open(data_dir / "service.log", "wb")  # noqa: SIM115
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


async def wait_ready(address: str, limit_s: float = 60.0) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + limit_s
    async with secure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("badge service did not become ready")
            await asyncio.sleep(0.3)


# -- load generator (separate processes) -------------------------------------------------------


def generator(
    address: str,
    ids: list[str],
    warmup: float,
    measure: float,
    out: Any,
    tokens: dict[str, str] | None,
    tls: bool,
) -> None:
    # Real badges are separate devices: the simulated ones yield the CPU to the service first.
    os.nice(10)
    from kuzet.badge.loadgen import run_load
    from kuzet.common.tls import client_ssl_context

    host, _, port = address.rpartition(":")
    result = asyncio.run(
        run_load(
            host,
            int(port),
            ids,
            tokens=tokens,
            metadata=caller_md(),
            warmup_s=warmup,
            measure_s=measure,
            # The run's certificate and CA: spawned workers inherit the KUZET_TLS_* of main().
            tls=client_ssl_context() if tls else None,
        )
    )
    out.put(
        {
            "latencies": result.latencies,
            "connected": result.connected,
            "at_rate": result.at_rate,
            "acked": result.acked,
            "elapsed": result.elapsed_s,
            "ended": result.ended,
            "unacked": result.unacked,
        }
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process: what it cost, however busy the machine was."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_streams(
    address: str,
    ids: list[str],
    processes: int,
    warmup: float,
    measure: float,
    service_pid: int,
    tokens: dict[str, str] | None = None,
    tls: bool = True,
) -> dict[str, Any]:
    """``tokens``: the badges' device tokens, for the device port (the API port reads the caller).
    ``tls``: dial mutual TLS, as every grpcio server demands; the device port is plaintext HTTP/2,
    as badges reach it behind the TLS-terminating load balancer."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    slices = [ids[i::processes] for i in range(processes)]
    workers = [
        ctx.Process(
            target=generator,
            args=(address, s, warmup, measure, queue, {b: tokens[b] for b in s} if tokens else None, tls),
        )
        for s in slices
    ]
    for w in workers:
        w.start()
    # Spawned workers take a moment to import; this window is approximately theirs.
    time.sleep(warmup + 1.0)
    cpu_before, wall_before = cpu_seconds(service_pid), time.monotonic()
    generators_before = sum(cpu_seconds(w.pid) for w in workers if w.pid)
    time.sleep(measure - 1.0)
    service_cpu = cpu_seconds(service_pid) - cpu_before
    generators_cpu = sum(cpu_seconds(w.pid) for w in workers if w.pid) - generators_before
    service_wall = time.monotonic() - wall_before
    results = [queue.get(timeout=warmup + measure + 180) for _ in workers]
    for w in workers:
        w.join(30)
    latencies = [x for r in results for x in r["latencies"]]
    ended: dict[str, int] = {}
    for r in results:
        for status, count in r["ended"].items():
            ended[status] = ended.get(status, 0) + count
    elapsed = max(r["elapsed"] for r in results)
    rate = sum(r["acked"] for r in results) / elapsed
    cpu_per_report = service_cpu / max(1.0, rate * service_wall)
    return {
        "badges_requested": len(ids),
        "badges_connected": sum(r["connected"] for r in results),
        "badges_at_1hz": sum(r["at_rate"] for r in results),
        "reports_per_s": rate,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": max(latencies) * 1000 if latencies else float("nan"),
        "service_cpu_share": service_cpu / service_wall,
        "generators_cpu_share": generators_cpu / service_wall,
        "service_cpu_us_per_report": cpu_per_report * 1e6,
        # What one core would hold at this cost per report, were the service alone on it.
        "projected_badges_per_core": int(1.0 / cpu_per_report) if cpu_per_report > 0 else 0,
        "streams_ended": ended,
        "reports_never_acked": sum(r["unacked"] for r in results),
    }


# -- evidence upload vs plain put ----------------------------------------------------------------


async def measure_upload(
    address: str, store_url: str, size: int, repeats: int, service_pid: int
) -> dict[str, Any]:

    from kuzet.badge.v1 import badge_pb2 as A
    from kuzet.badge.v1 import badge_pb2_grpc
    from kuzet.common.objectstore import open_object_store
    from kuzet.common.timeutil import to_timestamp, utcnow

    chunk = 1024 * 1024
    store = open_object_store(store_url)
    uploads, puts, upload_cpu, put_cpu = [], [], [], []
    async with secure_channel(
        address,
        options=[("grpc.max_send_message_length", 32 << 20), ("grpc.max_receive_message_length", 32 << 20)],
    ) as channel:
        stub = badge_pb2_grpc.BadgeServiceStub(channel)
        for attempt in range(repeats + 1):
            data = os.urandom(size)
            # The badge knows its hashes before it uploads; computing them is not the service's time.
            parts = [data[i : i + chunk] for i in range(0, size, chunk)]
            requests = [
                A.UploadEvidenceRequest(
                    metadata=A.EvidenceMetadata(
                        upload_id=uuid.uuid4().hex,
                        badge_id="BB-00000",
                        captured_at=to_timestamp(utcnow()),
                        category="evidential",
                        content_type="video/mp4",
                        total_size=size,
                        sha256=hashlib.sha256(data).hexdigest(),
                        chunk_size=chunk,
                    )
                ),
                *(
                    A.UploadEvidenceRequest(
                        chunk=A.EvidenceChunk(index=i, data=p, sha256=hashlib.sha256(p).hexdigest())
                    )
                    for i, p in enumerate(parts)
                ),
            ]
            started, cpu = time.perf_counter(), cpu_seconds(service_pid)
            response = await stub.UploadEvidence(iter(requests), metadata=caller_md())
            upload_s, upload_cpu_s = time.perf_counter() - started, cpu_seconds(service_pid) - cpu
            assert response.complete and response.evidence.object.sha256 == hashlib.sha256(data).hexdigest()
            # The baseline: the same bytes put straight into the same store from this process.
            started, cpu = time.perf_counter(), time.process_time()
            await store.put(f"bench-plain/{uuid.uuid4().hex}", data, "video/mp4", overwrite=False)
            put_s, put_cpu_s = time.perf_counter() - started, time.process_time() - cpu
            if attempt:  # the first round is the warm-up
                uploads.append(upload_s)
                puts.append(put_s)
                upload_cpu.append(upload_cpu_s)
                put_cpu.append(put_cpu_s)
    upload_s, put_s = statistics.median(uploads), statistics.median(puts)
    return {
        "upload_bytes": size,
        "repeats": repeats,
        "upload_s": upload_s,
        "put_s": put_s,
        "upload_mb_s": size / upload_s / 1e6,
        "put_mb_s": size / put_s / 1e6,
        # Each upload against the put right after it: the store's speed drifts by 2x within a
        # run on this VM, and a pair sees the same state of it.
        "upload_over_put": statistics.median(u / p for u, p in zip(uploads, puts, strict=True)),
        "ratio_of_medians": upload_s / put_s,
        # CPU time, which a busy machine does not inflate: the service's for an upload (not the
        # client's; /proc clock ticks, 10 ms), this process's for a put.
        "upload_service_cpu_s": statistics.median(upload_cpu),
        "put_cpu_s": statistics.median(put_cpu),
        "upload_runs_s": [round(x, 4) for x in uploads],
        "put_runs_s": [round(x, 4) for x in puts],
    }


# -- main --------------------------------------------------------------------------------------


def main() -> int:
    from kuzet.common.auditkeys import use_run_audit_key

    use_run_audit_key()  # the services it starts refuse to start without an audit key
    use_local_pki(Path(mkdtemp(prefix="kuzet-bench-pki-")), "bench")  # mTLS, as deployed
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="reduced run, under a minute")
    parser.add_argument("--badges", type=int, default=None)
    parser.add_argument("--measure", type=float, default=None, help="seconds measured after warm-up")
    parser.add_argument("--generators", type=int, default=1, help="load-generator processes")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also run the load against a bare grpc.aio server and a bare device port per framing",
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--store", choices=["local", "s3"], default="local")
    parser.add_argument(
        "--only", choices=["streams", "upload"], default=None, help="run one part (writes badge-<part>.json)"
    )
    parser.add_argument("--repeats", type=int, default=None, help="measured uploads and puts")
    parser.add_argument(
        "--device-http2",
        default="builtin",
        help="device-port framings to measure, in order (KUZET_BADGE_DEVICE_HTTP2): builtin, h2 or both "
        "as builtin,h2",
    )
    opts = parser.parse_args()
    framings = opts.device_http2.split(",")
    if (
        not framings
        or any(f not in ("builtin", "h2") for f in framings)
        or len(set(framings)) < len(framings)
    ):
        parser.error("--device-http2: builtin, h2 or both, comma-separated")
    from kuzet.common.callerkeys import use_ephemeral_keys

    # The services it starts verify caller tokens: keys for this run (kept until main returns).
    _keys = use_ephemeral_keys("bench")
    badges = opts.badges or (1000 if opts.quick else 10_000)
    measure = opts.measure or (6.0 if opts.quick else 30.0)
    warmup = 5.0 if opts.quick else 25.0
    upload_size = (8 if opts.quick else 64) * 1024 * 1024
    repeats = opts.repeats or 5

    work = Path(tempfile.mkdtemp(prefix="kuzet-bench-badge-"))
    env: dict[str, str] = {}
    pg_name = ""
    seaweed = None
    if opts.db == "postgres":
        pg_name, db_url = create_pg_db()
    else:
        db_url = f"sqlite:///{work / 'badge.db'}"
    env["KUZET_BADGE_DATABASE_URL"] = db_url
    if opts.store == "s3":
        from kuzet.common.testing import start_seaweedfs

        access, secret = "bench", uuid.uuid4().hex
        seaweed, endpoint = start_seaweedfs(work / "s3", access, secret)
        store_url = f"s3://bench-evidence?endpoint={endpoint}"
        os.environ.update({"KUZET_S3_ACCESS_KEY": access, "KUZET_S3_SECRET_KEY": secret})
    else:
        store_url = f"file://{work / 'objects'}"
    env["KUZET_BADGE_OBJECT_STORE_URL"] = store_url
    env["KUZET_BADGE_DEVICE_HTTP2"] = framings[0]
    port, device_port = free_port(), free_port()
    address, device_address = f"127.0.0.1:{port}", f"127.0.0.1:{device_port}"
    run_upload, run_streams_part = opts.only in (None, "upload"), opts.only in (None, "streams")
    service = None
    upload: dict[str, Any] | None = None
    streams: dict[str, Any] | None = None
    api: dict[str, Any] | None = None
    floor: dict[str, Any] | None = None
    device_floor: dict[str, dict[str, Any]] = {}
    by_framing: dict[str, dict[str, Any]] = {}
    try:
        # The upload part needs one registered badge (BB-00000), the streams part all of them.
        tokens = seed_badges(db_url, badges if run_streams_part else 1)
        ids = list(tokens)
        service = start_service(env, port, device_port, work)
        asyncio.run(wait_ready(address))
        if run_upload:
            print("measuring evidence upload vs plain put ...", flush=True)
            upload = asyncio.run(measure_upload(address, store_url, upload_size, repeats, service.pid))
        if run_streams_part:
            for framing in framings:
                if framing != env["KUZET_BADGE_DEVICE_HTTP2"]:
                    service.terminate()
                    service.wait(30)
                    env["KUZET_BADGE_DEVICE_HTTP2"] = framing
                    service = start_service(env, port, device_port, work)
                    asyncio.run(wait_ready(address))
                print(f"{badges} badges x 1 Hz on the device port ({framing} HTTP/2) ...", flush=True)
                by_framing[framing] = run_streams(
                    device_address, ids, opts.generators, warmup, measure, service.pid, tokens, tls=False
                )
            streams = by_framing[framings[0]]
            # The baseline: the same service, the same badges and load, Connect over grpc.aio (mTLS).
            print(f"{badges} badges x 1 Hz on the API port (grpc.aio) ...", flush=True)
            api = run_streams(address, ids, opts.generators, warmup, measure, service.pid)
        service.terminate()
        service.wait(30)
        service = None
        if run_streams_part and opts.floor:
            print("same load against a bare grpc.aio server (the floor) ...", flush=True)
            bare_port = free_port()
            bare = start_bare_server(bare_port, work)
            try:
                time.sleep(2)
                floor = run_streams(f"127.0.0.1:{bare_port}", ids, opts.generators, warmup, measure, bare.pid)
            finally:
                bare.terminate()
                bare.wait(30)
            for framing in framings:
                print(f"same load against a bare device port ({framing} HTTP/2) ...", flush=True)
                bare_port = free_port()
                bare = start_bare_server(bare_port, work, framing)
                try:
                    time.sleep(2)
                    device_floor[framing] = run_streams(
                        f"127.0.0.1:{bare_port}", ids, opts.generators, warmup, measure, bare.pid, tls=False
                    )
                finally:
                    bare.terminate()
                    bare.wait(30)
    finally:
        if service is not None:
            service.terminate()
            service.wait(30)
        if seaweed is not None:
            seaweed.terminate()
            try:
                seaweed.wait(10)
            except subprocess.TimeoutExpired:  # after a 64 MiB run it may still be flushing
                seaweed.kill()
        if pg_name:
            drop_pg_db(pg_name)
        # The stored objects (768 MiB in a full run) would pile up in /tmp run after run.
        for data in (work / "objects", work / "s3" / "data"):
            shutil.rmtree(data, ignore_errors=True)

    load = os.getloadavg()

    def rounded(part: dict[str, Any] | None, digits: int) -> dict[str, Any] | None:
        if part is None:
            return None
        return {k: round(v, digits) if isinstance(v, float) else v for k, v in part.items()}

    result = {
        "benchmark": "badge",
        "mode": "quick" if opts.quick else "full",
        "db": opts.db,
        "store": opts.store,
        "badges": streams["badges_at_1hz"] if streams else None,
        "p99_ms": round(streams["p99_ms"], 1) if streams else None,
        "upload_over_put": round(upload["upload_over_put"], 3) if upload else None,
        "streams": rounded(streams, 2),
        "device_http2": framings[0],
        "device_port_by_framing": {
            framing: {
                **(rounded(part, 2) or {}),
                "cpu_per_report_over_first": round(
                    part["service_cpu_us_per_report"] / streams["service_cpu_us_per_report"], 2
                )
                if streams
                else None,
            }
            for framing, part in by_framing.items()
        },
        "upload": rounded(upload, 3),
        "api_port_grpc_aio": rounded(api, 2),
        "bare_grpc_floor": rounded(floor, 2),
        "bare_device_floor_by_framing": {framing: rounded(part, 2) for framing, part in device_floor.items()},
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_1m_at_end": round(load[0], 2),
            "note": "CPU shared with other jobs while measuring; service and generators on the same cores",
        },
        "at": datetime.now(UTC).isoformat(),
    }
    rows = []
    if streams and api:
        rows += [
            ("badges requested", f"{streams['badges_requested']}"),
            ("badges connected", f"{streams['badges_connected']}  (device port, {framings[0]} HTTP/2)"),
            ("badges held at 1 Hz", f"{streams['badges_at_1hz']}"),
            ("reports stored+acked/s", f"{streams['reports_per_s']:.0f}"),
            ("ingest latency p50", f"{streams['p50_ms']:.1f} ms"),
            ("ingest latency p99", f"{streams['p99_ms']:.1f} ms  (goal < 100)"),
            ("service CPU per report", f"{streams['service_cpu_us_per_report']:.0f} us"),
            ("service CPU used", f"{streams['service_cpu_share'] * 100:.0f}% of a core"),
            ("load generator CPU used", f"{streams['generators_cpu_share'] * 100:.0f}% of a core"),
            ("projected badges/core", f"{streams['projected_badges_per_core']}  (1 Hz, at that CPU cost)"),
            *(
                row
                for framing, part in list(by_framing.items())[1:]
                for row in (
                    (f"device port ({framing}): held", f"{part['badges_at_1hz']} badges at 1 Hz"),
                    (f"device port ({framing}): p99", f"{part['p99_ms']:.1f} ms"),
                    (
                        f"device port ({framing}): CPU/report",
                        f"{part['service_cpu_us_per_report']:.0f} us  "
                        f"({part['service_cpu_us_per_report'] / streams['service_cpu_us_per_report']:.2f}x "
                        f"{framings[0]})",
                    ),
                )
            ),
            ("API port (grpc.aio): connected", f"{api['badges_connected']}  (mTLS, ALPN h2)"),
            ("API port (grpc.aio): held", f"{api['badges_at_1hz']} badges at 1 Hz  (baseline)"),
            ("API port (grpc.aio): stored", f"{api['reports_per_s']:.0f} reports/s"),
            ("API port (grpc.aio): p99", f"{api['p99_ms']:.1f} ms"),
            ("API port (grpc.aio): CPU", f"{api['service_cpu_share'] * 100:.0f}% of a core"),
        ]
        if api["badges_at_1hz"] >= 0.9 * api["badges_requested"]:
            ratio = api["service_cpu_us_per_report"] / streams["service_cpu_us_per_report"]
            rows.append(("CPU per report: grpc.aio / device", f"{ratio:.1f}x"))
    if floor:
        rows += [
            ("bare grpc.aio: p99", f"{floor['p99_ms']:.1f} ms at {floor['badges_at_1hz']} badges held"),
            ("bare grpc.aio: CPU/report", f"{floor['service_cpu_us_per_report']:.0f} us  (the floor)"),
        ]
    for framing, part in device_floor.items():
        rows.append(
            (
                f"bare device port ({framing}): CPU/report",
                f"{part['service_cpu_us_per_report']:.0f} us  (p99 {part['p99_ms']:.1f} ms, "
                f"{part['badges_at_1hz']} held)",
            )
        )
    if upload:
        rows += [
            ("upload (service)", f"{upload['upload_s'] * 1000:.0f} ms  {upload['upload_mb_s']:.0f} MB/s"),
            ("plain put (baseline)", f"{upload['put_s'] * 1000:.0f} ms  {upload['put_mb_s']:.0f} MB/s"),
            ("upload / put", f"{upload['upload_over_put']:.2f}  (median of pairs; goal <= 1.20)"),
            (
                "CPU: service upload / put",
                f"{upload['upload_service_cpu_s'] * 1000:.0f} ms / {upload['put_cpu_s'] * 1000:.0f} ms",
            ),
        ]
    rows.append(("load average (1 min)", f"{load[0]:.1f} on {os.cpu_count()} CPUs"))
    width = max(len(r[0]) for r in rows)
    print(f"\nbadge benchmark ({result['mode']}, {opts.db}, {opts.store} store)")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    # A partial run must not replace the figures of a whole one.
    name = "-".join(
        ["badge", *([opts.only] if opts.only else []), *([opts.db] if opts.db != "sqlite" else [])]
    )
    out = ROOT / "bench" / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}; logs in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
