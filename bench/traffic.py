"""Traffic cameras: counts, speeds, plates and hotlist alerts on a rendered road, against the plain
detector + OCR on the same frames, in one run.

The road (kuzet.common.roads.scene.road_scenario): two lanes, vehicles cut out of real photos (cars
and buses; the shipped sprites have no truck, motorcycle or bicycle) with rendered Kazakhstan
plates of known text, at speeds drawn from 15-45 km/h, in their lanes at known times. A fifth of
the plates are on the police's hotlist.

Pipeline: ingest's vehicle code (VehicleAnalysis: tracker, lane counter, speed, plate reading,
the observation outbox) fed as a live camera would be: the clip runs on the wall clock, and each
look takes the picture of that moment (frames are skipped when the machine is slower than the
analytic rate, as ingest's newest-frame sampling does), detected and read through the real
inference service (ObjectDetector, InferencePlateReader: ingest's own clients), observations sent
to the real traffic service, its hotlist alerts through the real alerting to the gateway's
console feed (/ws/alerts), all as separate processes (kuzet.e2e.platform).

- count_accuracy: crossings observed on the right line within 0.5 s of the truth (one each) over
  max(crossings that happened, observations made): a missed and a false count both lower it.
- speed_mape: median |measured - true| / true over the matched observations with a speed.
- plate_exact: matched observations whose normalised plate is the vehicle's.
- hotlist_p99_ms: from the instant the hotlisted vehicle crossed the line (the scene's truth, on
  the wall clock) to the alert's arrival on the gateway's console feed.
- cpu_ms_per_vehicle: CPU time (this process less the rendering, inference, traffic, alerting,
  gateway) per vehicle; the baseline's (this process less the rendering, inference) for the plain
  detector on every frame the pipeline looked at and the OCR on every vehicle box in it, which
  counts, measures and alerts nothing: baseline_plate_any_frame says how many vehicles' plates it
  read exactly in at least one frame. --quick runs the baseline on every third of those frames
  and counts its CPU three times (baseline_frames_every), to stay within its minute.

    python bench/traffic.py            # 100 vehicles, 150 crossings (204 s of road)
    python bench/traffic.py --quick    # 6 vehicles, 9 crossings (18 s of road)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from kuzet.common.caller import service_caller
from kuzet.common.errors import InvalidArgument
from kuzet.common.grpcclient import open_channel
from kuzet.common.objectstore import LocalObjectStore
from kuzet.common.roads.lanes import VEHICLE_CLASSES
from kuzet.common.roads.plates import normalise
from kuzet.common.roads.scene import RoadScene, road_scenario
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.waiting import within
from kuzet.e2e.console import ConsoleFeed
from kuzet.e2e.platform import Platform
from kuzet.e2e.site import configure_traffic, traffic_profile
from kuzet.ingest.cameras import to_config
from kuzet.ingest.detect import ObjectDetector
from kuzet.ingest.observations import ObservationSender
from kuzet.ingest.platereader import InferencePlateReader
from kuzet.ingest.profiles import TrafficProfiles
from kuzet.ingest.source import Frame
from kuzet.ingest.tracking import TrackIds
from kuzet.ingest.v1 import ingest_pb2
from kuzet.ingest.vehicles import TrafficLinks, VehicleAnalysis, VehicleOptions
from kuzet.traffic.v1 import traffic_pb2

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ["inference", "alerting", "traffic", "gateway"]
AGENCY, CAMERA = "police", "bench-road"
ANALYTIC_FPS = 5.0
MATCH_S = 0.5


def _cpu_s(pids: dict[str, int]) -> dict[str, float]:
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, pid in pids.items():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        used[name] = (int(fields[11]) + int(fields[12])) / tick
    return used


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))], 1)


class Recording:
    """The observation outbox, keeping a copy of what it sends."""

    def __init__(self, sender: ObservationSender) -> None:
        self.sender = sender
        self.sent: list[traffic_pb2.VehicleObservation] = []

    def submit(self, observation: traffic_pb2.VehicleObservation) -> None:
        self.sent.append(observation)
        self.sender.submit(observation)


class Renderer:
    """The picture of a moment, and the CPU it took (the camera's, not the pipeline's)."""

    def __init__(self, scene: RoadScene) -> None:
        self.scene, self.cpu_s = scene, 0.0

    def at(self, t: float) -> Any:
        start = time.process_time()
        frame = self.scene.frame_at(t)
        self.cpu_s += time.process_time() - start
        return frame


async def _pipeline(
    platform: Platform, scene: RoadScene, renderer: Renderer, store: LocalObjectStore
) -> tuple[list[traffic_pb2.VehicleObservation], list[float], float, float]:
    """Runs the clip live; the observations, the scene times looked at, the clip's start on the
    wall clock, and this process's CPU seconds."""
    ingest = service_caller("ingest", roles=("service",))
    async with (
        open_channel(platform.address("inference"), audience="inference", caller=ingest) as inference,
        open_channel(platform.address("traffic"), audience="traffic", caller=ingest) as traffic,
    ):
        detector = ObjectDetector(inference)
        sender = ObservationSender(traffic)
        recording = Recording(sender)
        links = TrafficLinks(
            TrafficProfiles(traffic), recording, InferencePlateReader(inference), VehicleOptions()
        )
        camera = ingest_pb2.Camera(
            id=CAMERA, agency_id=AGENCY, site_id="bench", url="rtsp://bench/road", analytic_fps=ANALYTIC_FPS,
            enabled_models=["vehicle", "plate"],
        )  # fmt: skip
        analysis = VehicleAnalysis(to_config(camera, "", ""), ids=TrackIds(), links=links, store=store)
        sender.start()
        analysis.start()
        await within(15, analysis.follower.changed.wait())  # the profile fetched
        # one look before the clip starts: the models load on their first call
        await detector.detect(lambda: renderer.at(0.0), classes=sorted(VEHICLE_CLASSES))
        cpu_start = time.process_time() - renderer.cpu_s
        start = time.time() + 0.2
        looked: list[float] = []
        last = -1.0
        while (t := time.time() - start) < scene.duration:
            if t < last + 1 / ANALYTIC_FPS:
                await asyncio.sleep(last + 1 / ANALYTIC_FPS - t)
                continue
            image = renderer.at(t)
            detections = await detector.detect(lambda image=image: image, classes=sorted(VEHICLE_CLASSES))
            gap = t - last if last >= 0 else 1 / ANALYTIC_FPS
            await analysis.update(Frame(CAMERA, image, start + t, True, len(looked)), detections, gap)
            looked.append(t)
            last = t
        await analysis.stop()
        await sender.close(drain_s=15.0)
        cpu = time.process_time() - renderer.cpu_s - cpu_start
    return recording.sent, looked, start, cpu


