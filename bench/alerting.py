"""Alerting benchmark on PostgreSQL: publish throughput with dedup, publish->subscriber latency at
500 events/s, loss across kill -9, next to a baseline of plain inserts into the same table.

    python bench/alerting.py            # full run
    python bench/alerting.py --quick    # < 1 minute

The service runs as its own process (`python -m kuzet.alerting`) against a fresh PostgreSQL
database; the load generators are separate processes talking gRPC, as producers would.
Writes bench/results/alerting.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

from kuzet.common.tls import secure_channel, use_local_pki
from kuzet.common.waiting import within

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("KUZET_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def create_db() -> tuple[str, str]:
    import psycopg

    name = f"kuzet_bench_alerting_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    return name, f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)


def drop_db(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_service(db_url: str, port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KUZET_ALERTING_DATABASE_URL": db_url,
        "KUZET_ALERTING_PORT": str(port),
        "KUZET_DATA_DIR": str(data_dir),
        # One JSON access-log line per RPC would dominate at thousands of RPCs/s.
        "KUZET_ALERTING_LOG_LEVEL": "WARNING",
        "KUZET_ALERTING_HEARTBEAT_S": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "kuzet.alerting"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(data_dir / "alerting.log", "ab"),
    )


async def wait_ready(address: str, timeout_s: float = 60.0) -> None:

    async with secure_channel(address) as channel:
        await within(timeout_s, channel.channel_ready())


def make_event(agency: str, source: int, subject: str, **extra: Any) -> Any:
    from kuzet.common.events import new_event
    from kuzet.common.v1 import common_pb2

    src = common_pb2.Source(
        kind=common_pb2.SOURCE_KIND_CAMERA,
        id=f"cam-{source}",
        site_id=f"site-{source % 10}",
        name=f"cam-{source}",
    )
    return new_event(agency, "zone_intrusion", src, rule_id="r1", subject=subject, **extra)


def _md() -> list[tuple[str, str]]:
    from kuzet.common.caller import Caller, caller_metadata

    return caller_metadata(Caller("service:bench", "bench", frozenset({"service"})), audience="alerting")


# ----------------------------------------------------------------------------- baseline


def baseline(db_url: str, seconds: float) -> dict[str, float]:
    """Plain INSERTs of update rows into alert_updates: one commit per row, and 500 per commit."""
    from sqlalchemy import create_engine, insert

    from kuzet.alerting.models import AlertUpdateRow

    engine = create_engine(db_url)
    row = {
        "alert_id": str(uuid.uuid4()),
        "agency_id": "baseline",
        "kind": 1,
        "actor": "bench",
        "traceparent": "",
        "recorded_at": datetime.now(UTC),
        "alert": b"x" * 300,
    }
    out = {}
    n, start = 0, time.perf_counter()
    with engine.connect() as conn:
        while time.perf_counter() - start < seconds:
            conn.execute(insert(AlertUpdateRow), [row])
            conn.commit()
            n += 1
    out["insert_per_commit_ev_s"] = n / (time.perf_counter() - start)
    n, start = 0, time.perf_counter()
    with engine.connect() as conn:
        while time.perf_counter() - start < seconds:
            conn.execute(insert(AlertUpdateRow), [row] * 500)
            conn.commit()
            n += 500
    out["insert_batched_ev_s"] = n / (time.perf_counter() - start)
    with engine.begin() as conn:
        conn.execute(AlertUpdateRow.__table__.delete())
    engine.dispose()
    return out


# ----------------------------------------------------------------------------- throughput


def _throughput_worker(address: str, seconds: float, concurrency: int, batch: int, seed: int, q: Any) -> None:
    asyncio.run(_throughput(address, seconds, concurrency, batch, seed, q))


async def _throughput(address: str, seconds: float, concurrency: int, batch: int, seed: int, q: Any) -> None:
    import grpc

    from kuzet.alerting.v1 import alerting_pb2 as pb
    from kuzet.alerting.v1 import alerting_pb2_grpc

    channel = secure_channel(address)
    stub = alerting_pb2_grpc.AlertingServiceStub(channel)
    # 200 cameras x 5 tracks per process: after the first events everything folds (dedup on).
    events = [make_event("bench", seed * 1000 + i % 200, f"t{i % 5}") for i in range(2000)]
    for e in events:
        e.event_id = ""
    done = 0
    counter = 0
    errors = 0
    await channel.channel_ready()
    start = time.perf_counter()
    deadline = start + seconds

    async def loop() -> None:
        nonlocal done, counter, errors
        while time.perf_counter() < deadline:
            try:
                if batch == 1:
                    e = events[counter % len(events)]
                    counter += 1
                    e.event_id = uuid.uuid4().hex
                    await stub.Publish(pb.PublishRequest(event=e), metadata=_md(), timeout=30)
                    done += 1
                else:
                    chunk = []
                    for _ in range(batch):
                        e = pb.PublishRequest().event.__class__()
                        e.CopyFrom(events[counter % len(events)])
                        counter += 1
                        e.event_id = uuid.uuid4().hex
                        chunk.append(e)
                    await stub.PublishBatch(pb.PublishBatchRequest(events=chunk), metadata=_md(), timeout=30)
                    done += batch
            except grpc.aio.AioRpcError:
                errors += 1

    async def sink_loop() -> None:
        """The producers' path: kuzet.common.eventsink (outbox; bursts go as PublishBatch)."""
        nonlocal done, counter
        from kuzet.common.caller import Caller
        from kuzet.common.eventsink import EventSink

        sink = EventSink(channel=channel, caller=Caller("service:bench", "bench", frozenset({"service"})))
        sink._own_channel = False
        await sink.start()
        while time.perf_counter() < deadline:
            if sink.pending >= 2000:
                await asyncio.sleep(0.002)
                continue
            e = events[counter % len(events)]
            counter += 1
            e.event_id = uuid.uuid4().hex
            sink.publish(e)
            if counter % 200 == 0:
                await asyncio.sleep(0)
        await sink.flush(60)
        done = sink.stats.sent
        await sink.close()

    if batch == 0:
        await sink_loop()
    else:
        await asyncio.gather(*(loop() for _ in range(concurrency)))
    q.put({"done": done, "errors": errors, "elapsed": time.perf_counter() - start})
    await channel.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to report cost independent of contention."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(
    address: str, seconds: float, procs: int, concurrency: int, batch: int, server_pid: int = 0
) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    workers = [
        ctx.Process(target=_throughput_worker, args=(address, seconds, concurrency, batch, i, q))
        for i in range(procs)
    ]
    for w in workers:
        w.start()
    # The workers need a few seconds to import and connect; CPU is sampled from then on.
    cpu0 = cpu_seconds(server_pid) if server_pid else 0.0
    results = [q.get(timeout=seconds + 120) for _ in workers]
    cpu1 = cpu_seconds(server_pid) if server_pid else 0.0
    for w in workers:
        w.join()
    done = sum(r["done"] for r in results)
    elapsed = max(r["elapsed"] for r in results)
    out = {"events": done, "events_per_s": done / elapsed, "errors": sum(r["errors"] for r in results)}
    if server_pid and done:
        # Includes the workers' start-up idle time (negligible CPU) and any import-time noise.
        out["server_cpu_ms_per_event"] = (cpu1 - cpu0) * 1000 / done
    return out


