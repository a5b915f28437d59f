"""Frame-to-console latency of intrusion alerts at 1, 8 and 32 cameras (bench/e2e.py).

The platform runs as separate processes (inference, alerting, ingest, gateway) exactly as
`kuzet up` runs it. Every camera replays, in real time and in a loop, a clip in which a person
walks into a restricted zone. A console client on the gateway's WebSocket takes, for every
intrusion alert it receives, the time from the frame's capture (the alert's last_seen_at, set by
ingest from the decoded frame's wall-clock time) to its arrival; the exported traces give the
time spent in each hop (``HOPS``). The baseline in the same run is the platform's floor: an
event published straight to alerting (no video, no inference) and measured at the same console.
Each row also gives the CPU time of the service processes per analysed frame (a figure a loaded
machine does not inflate the way it does wall time), the frames analysed and dropped, the
cameras that reported themselves degraded (analysed less often than their minimum rate), the
load average, and the recall: the share of the intrusions that happened that got an alert.

    python bench/e2e.py            # 1, 8 and 32 cameras, 60 s each
    python bench/e2e.py --quick    # 8 cameras, 25 s
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from kuzet.common.caller import service_caller
from kuzet.common.events import new_event
from kuzet.common.grpcclient import open_channel
from kuzet.common.v1 import common_pb2
from kuzet.e2e.console import ConsoleFeed
from kuzet.e2e.platform import Platform
from kuzet.e2e.site import CameraPlan, add_camera

RESULTS = Path(__file__).resolve().parent / "results" / "e2e.json"
SERVICES = ["inference", "alerting", "ingest", "gateway"]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))], 1)


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


HOPS = ("to_detector", "inference", "after_detection", "alerting", "gateway")


def _hops(platform: Platform, received: list[dict[str, Any]]) -> dict[str, float | None]:
    """Median milliseconds per hop of an alert's path: capture to the detector call (sampling,
    waiting for the detector), the inference service, the detector's answer to publishing
    (tracking, rules, snapshot, outbox), alerting, gateway."""
    shares: dict[str, list[float]] = {k: [] for k in HOPS}
    for m in received:
        spans = platform.otlp.spans(m["traceparent"].split("-")[1])
        for service in ("inference", "alerting", "gateway"):
            mine = [s for s in spans if s.service == service]
            if mine:
                # Server/consumer spans nest: the outermost span of a service is its share.
                shares[service].append((max(s.end_ns for s in mine) - min(s.start_ns for s in mine)) / 1e6)
        calls = [
            s for s in spans if s.service == "ingest" and s.name.endswith("InferenceService/DetectObjects")
        ]
        publish = [s for s in spans if s.service == "ingest" and "AlertingService/Publish" in s.name]
        if calls:
            captured_ns = _ts(m["alert"]["last_seen_at"]) * 1e9
            shares["to_detector"].append((calls[-1].start_ns - captured_ns) / 1e6)
            if publish:
                shares["after_detection"].append((publish[0].start_ns - calls[-1].end_ns) / 1e6)
    return {k: round(statistics.median(v), 1) if v else None for k, v in shares.items()}


def _cpu_s(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) each process has used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, pid in pids.items():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        used[name] = (int(fields[11]) + int(fields[12])) / tick
    return used


async def _frame_counts(platform: Platform) -> dict[str, int]:
    from kuzet.ingest.v1 import ingest_pb2, ingest_pb2_grpc

    async with open_channel(
        platform.address("ingest"), audience="ingest", caller=service_caller("bench", "prison")
    ) as ch:
        reply = await ingest_pb2_grpc.IngestServiceStub(ch).ListCameraHealth(
            ingest_pb2.ListCameraHealthRequest()
        )
    return {
        "sampled": sum(h.frames_sampled for h in reply.health),
        "analysed": sum(h.frames_inferred for h in reply.health),
        "motion_skipped": sum(h.frames_motion_skipped for h in reply.health),
        "dropped": sum(h.frames_dropped for h in reply.health),
        # Coverage at the end of the run (ingest's own judgement, see services/ingest degrade.py).
        "cameras_degraded": sum(1 for h in reply.health if ingest_pb2.FAULT_DEGRADED in h.faults),
        "analysed_every_s_max": round(max((h.analysed_every_s for h in reply.health), default=0.0), 2),
    }


async def _baseline(platform: Platform, feed: ConsoleFeed, count: int) -> list[float]:
    """Publish -> console without video: the floor the pipeline stands on."""
    latencies = []
    async with open_channel(
        platform.address("alerting"), audience="alerting", caller=service_caller("bench", "prison")
    ) as channel:
        from kuzet.alerting.v1 import alerting_pb2, alerting_pb2_grpc

        stub = alerting_pb2_grpc.AlertingServiceStub(channel)
        for i in range(count):
            event = new_event(
                "prison",
                "zone_intrusion",
                common_pb2.Source(kind=common_pb2.SOURCE_KIND_CAMERA, id=f"baseline-{i}", site_id="bench"),
            )
            sent = time.time()
            await stub.Publish(alerting_pb2.PublishRequest(event=event))
            msg = await feed.wait_for(lambda m, i=i: m["alert"]["source"]["id"] == f"baseline-{i}", within=10)
            latencies.append((msg["received_at"] - sent) * 1000)
    return latencies


def _intrusions_expected(seconds: float) -> int:
    """The intrusions a camera whose clip played for ``seconds`` showed in full: its person walks
    into the zone once per loop, and must have walked out of it a second before the end (an
    intrusion still under way when the run stops is not counted as missed, nor as expected)."""
    from kuzet.ingest.testing.videotest import walking_scenario

    spec = walking_scenario(640, 360)
    right = max(x for x, _ in spec.geometry["restricted_zone"])  # type: ignore[attr-defined]
    a, b = next((a, b) for a, b in itertools.pairwise(spec.path) if a.x < right <= b.x)
    leaves = a.t + (right - a.x) / (b.x - a.x) * (b.t - a.t)
    return sum(
        1 for k in range(int(seconds // spec.duration) + 1) if leaves + k * spec.duration + 1 <= seconds
    )


def _intrusions_alerted(received: list[dict[str, Any]]) -> tuple[dict[str, int], int]:
    """Per camera, the intrusions that got an alert, and the alerts beyond one per intrusion.
    The person walks in once per 16 s loop: alerts of one camera whose frames are less than half
    a loop apart are about the same intrusion."""
    from kuzet.ingest.testing.videotest import walking_scenario

    half_loop = walking_scenario(640, 360).duration / 2
    first_seen: dict[str, dict[str, float]] = {}
    for m in received:
        alert = m["alert"]
        seen = first_seen.setdefault(alert["source"]["id"], {})
        seen.setdefault(alert["alert_id"], _ts(alert["last_seen_at"]))
    intrusions, duplicates = {}, 0
    for camera, alerts in first_seen.items():
        times = sorted(alerts.values())
        count = 1 + sum(1 for a, b in itertools.pairwise(times) if b - a >= half_loop)
        intrusions[camera] = count
        duplicates += len(times) - count
    return intrusions, duplicates


async def _run_cameras(platform: Platform, clip: Path, cameras: int, seconds: float) -> dict[str, Any]:
    from kuzet.ingest.testing.videotest import walking_scenario

    zone = list(walking_scenario(640, 360).geometry["restricted_zone"])  # type: ignore[call-overload]
    token = platform.token("prison-operator")
    async with ConsoleFeed(platform.address("gateway"), token, type="zone_intrusion") as feed:
        baseline = await _baseline(platform, feed, 20)
        pids = {name: proc.pid for name, proc in platform.launcher.procs.items()}
        load_before = os.getloadavg()[0]
        cpu_before = _cpu_s(pids)
        start = time.time()
        expected: dict[str, int] = {}
        for i in range(cameras):
            plan = CameraPlan(
                f"bench-{cameras}-{i}",
                f"bench {i}",
                clip.as_uri(),
                640,
                360,
                zone=zone,
                faces=False,
                clip_recording=False,  # the figures are analysis per camera, as measured before clips
            )
            await add_camera(platform.address("ingest"), "prison", "bench", plan)
            # Its clip starts when the camera is added: count its intrusions from there.
            expected[plan.camera_id] = _intrusions_expected(start + seconds - time.time())
        await asyncio.sleep(max(0.0, start + seconds - time.time()))
        cpu = {k: round(v - cpu_before[k], 1) for k, v in _cpu_s(pids).items()}
        frames = await _frame_counts(platform)
        received = [
            m
            for m in feed.alerts(lambda m: m["alert"]["source"]["id"].startswith(f"bench-{cameras}-"))
            if m["received_at"] >= start
        ]
    latencies = [(m["received_at"] - _ts(m["alert"]["last_seen_at"])) * 1000 for m in received]
    intrusions, duplicates = _intrusions_alerted(received)
    alerted = sum(min(intrusions.get(camera, 0), n) for camera, n in expected.items())
    return {
        "cameras": cameras,
        "alerts": len(latencies),
        # Intrusions that happened: fewer alerts means the detector missed people.
        "alerts_expected": sum(expected.values()),
        # Intrusions that got an alert (at most the ones that happened), and further alerts for
        # an intrusion that already had one (a person's track broken in the zone).
        "recall": round(alerted / max(1, sum(expected.values())), 3),
        "duplicate_alerts": duplicates,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "baseline_p50_ms": percentile(baseline, 50),
        "baseline_p99_ms": percentile(baseline, 99),
        "hops_median_ms": _hops(platform, received[-50:]),
        "frames": frames,
        "cpu_s": cpu,
        # Every service process's CPU time over the run, per frame the detector analysed.
        "cpu_ms_per_analysed_frame": round(1000 * sum(cpu.values()) / frames["analysed"], 1)
        if frames["analysed"]
        else None,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        # Why frames went unanalysed or alerts were missed, when something failed.
        "ingest_warnings": sorted(
            {
                line["msg"]
                for line in platform.log_lines("ingest")
                if line.get("level") in ("WARNING", "ERROR")
            }
        )[:5],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="8 cameras for 25 s (under a minute of measuring)"
    )
    parser.add_argument("--cameras", default="", help="comma-separated camera counts (default 1,8,32)")
    opts = parser.parse_args()
    counts = [int(c) for c in opts.cameras.split(",") if c] or ([8] if opts.quick else [1, 8, 32])
    seconds = 25.0 if opts.quick else 60.0
    from kuzet.ingest.testing.videotest import walking_scenario, write_h264

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_h264(walking_scenario(640, 360), Path(tmp) / "walk.mp4")
        for cameras in counts:
            platform = Platform(
                Path(tmp) / f"platform-{cameras}",
                env={"KUZET_INGEST_LOOP_FILES": "true"},
            )
            try:
                platform.start(SERVICES)
                rows.append(asyncio.run(_run_cameras(platform, clip, cameras, seconds)))
            finally:
                platform.stop()
    print(
        f"{'cameras':>7} {'alerts':>7} {'recall':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'floor p50':>9} "
        f"{'CPU ms/frame':>12} {'load':>11}  hops (median ms); frames"
    )
    for r in rows:
        load = "/".join(str(v) for v in r["load_average"])
        alerts = f"{r['alerts']}/{r['alerts_expected']}"
        print(
            f"{r['cameras']:>7} {alerts:>7} {r['recall']!s:>6} {r['p50_ms']!s:>8} {r['p95_ms']!s:>8} {r['p99_ms']!s:>8} "
            f"{r['baseline_p50_ms']!s:>9} {r['cpu_ms_per_analysed_frame']!s:>12} {load:>11}  "
            f"{r['hops_median_ms']}; {r['frames']}"
        )
    eight = next((r for r in rows if r["cameras"] == 8), None)
    many = next((r for r in rows if r["cameras"] == 32), None)
    summary = {
        "p99_ms_8_cameras": eight["p99_ms"] if eight else None,
        "recall_32_cameras": many["recall"] if many else None,
        "p99_ms_32_cameras": many["p99_ms"] if many else None,
        "quick": opts.quick,
        "seconds_per_run": seconds,
        "runs": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