async def _baseline(platform: Platform, renderer: Renderer, looked: list[float]) -> tuple[set[str], float]:
    """The plain detector and OCR on the frames given: the plates read exactly, CPU seconds."""
    caller = service_caller("ingest", roles=("service",))
    async with open_channel(platform.address("inference"), audience="inference", caller=caller) as channel:
        detector, reader = ObjectDetector(channel), InferencePlateReader(channel)
        cpu_start = time.process_time() - renderer.cpu_s
        plates: set[str] = set()
        for t in looked:
            image = renderer.at(t)
            found = await detector.detect(lambda image=image: image, classes=sorted(VEHICLE_CLASSES))
            crops = [
                image[max(0, int(y1)) : int(y2), max(0, int(x1)) : int(x2)]
                for x1, y1, x2, y2 in (d.box for d in found)
                if x2 - x1 >= 8 and y2 - y1 >= 8
            ]
            for texts in await reader.read(crops) if crops else []:
                for text in texts:
                    with contextlib.suppress(InvalidArgument):  # lettering, not a plate
                        plates.add(normalise(text.text, text.confidence).text)
        return plates, time.process_time() - renderer.cpu_s - cpu_start


def _observation(message: dict[str, Any]) -> str | None:
    """The observation a console feed's alert update came from."""
    oid = message["alert"].get("latest", {}).get("attributes", {}).get("observation_id")
    return str(oid) if oid else None


def _match(
    scene: RoadScene, observed: list[traffic_pb2.VehicleObservation], start: float
) -> list[tuple[traffic_pb2.VehicleObservation, int]]:
    """Each observation with the vehicle that crossed its line nearest its time, one each."""
    truth = scene.truth
    pairs = []
    for o in observed:
        at = o.observed_at.ToDatetime(tzinfo=UTC).timestamp() - start
        for t in truth:
            if o.line_id in t.crossings and abs(t.crossings[o.line_id] - at) <= MATCH_S:
                pairs.append((abs(t.crossings[o.line_id] - at), o.observation_id, t.index, o))
    used_obs: set[str] = set()
    used_truth: set[tuple[int, str]] = set()
    out = []
    for _, oid, index, o in sorted(pairs, key=lambda p: p[0]):
        if oid in used_obs or (index, o.line_id) in used_truth:
            continue
        used_obs.add(oid)
        used_truth.add((index, o.line_id))
        out.append((o, index))
    return out