# ----------------------------------------------------------------------------- latency


def _subscriber_worker(address: str, agency: str, streams: int, seconds: float, q: Any, ready: Any) -> None:
    asyncio.run(_subscribe(address, agency, streams, seconds, q, ready))


async def _subscribe(address: str, agency: str, streams: int, seconds: float, q: Any, ready: Any) -> None:
    """``streams`` Subscribe calls; latency = receive wall time - the publisher's wall-clock stamp."""

    from kuzet.alerting.v1 import alerting_pb2 as pb
    from kuzet.alerting.v1 import alerting_pb2_grpc

    lat: list[float] = []
    # The server stamps recorded_at in the transaction: splits the path at the commit.
    to_commit: list[float] = []
    caught_up = 0
    idle_deadline = [time.time() + seconds + 60]

    async def one() -> None:
        nonlocal caught_up
        channel = secure_channel(address)
        call = alerting_pb2_grpc.AlertingServiceStub(channel).Subscribe(
            pb.SubscribeRequest(filter=pb.AlertFilter(agency_id=agency), max_batch=100), metadata=_md()
        )
        first = True
        try:
            async for item in call:
                if item.HasField("heartbeat"):
                    if first:
                        first = False
                        caught_up += 1
                        if caught_up == streams:
                            ready.set()
                    if time.time() > idle_deadline[0]:
                        return
                    continue
                now = time.time()
                done = False
                for update in item.batch.updates:
                    fields = update.alert.latest.attributes.fields
                    if "sent_at" in fields:
                        lat.append(now - fields["sent_at"].number_value)
                        recorded = update.recorded_at.seconds + update.recorded_at.nanos / 1e9
                        to_commit.append(recorded - fields["sent_at"].number_value)
                        done = done or ("last" in fields and fields["last"].bool_value)
                if done:
                    return
        finally:
            call.cancel()
            await channel.close()

    await asyncio.gather(*(one() for _ in range(streams)))
    q.put((lat, to_commit))


