"""Federation over NATS JetStream: a facility's alerts at the hub, link up and after an outage.

Two releases on this machine, each service its own process as `kuzet up` runs them: a facility
(its nats-server, alerting over SQLite, federation as `facility`) and a hub (its nats-server, a
leaf-node listener the facility reaches through a WAN link this process relays and can cut,
alerting over SQLite, federation as `hub`). Measured, each beside its baseline in the same run:

  - hub_p99_ms: an alert published at the facility's alerting -> the hub's alerting streams it
    (link up, one alert at a time); baseline: the same publish straight into an alerting.
  - catchup_events_per_s: the link is cut, N events are raised at the facility (each its own
    alert: the facility keeps working and queues them in its own stream), the link returns; N
    divided by the time from the link's return until the hub's alerting has streamed the last.
    Baseline: the same N events sent straight into an alerting of its own (as fresh as the hub's)
    with PublishBatch, 500 a call, one call at a time (as the relay sends them).
  - lost_after_outage, duplicates_after_outage: of those N, the ones the hub never created, and
    the ones it created more than once; in_order_after_outage: the hub created them in the order
    they were raised.

    python bench/federation.py            # N = 100,000, 300 latency samples
    python bench/federation.py --quick    # N = 10,000, 60 latency samples (under a minute)

Writes bench/results/federation.json. Run it under `nice` on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nats
import nats.js.errors

from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.alerting.v1 import alerting_pb2_grpc
from kuzet.common.auditkeys import use_run_audit_key
from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.callerkeys import use_ephemeral_keys
from kuzet.common.events import new_event
from kuzet.common.tls import secure_channel, use_local_pki
from kuzet.common.v1 import common_pb2
from kuzet.common.waiting import within
from kuzet.federation import streams
from kuzet.federation.natstesting import Topology, free_port, start_topology
from kuzet.federation.relay import durable

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "federation.json"
HUB, SITE = "hub", "site-a"
PRODUCER = Caller("service:ingest", "prison", frozenset({"service"}))
BATCH = 500
GOALS = {
    "catchup_events_per_s": ">= 2000",
    "lost_after_outage": 0,
    "duplicates_after_outage": 0,
    "hub_p99_ms": "<= 1000",
}


def md() -> list[tuple[str, str]]:
    return caller_metadata(PRODUCER, audience="alerting")


def event(site: str, subject: str) -> common_pb2.Event:
    source = common_pb2.Source(kind=common_pb2.SOURCE_KIND_CAMERA, id=f"{site}-cam-1", site_id=site)
    return new_event("prison", "zone_intrusion", source, rule_id="bench", subject=subject)


class Processes:
    """The services of both releases, each its own process (as `kuzet up` runs them)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.alerting_procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, module: str, release: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        data_dir = self.workdir / release
        data_dir.mkdir(parents=True, exist_ok=True)
        log = (data_dir / f"{module.rsplit('.', 1)[-1]}.log").open("ab")
        full = {**os.environ, "KUZET_DATA_DIR": str(data_dir), **env}
        proc = subprocess.Popen([sys.executable, "-m", module], env=full, stdout=log, stderr=log)
        self.procs.append(proc)
        return proc

    def alerting(self, release: str) -> str:
        port = free_port()
        self.alerting_procs[release] = self.start(
            "kuzet.alerting",
            release,
            {
                "KUZET_ALERTING_PORT": str(port),
                "KUZET_ALERTING_DATABASE_URL": f"sqlite:///{self.workdir / release / 'alerting.db'}",
                # One JSON access-log line per RPC would dominate at thousands of RPCs/s.
                "KUZET_ALERTING_LOG_LEVEL": "WARNING",
                "KUZET_ALERTING_HEARTBEAT_S": "1",
            },
        )
        return f"127.0.0.1:{port}"

    def federation(self, release: str, role: str, nats_url: str, alerting: str) -> None:
        self.start(
            "kuzet.federation",
            release,
            {
                "KUZET_FEDERATION_PORT": str(free_port()),
                "KUZET_FEDERATION_ROLE": role,
                "KUZET_FEDERATION_SITE_ID": release,
                "KUZET_FEDERATION_NATS_URL": nats_url,
                "KUZET_FEDERATION_FACILITIES": json.dumps([SITE]),
                "KUZET_FEDERATION_APPLY_WATCHLISTS": "false",
                "KUZET_FEDERATION_AUDIT_SERVICES": json.dumps(["alerting"]),
                "KUZET_FEDERATION_FORWARD_WATCHLISTS": "false",
                "KUZET_FEDERATION_LOG_LEVEL": "WARNING",
                "KUZET_ENDPOINT_ALERTING": alerting,
            },
        )

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


