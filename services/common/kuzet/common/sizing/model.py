"""The arithmetic of a plan: a site's load from its cameras, the cores each component is busy for
that load, its replicas at the target utilisation, the GPUs, and the nodes they pack into.

For a site of C cameras analysed at f frames/s, of which the motion gate passes the share g:

    detector frames/s  D = C x f x g
    face searches/s    S = D x face share
    events/s           E = C x events per camera-hour / 3600
    busy cores         ingest C x decode; inference D x detect + S x face (on CPU) or the service's
                       own part of it (on GPU); identity S x search; alerting E x event
    replicas           max(chart default, ceil(busy / utilisation / replica cores))
    GPUs               ceil((D + S x face-in-detector-frames) / (GPU frames/s x utilisation))

docs/sizing.md gives each figure's source.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kuzet.common.sizing.chart import FIXED, ChartDefaults, ComponentDefaults
from kuzet.common.sizing.figures import Costs, Figure, PlanError, shown

SITE_ID = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


@dataclass(frozen=True)
class Options:
    fps: Figure
    keyframe: bool
    face_share: Figure
    events_per_camera_hour: Figure
    utilisation: Figure
    node_cpu: float
    node_memory_gib: float
    gpus_per_node: int
    # Detector frames/s of one GPU; None: inference runs on CPU.
    gpu: Figure | None = None
    detector_instances_per_gpu: Figure | None = None

    def figures(self) -> list[Figure]:
        extra = [f for f in (self.gpu, self.detector_instances_per_gpu) if f is not None]
        return [self.fps, self.face_share, self.events_per_camera_hour, self.utilisation, *extra]


@dataclass(frozen=True)
class Component:
    name: str
    busy_cores: float
    replicas: int
    # Per replica: what the pod requests (and, for the sized ones, its limit too).
    cpu: float
    memory_gib: float
    sized: bool
    gpus: int = 0
    autoscaling: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "busy_cores": round(self.busy_cores, 3),
            "replicas": self.replicas,
            "cpu_per_replica": self.cpu,
            "memory_gib_per_replica": self.memory_gib,
            "gpus_per_replica": self.gpus,
            "sized": self.sized,
        }


@dataclass(frozen=True)
class SitePlan:
    site: str
    cameras: int
    detector_fps: float
    face_searches_per_s: float
    events_per_s: float
    components: dict[str, Component]
    gpus: int
    gpu_frames_per_s: float
    cpu_nodes: int
    gpu_nodes: int
    # Detector calls in flight per ingest replica (KUZET_INGEST_INFERENCE_CONCURRENCY); None on CPU.
    ingest_concurrency: int | None = None

    @property
    def cpu_cores(self) -> float:
        return sum(c.replicas * c.cpu for c in self.components.values())

    @property
    def memory_gib(self) -> float:
        return sum(c.replicas * c.memory_gib for c in self.components.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "cameras": self.cameras,
            "detector_frames_per_s": round(self.detector_fps, 3),
            "face_searches_per_s": round(self.face_searches_per_s, 3),
            "events_per_s": round(self.events_per_s, 4),
            "cpu_cores": round(self.cpu_cores, 3),
            "memory_gib": round(self.memory_gib, 3),
            "gpus": self.gpus,
            "gpu_frames_per_s": round(self.gpu_frames_per_s, 3),
            "triton_replicas": self.components["triton"].replicas if "triton" in self.components else 0,
            "nodes": {"cpu": self.cpu_nodes, "gpu": self.gpu_nodes},
            "ingest_inference_concurrency": self.ingest_concurrency,
            "components": {name: c.as_dict() for name, c in self.components.items()},
        }


def split_evenly(cameras: int, sites: int) -> list[tuple[str, int]]:
    """Sites site-01 ... with the cameras spread as evenly as they go (the first ones one more)."""
    if cameras < 1:
        raise PlanError(f"--cameras must be at least 1, not {cameras}")
    if sites < 1:
        raise PlanError(f"--sites must be at least 1, not {sites}")
    if sites > cameras:
        raise PlanError(f"--sites {sites} is more than --cameras {cameras}: a site would have no camera")
    width = max(2, len(str(sites)))
    base, extra = divmod(cameras, sites)
    return [(f"site-{i + 1:0{width}d}", base + (1 if i < extra else 0)) for i in range(sites)]


def read_sites(path: Path) -> list[tuple[str, int]]:
    """A site list: one `site,cameras` per line (blank lines and # comments ignored)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise PlanError(f"cannot read the site list {shown(path)}: {exc.strerror or exc}") from None
    sites: list[tuple[str, int]] = []
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        name, _, count = (part.strip() for part in text.partition(","))
        where = f"{shown(path)} line {number}"
        if not re.match(SITE_ID, name) or len(name) > 53:
            raise PlanError(
                f"{where}: site id {name!r} must be lowercase letters, digits and '-' (a release name)"
            )
        if not count.isdigit() or int(count) < 1:
            raise PlanError(f"{where}: cameras must be a whole number of at least 1, not {count!r}")
        if name in (s for s, _ in sites):
            raise PlanError(f"{where}: site {name} is listed twice")
        sites.append((name, int(count)))
    if not sites:
        raise PlanError(f"the site list {shown(path)} names no site")
    return sites


def check_rates(costs: Costs, options: Options) -> None:
    fps = options.fps.value
    if not 0 < fps <= costs.camera_fps.value:
        raise PlanError(
            f"--fps {fps:g}: must be above 0 and at most the cameras' {costs.camera_fps.value:g} frames/s "
            "(the measured streams')"
        )
    if options.keyframe and fps > costs.bench_analysed_fps.value:
        raise PlanError(
            f"--fps {fps:g} with --keyframe: keyframe mode gives one frame per GOP, and its cost was "
            f"measured at {costs.bench_analysed_fps.value:g} frame/s (1 s GOP); analyse at most that"
        )


def pack(pods: Sequence[tuple[float, ...]], capacity: tuple[float, ...]) -> int:
    """Nodes of the given capacity (cores, GiB, GPUs) the pods fit on, first fit decreasing."""
    nodes: list[list[float]] = []
    for pod in sorted(pods, reverse=True):
        if any(need > room for need, room in zip(pod, capacity, strict=True)):
            raise PlanError(f"a pod needing {format_pod(pod)} does not fit a node of {format_pod(capacity)}")
        for free in nodes:
            if all(need <= room + 1e-9 for need, room in zip(pod, free, strict=True)):
                free[:] = [room - need for need, room in zip(pod, free, strict=True)]
                break
        else:
            nodes.append([room - need for need, room in zip(pod, capacity, strict=True)])
    return len(nodes)


def format_pod(resources: tuple[float, ...]) -> str:
    cpu, memory, *gpus = resources
    return f"{cpu:g} cores, {memory:g} GiB" + (f", {gpus[0]:g} GPUs" if gpus and gpus[0] else "")


def sized(defaults: ComponentDefaults, busy: float, utilisation: float) -> Component:
    """The replicas that keep a component under the target utilisation, each the chart's
    replica size (its limit, which the plan also requests), never fewer than the chart runs."""
    cpu = defaults.cpu_limit.value
    replicas = max(int(defaults.replicas.value), math.ceil(busy / utilisation / cpu - 1e-9))
    autoscaling = None
    if defaults.autoscaling.get("enabled"):
        autoscaling = {
            "enabled": True,
            "minReplicas": replicas,
            "maxReplicas": max(replicas, int(defaults.autoscaling.get("maxReplicas", replicas))),
            "targetCPUUtilizationPercentage": max(1, min(100, round(utilisation * 100))),
        }
    return Component(
        defaults.name, busy, replicas, cpu, defaults.memory_limit.value, True, autoscaling=autoscaling
    )


def plan_site(site: str, cameras: int, costs: Costs, chart: ChartDefaults, options: Options) -> SitePlan:
    u = options.utilisation.value
    detector = cameras * options.fps.value * costs.motion_pass.value
    searches = detector * options.face_share.value
    events = cameras * options.events_per_camera_hour.value / 3600
    if options.gpu is None:
        inference = detector * costs.detect_cpu_s.value + searches * costs.face_cpu_s.value
    else:
        inference = detector * costs.detect_service_cpu_s.value + searches * costs.face_service_cpu_s.value
    busy = {
        "ingest": cameras * costs.decode_cores_per_camera.value,
        "inference": inference,
        "identity": searches * costs.identity_cpu_s_per_search.value,
        "alerting": events * costs.alerting_cpu_s_per_event.value,
    }
    components = {name: sized(chart.components[name], cores, u) for name, cores in busy.items()}
    for name in FIXED:
        d = chart.components[name]
        components[name] = Component(
            name, 0.0, int(d.replicas.value), d.cpu_request.value, d.memory_request.value, False
        )
    capacity = (options.node_cpu, options.node_memory_gib)
    cpu_pods = [(c.cpu, c.memory_gib) for c in components.values() for _ in range(c.replicas)]
    cpu_nodes = pack(cpu_pods, capacity)
    gpus = gpu_nodes = 0
    gpu_load = 0.0
    concurrency: int | None = None
    if options.gpu is not None:
        gpu_load = detector + searches * costs.face_in_detector_frames.value
        per_pod = max(1, int(chart.triton_gpus.value))
        gpus = max(1, math.ceil(gpu_load / (options.gpu.value * u) - 1e-9))
        pods = math.ceil(gpus / per_pod)
        gpus = pods * per_pod
        triton = Component(
            "triton", 0.0, pods, chart.triton_cpu.value, chart.triton_memory.value, True, per_pod
        )
        components["triton"] = triton
        gpu_nodes = pack(
            [(triton.cpu, triton.memory_gib, float(per_pod))] * pods,
            (*capacity, float(options.gpus_per_node)),
        )
        instances = options.detector_instances_per_gpu
        in_flight = gpus * (int(instances.value) if instances is not None else 1)
        concurrency = max(1, math.ceil(in_flight / components["ingest"].replicas))
    return SitePlan(
        site=site,
        cameras=cameras,
        detector_fps=detector,
        face_searches_per_s=searches,
        events_per_s=events,
        components=components,
        gpus=gpus,
        gpu_frames_per_s=gpu_load,
        cpu_nodes=cpu_nodes,
        gpu_nodes=gpu_nodes,
        ingest_concurrency=concurrency,
    )