def _paced_publisher(address: str, agency: str, rate: int, seconds: float, q: Any) -> None:
    asyncio.run(_paced(address, agency, rate, seconds, q))


async def _paced(address: str, agency: str, rate: int, seconds: float, q: Any) -> None:

    from kuzet.alerting.v1 import alerting_pb2 as pb
    from kuzet.alerting.v1 import alerting_pb2_grpc

    channel = secure_channel(address)
    await channel.channel_ready()
    stub = alerting_pb2_grpc.AlertingServiceStub(channel)
    total = int(rate * seconds)
    # Distinct subjects: each event opens its own alert, so every publish is one delivered update.
    events = [make_event(agency, i % 300, f"s{i}") for i in range(total)]
    from kuzet.common.caller import Caller
    from kuzet.common.eventsink import EventSink

    del stub, pb
    # Published the way producers do: through kuzet.common.eventsink.
    sink = EventSink(channel=channel, caller=Caller("service:bench", "bench", frozenset({"service"})))
    await sink.start()
    start = time.perf_counter()
    for i, e in enumerate(events):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        e.attributes["sent_at"] = time.time()
        if i == total - 1:
            e.attributes["last"] = True
        sink.publish(e)
    achieved = total / (time.perf_counter() - start)
    await sink.flush(60)
    await sink.close()
    q.put({"achieved": achieved, "sent": total})


def latency(
    address: str, rate: int, seconds: float, sub_procs: int, streams: int, server_pid: int = 0
) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    q_sub, q_pub, ready = ctx.Queue(), ctx.Queue(), ctx.Event()
    agency = f"lat-{uuid.uuid4().hex[:6]}"
    subs = [
        ctx.Process(target=_subscriber_worker, args=(address, agency, streams, seconds, q_sub, ready))
        for _ in range(sub_procs)
    ]
    for p in subs:
        p.start()
    ready.wait(60)
    time.sleep(0.5)  # every process's streams are live (each process sets ready when its own are)
    pub = ctx.Process(target=_paced_publisher, args=(address, agency, rate, seconds, q_pub))
    cpu0 = cpu_seconds(server_pid) if server_pid else 0.0
    pub.start()
    published = q_pub.get(timeout=seconds + 120)
    lat: list[float] = []
    commit_part: list[float] = []
    for _ in subs:
        got, part = q_sub.get(timeout=120)
        lat.extend(got)
        commit_part.extend(part)
    cpu1 = cpu_seconds(server_pid) if server_pid else 0.0
    for p in [pub, *subs]:
        p.join(10)
    lat_ms = sorted(x * 1000 for x in lat)
    commit_ms = sorted(x * 1000 for x in commit_part)
    return {
        "rate_target": rate,
        "rate_achieved": published["achieved"],
        "subscribers": sub_procs * streams,
        "deliveries": len(lat_ms),
        "expected_deliveries": published["sent"] * sub_procs * streams,
        "p50_ms": statistics.median(lat_ms) if lat_ms else float("nan"),
        "p99_ms": lat_ms[max(0, int(len(lat_ms) * 0.99) - 1)] if lat_ms else float("nan"),
        "max_ms": lat_ms[-1] if lat_ms else float("nan"),
        # publish() -> the writer's transaction started (outbox, RPC, queue behind earlier commits).
        "p50_to_commit_ms": statistics.median(commit_ms) if commit_ms else float("nan"),
        "p99_to_commit_ms": commit_ms[max(0, int(len(commit_ms) * 0.99) - 1)] if commit_ms else float("nan"),
        # Publish + commit + fan-out to every subscriber, per published event.
        "server_cpu_ms_per_event": (cpu1 - cpu0) * 1000 / max(1, published["sent"]),
    }