class HubWatch:
    """The hub's alerting update stream: when each alert (by subject) was created, and how often."""

    def __init__(self, stub: alerting_pb2_grpc.AlertingServiceStub) -> None:
        self.stub = stub
        self.created: dict[str, list[float]] = {}
        self.order: list[str] = []
        self.changed = asyncio.Event()

    async def run(self) -> None:
        request = pb.SubscribeRequest(max_batch=BATCH)
        async for response in self.stub.Subscribe(request, metadata=md()):
            kind = response.WhichOneof("payload")
            updates: Iterable[pb.AlertUpdate] = (
                [response.update] if kind == "update" else response.batch.updates if kind == "batch" else []
            )
            now = time.perf_counter()
            for update in updates:
                if update.kind == pb.ALERT_UPDATE_KIND_CREATED:
                    self.created.setdefault(update.alert.subject, []).append(now)
                    self.order.append(update.alert.subject)
            self.changed.set()

    async def until(self, subjects: list[str], timeout_s: float) -> float:
        """perf_counter when the last of ``subjects`` was created at the hub."""
        reached = 0
        async with asyncio.timeout(timeout_s):
            while True:
                while reached < len(subjects) and subjects[reached] in self.created:
                    reached += 1
                if reached == len(subjects):
                    break
                self.changed.clear()
                await self.changed.wait()
        return max(self.created[s][0] for s in subjects)


def p99_ms(samples: list[float]) -> float:
    # "inclusive": a few hundred samples must not put the 99th percentile above the largest.
    return round(statistics.quantiles(samples, n=100, method="inclusive")[98] * 1000, 1)


async def latency(
    stub: alerting_pb2_grpc.AlertingServiceStub, watch: HubWatch, site: str, tag: str, n: int
) -> dict[str, float]:
    """p50 and p99 ms from publishing at ``stub`` to the hub streaming it, one alert at a time."""
    samples = []
    for i in range(n):
        subject = f"{tag}-{i}"
        started = time.perf_counter()
        await stub.Publish(pb.PublishRequest(event=event(site, subject)), metadata=md())
        seen = await watch.until([subject], 30)
        samples.append(seen - started)
        await asyncio.sleep(0.02)
    return {"p50_ms": round(statistics.median(samples) * 1000, 1), "p99_ms": p99_ms(samples)}


async def publish_all(stub: alerting_pb2_grpc.AlertingServiceStub, site: str, subjects: list[str]) -> None:
    for start in range(0, len(subjects), BATCH):
        events = [event(site, s) for s in subjects[start : start + BATCH]]
        await stub.PublishBatch(pb.PublishBatchRequest(events=events), metadata=md())