async def _run(platform: Platform, vehicles: int, tmp: Path, baseline_every: int) -> dict[str, Any]:
    scene = road_scenario(
        vehicles=vehicles, speeds_kmh=(15.0, 45.0), spacing_s=3.0, buses=vehicles // 5, wrong_way=0, seed=18
    )
    truth = scene.truth
    hot = {t.plate for t in truth[::5]}
    expiry = to_timestamp(utcnow() + timedelta(days=1))
    await configure_traffic(
        platform.address("traffic"),
        AGENCY,
        traffic_profile(
            scene, CAMERA, site="bench", name="bench road", speed_limit_kmh=40, location=(43.25, 76.91)
        ),
        [
            traffic_pb2.HotlistEntry(
                plate=p, reason="bench", source="bench", legal_basis="bench", expires_at=expiry
            )
            for p in sorted(hot)
        ],
    )
    renderer = Renderer(scene)
    store = LocalObjectStore(tmp / "objects")
    pids = {name: proc.pid for name, proc in platform.launcher.procs.items()}
    async with ConsoleFeed(platform.address("gateway"), platform.token("police-operator")) as feed:
        before = _cpu_s(pids)
        observed, looked, start, own_cpu = await _pipeline(platform, scene, renderer, store)
        if last_hot := [o.observation_id for o in observed if o.plate in hot][-1:]:
            with contextlib.suppress(TimeoutError):  # the last alerts on their way
                await feed.wait_for(lambda m: _observation(m) == last_hot[0], within=3.0)
        services_cpu = {k: v - before[k] for k, v in _cpu_s(pids).items()}
        arrivals: dict[str, float] = {}
        for m in feed.alerts(lambda m: m["alert"].get("type") == "plate_hotlist"):
            if oid := _observation(m):
                arrivals.setdefault(oid, m["received_at"])
    before = _cpu_s(pids)
    baseline_plates, baseline_own = await _baseline(platform, renderer, looked[::baseline_every])
    baseline_inference = _cpu_s(pids)["inference"] - before["inference"]

    matches = _match(scene, observed, start)
    crossings = sum(len(t.crossings) for t in truth)
    speeds = [
        abs(o.speed_kmh - truth[i].speed_kmh) / truth[i].speed_kmh for o, i in matches if o.speed_kmh > 0
    ]
    latencies = [
        (arrivals[o.observation_id] - (start + truth[i].crossings[o.line_id])) * 1000
        for o, i in matches
        if truth[i].plate in hot and o.observation_id in arrivals
    ]
    hot_crossings = sum(len(t.crossings) for t in truth if t.plate in hot)
    pipeline_cpu = own_cpu + sum(services_cpu[s] for s in SERVICES)
    baseline_cpu = (baseline_own + baseline_inference) * baseline_every
    return {
        "vehicles": len(truth),
        "classes": dict(
            sorted({c: sum(t.vehicle_class == c for t in truth) for c in ("car", "bus")}.items())
        ),
        "clip_s": scene.duration,
        "crossings": crossings,
        "observations": len(observed),
        "matched": len(matches),
        "analysed_fps": round(len(looked) / scene.duration, 2),
        "count_accuracy": round(len(matches) / max(crossings, len(observed)), 3),
        "speed_mape": round(statistics.median(speeds), 4) if speeds else None,
        "speed_error_p95": round(sorted(speeds)[int(0.95 * (len(speeds) - 1))], 4) if speeds else None,
        "measured": len(speeds),
        "plate_exact": round(sum(o.plate == truth[i].plate for o, i in matches) / max(1, len(matches)), 3),
        "hotlist_crossings": hot_crossings,
        "hotlist_alerted": len(latencies),
        "hotlist_p50_ms": percentile(latencies, 50),
        "hotlist_p99_ms": percentile(latencies, 99),
        "cpu_ms_per_vehicle": round(1000 * pipeline_cpu / len(truth), 1),
        "cpu_s": {"bench_ingest": round(own_cpu, 1), **{k: round(v, 1) for k, v in services_cpu.items()}},
        "baseline_cpu_ms_per_vehicle": round(1000 * baseline_cpu / len(truth), 1),
        "baseline_plate_any_frame": round(len(baseline_plates & {t.plate for t in truth}) / len(truth), 3),
        "baseline_frames_every": baseline_every,
        "load_average": round(os.getloadavg()[0], 2),
    }


GOALS = {"count_accuracy": (">=", 0.95), "speed_mape": ("<=", 0.10), "plate_exact": (">=", 0.90),
         "hotlist_p99_ms": ("<=", 1000)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="6 vehicles (18 s of road)")
    opts = parser.parse_args()
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        platform = Platform(Path(tmp) / "platform")
        try:
            platform.start(SERVICES)
            result = asyncio.run(_run(platform, 6 if opts.quick else 100, Path(tmp), 3 if opts.quick else 1))
        finally:
            platform.stop()
    result["mode"] = "quick" if opts.quick else "full"
    result["wall_s"] = round(time.monotonic() - began, 1)  # platform start and stop included
    print(f"{'figure':<28}{'value':>12}  goal")
    for key, value in result.items():
        goal = " ".join(map(str, GOALS[key])) if key in GOALS else ""
        shown = json.dumps(value) if isinstance(value, dict) else str(value)
        print(f"{key:<28}{shown:>12}  {goal}")
    out = ROOT / "bench" / "results" / "traffic.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