# ----------------------------------------------------------------------------- kill -9


async def kill_restart(
    proc: subprocess.Popen[bytes], address: str, db_url: str, port: int, data_dir: Path, acks_before_kill: int
) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    import grpc
    from sqlalchemy import create_engine, text

    from kuzet.alerting.v1 import alerting_pb2 as pb
    from kuzet.alerting.v1 import alerting_pb2_grpc

    channel = secure_channel(address)
    stub = alerting_pb2_grpc.AlertingServiceStub(channel)
    acked: set[str] = set()
    stop = asyncio.Event()
    agency = f"kill-{uuid.uuid4().hex[:6]}"

    async def publisher(n: int) -> None:
        i = 0
        while not stop.is_set():
            e = make_event(agency, n, f"t{i % 3}")
            i += 1
            try:
                await stub.Publish(pb.PublishRequest(event=e), metadata=_md(), timeout=10)
            except grpc.aio.AioRpcError:
                return
            acked.add(e.event_id)

    tasks = [asyncio.create_task(publisher(n)) for n in range(16)]
    while len(acked) < acks_before_kill and not all(t.done() for t in tasks):  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    stop.set()
    await asyncio.gather(*tasks)
    await channel.close()
    proc = start_service(db_url, port, data_dir)
    await wait_ready(address)
    engine = create_engine(db_url)
    with engine.connect() as conn:
        stored = {
            r[0]
            for r in conn.execute(
                text("SELECT event_id FROM published_events WHERE agency_id = :a"), {"a": agency}
            )
        }
        counted = conn.execute(
            text("SELECT COALESCE(SUM(count), 0) FROM alerts WHERE agency_id = :a"), {"a": agency}
        ).scalar()
    engine.dispose()
    return proc, {
        "acknowledged": len(acked),
        "lost_after_restart": len(acked - stored),
        "stored": len(stored),
        "double_counted": int(counted or 0) - len(stored),
    }


# ----------------------------------------------------------------------------- main


async def run(quick: bool) -> dict[str, Any]:
    import tempfile

    from kuzet.alerting.models import Base
    from kuzet.common.db import Database, migrate

    db_name, db_url = create_db()
    work = Path(tempfile.mkdtemp(prefix="kuzet-bench-alerting-"))
    port = free_port()
    address = f"127.0.0.1:{port}"
    dur = 2.0 if quick else 15.0
    result: dict[str, Any] = {"quick": quick, "cpu_count": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]}
    proc: subprocess.Popen[bytes] | None = None
    try:
        database = Database(db_url)
        migrate(database, "kuzet.alerting.migrations")
        database.dispose()
        del Base
        result["baseline"] = baseline(db_url, 1.5 if quick else 5.0)
        proc = start_service(db_url, port, work)
        await wait_ready(address)
        # Latency first, at the steady 500 events/s it is specified for: measured after the
        # throughput floods it met PostgreSQL checkpointing the ~1 GB of WAL they wrote (p99 113
        # vs 30 ms on a fresh database), which is the flood's after-effect, not the 500/s load.
        # A p99 needs thousands of deliveries: 4,000 events x 4 streams even in the quick run.
        result["fanout"] = latency(
            address, 500, 8.0 if quick else dur, sub_procs=2, streams=2 if quick else 4, server_pid=proc.pid
        )
        result["publish_unary"] = throughput(
            address, dur, procs=2, concurrency=200, batch=1, server_pid=proc.pid
        )
        result["publish_eventsink"] = throughput(
            address, dur, procs=2, concurrency=0, batch=0, server_pid=proc.pid
        )
        if not quick:  # the raw PublishBatch phase only in the full run: --quick must stay under a minute
            result["publish_batch100"] = throughput(
                address, dur, procs=2, concurrency=4, batch=100, server_pid=proc.pid
            )
        proc, result["restart"] = await kill_restart(
            proc, address, db_url, port, work, 300 if quick else 2000
        )
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        drop_db(db_name)
    # Headline: the path every producer uses (kuzet.common.eventsink), dedup on.
    result["events_per_s"] = round(result["publish_eventsink"]["events_per_s"], 1)
    result["events_per_s_unary"] = round(result["publish_unary"]["events_per_s"], 1)
    if "publish_batch100" in result:
        result["events_per_s_batch"] = round(result["publish_batch100"]["events_per_s"], 1)
    result["p99_fanout_ms"] = round(result["fanout"]["p99_ms"], 2)
    result["p50_fanout_ms"] = round(result["fanout"]["p50_ms"], 2)
    result["lost_after_restart"] = result["restart"]["lost_after_restart"]
    return result