async def wait_until(check: Any, what: str, timeout_s: float = 60.0, poll_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if await check():
                return
        except nats.js.errors.NotFoundError:  # the stream or consumer not created yet
            pass
        await asyncio.sleep(poll_s)
    raise RuntimeError(f"timed out waiting for {what}")


async def run(quick: bool, workdir: Path) -> dict[str, Any]:
    n_events, n_latency = (10_000, 60) if quick else (100_000, 300)
    topology: Topology = await start_topology(workdir, HUB, [SITE], linked=[SITE])
    processes = Processes(workdir)
    try:
        hub_alerting, site_alerting = processes.alerting(HUB), processes.alerting(SITE)
        # The baseline's own alerting, as fresh as the hub's: every phase adds its alerts to the
        # database it writes, and a later phase would pay for an earlier one's.
        direct_alerting = processes.alerting("direct")
        processes.federation(HUB, "hub", topology.hub.url, hub_alerting)
        processes.federation(SITE, "facility", topology.facilities[SITE].url, site_alerting)
        hub_nc = await nats.connect(topology.hub.url)
        site_nc = await nats.connect(topology.facilities[SITE].url)
        hub_js, site_js = hub_nc.jetstream(), site_nc.jetstream()
        channels = [secure_channel(a) for a in (hub_alerting, site_alerting, direct_alerting)]
        for channel in channels:
            await within(60, channel.channel_ready())
        await wait_until(lambda: site_js.stream_info(streams.ALERTS), "the facility's stream")
        await wait_until(lambda: hub_js.consumer_info(streams.ALERTS, durable(SITE)), "the hub's relay")
        hub, site, direct_hub = (alerting_pb2_grpc.AlertingServiceStub(c) for c in channels)
        watch, direct_watch = HubWatch(hub), HubWatch(direct_hub)
        watching = [asyncio.create_task(w.run()) for w in (watch, direct_watch)]
        await asyncio.sleep(0.5)

        baseline_latency = await latency(direct_hub, direct_watch, "direct", "direct-lat", n_latency)
        hub_latency = await latency(site, watch, SITE, "fed-lat", n_latency)

        direct = [f"direct-{i}" for i in range(n_events)]
        started = time.perf_counter()
        await publish_all(direct_hub, "direct", direct)
        baseline_rate = n_events / (await direct_watch.until(direct, 600) - started)
        # Done with: its work after a burst (escalation scans of the new open alerts...) must not
        # take CPU from the catch-up.
        watching.pop().cancel()
        processes.alerting_procs["direct"].terminate()

        topology.link.cut()
        outage = [f"outage-{i}" for i in range(n_events)]
        queued_at = time.perf_counter()
        await publish_all(site, SITE, outage)
        expected = n_latency + n_events

        async def queued() -> bool:
            return (await site_js.stream_info(streams.ALERTS)).state.messages >= expected

        await wait_until(queued, "the outage's events in the facility's stream", 600)
        queue_s = time.perf_counter() - queued_at
        at_hub_during = sum(1 for s in outage if s in watch.created)
        topology.link.restore()
        restored = time.perf_counter()

        async def sourced() -> bool:
            return (await hub_js.stream_info(streams.ALERTS)).state.messages >= expected

        await wait_until(sourced, "the backlog in the hub's stream", 600, poll_s=0.05)
        sourced_s = time.perf_counter() - restored
        try:
            last = await watch.until(outage, 600)
        except TimeoutError:
            last = time.perf_counter()
        await asyncio.sleep(2.0)  # anything sent twice would arrive now
        catchup_s = last - restored
        first = min(watch.created[s][0] for s in outage if s in watch.created)
        for task in watching:
            task.cancel()
        created = [s for s in watch.order if s.startswith("outage-")]
        hub_stream = (await hub_js.stream_info(streams.ALERTS)).state.messages
        await hub_nc.close()
        await site_nc.close()
        for channel in channels:
            await channel.close()
    finally:
        processes.stop()
        await topology.link.close()
        topology.stop()
    lost = sum(1 for s in outage if s not in watch.created)
    return {
        "quick": quick,
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "events_queued_in_outage": n_events,
        "catchup_events_per_s": round(n_events / catchup_s, 1),
        "catchup_s": round(catchup_s, 2),
        # Of which: until the hub's stream had the whole backlog (sourcing resumes a few seconds
        # after the leaf connection returns: JetStream retries a stalled source with a backoff),
        # and until the hub's alerting had the first of it.
        "sourced_s": round(sourced_s, 2),
        "first_at_hub_s": round(first - restored, 2),
        # The backlog's rate once flowing: first to last at the hub's alerting.
        "relay_events_per_s": round(n_events / (last - first), 1) if last > first else None,
        "lost_after_outage": lost,
        "duplicates_after_outage": len(created) - len(set(created)),
        "in_order_after_outage": created == outage,
        "reached_hub_during_outage": at_hub_during,
        "facility_queue_events_per_s": round(n_events / queue_s, 1),
        "hub_stream_messages": hub_stream,
        "hub_p99_ms": hub_latency["p99_ms"],
        "hub_p50_ms": hub_latency["p50_ms"],
        "latency_samples": n_latency,
        "baseline": {
            "direct_publish_batch_events_per_s": round(baseline_rate, 1),
            "direct_p99_ms": baseline_latency["p99_ms"],
            "direct_p50_ms": baseline_latency["p50_ms"],
        },
        "goals": GOALS,
    }


def print_table(result: dict[str, Any]) -> None:
    rows = [
        (
            "catch-up after outage (events/s)",
            result["catchup_events_per_s"],
            result["baseline"]["direct_publish_batch_events_per_s"],
        ),
        ("facility alert -> hub, p50 (ms)", result["hub_p50_ms"], result["baseline"]["direct_p50_ms"]),
        ("facility alert -> hub, p99 (ms)", result["hub_p99_ms"], result["baseline"]["direct_p99_ms"]),
        ("lost after outage", result["lost_after_outage"], "-"),
        ("duplicates after outage", result["duplicates_after_outage"], "-"),
        ("in order after outage", result["in_order_after_outage"], "-"),
    ]
    print(
        f"{'federation (' + str(result['events_queued_in_outage']) + ' events queued)':<40} {'federated':>12} {'direct':>12}"
    )
    for name, value, baseline in rows:
        print(f"{name:<40} {value!s:>12} {baseline!s:>12}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10,000 queued events, under a minute")
    opts = parser.parse_args()
    use_run_audit_key()  # the services it starts refuse to start without an audit key
    workdir = Path(tempfile.mkdtemp(prefix="kuzet-bench-federation-"))
    use_local_pki(workdir / "pki", "bench")  # mTLS, as deployed
    keys = use_ephemeral_keys("bench")  # the services verify caller tokens: keys for this run
    try:
        result = asyncio.run(run(opts.quick, workdir))
    finally:
        if keys is not None:
            keys.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
    print_table(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