def print_table(r: dict[str, Any]) -> None:
    b = r["baseline"]
    rows = [
        ("baseline: INSERT + COMMIT per event (same table)", f"{b['insert_per_commit_ev_s']:.0f} ev/s"),
        ("baseline: INSERT 500 rows per COMMIT", f"{b['insert_batched_ev_s']:.0f} ev/s"),
        (
            "alerting Publish (unary, 2x200 concurrent, dedup on)",
            f"{r['publish_unary']['events_per_s']:.0f} ev/s",
        ),
        (
            "alerting PublishBatch (100/batch, dedup on)",
            f"{r['publish_batch100']['events_per_s']:.0f} ev/s"
            if "publish_batch100" in r
            else "(full run only)",
        ),
        (
            "alerting via eventsink (2 producers, dedup on)",
            f"{r['publish_eventsink']['events_per_s']:.0f} ev/s",
        ),
        (
            "  server CPU per event: Publish / PublishBatch / eventsink",
            f"{r['publish_unary'].get('server_cpu_ms_per_event', 0):.2f} / "
            f"{r.get('publish_batch100', {}).get('server_cpu_ms_per_event', 0):.2f} / "
            f"{r['publish_eventsink'].get('server_cpu_ms_per_event', 0):.2f} ms",
        ),
        (
            "  Publish vs INSERT+COMMIT per event",
            f"{r['publish_unary']['events_per_s'] / b['insert_per_commit_ev_s']:.2f}x",
        ),
        (
            f"publish->subscriber at {r['fanout']['rate_achieved']:.0f}/s, "
            f"{r['fanout']['subscribers']} batched subs p50/p99",
            f"{r['fanout']['p50_ms']:.1f} / {r['fanout']['p99_ms']:.1f} ms",
        ),
        (
            "  of which publish -> transaction start p50/p99",
            f"{r['fanout'].get('p50_to_commit_ms', 0):.1f} / {r['fanout'].get('p99_to_commit_ms', 0):.1f} ms",
        ),
        (
            "  server CPU per published event (publish + fan-out)",
            f"{r['fanout'].get('server_cpu_ms_per_event', 0):.2f} ms",
        ),
        (
            "  deliveries received / expected",
            f"{r['fanout']['deliveries']} / {r['fanout']['expected_deliveries']}",
        ),
        (
            "kill -9 during burst: acknowledged / lost / double-counted",
            f"{r['restart']['acknowledged']} / {r['restart']['lost_after_restart']} / {r['restart']['double_counted']}",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    print(
        f"alerting benchmark ({'quick' if r['quick'] else 'full'}; {r['cpu_count']} CPUs shared, "
        f"load {r['load_avg_1m']:.1f} at start)"
    )
    for k, v in rows:
        print(f"  {k.ljust(width)}  {v}")
    print(
        f"headline: events_per_s={r['events_per_s']} p99_fanout_ms={r['p99_fanout_ms']} "
        f"lost_after_restart={r['lost_after_restart']}"
    )


def main() -> int:
    from kuzet.common.auditkeys import use_run_audit_key

    use_run_audit_key()  # the services it starts refuse to start without an audit key
    use_local_pki(Path(mkdtemp(prefix="kuzet-bench-pki-")), "bench")  # mTLS, as deployed
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="reduced run, under a minute")
    opts = parser.parse_args()
    from kuzet.common.callerkeys import use_ephemeral_keys

    # The services it starts verify caller tokens: keys for this run (kept until main returns).
    _keys = use_ephemeral_keys("bench")
    result = asyncio.run(run(opts.quick))
    print_table(result)
    out = ROOT / "bench" / "results" / "alerting.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
