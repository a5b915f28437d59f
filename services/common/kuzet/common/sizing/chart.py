"""What the Helm chart gives a plan: each component's default replicas, replica size and
autoscaling, and Triton's pod size (charts/kuzet/values.yaml); and the detector's instances per
GPU in the Triton model repository (infra/models).

None of these is measured: a replica's size is the chart's, and its memory in particular is the
chart's default, not a measurement of what a component holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kuzet.common.sizing.figures import Figure, PlanError, shown

# Sized from the load; the others run at the chart's defaults whatever the cameras.
SIZED = ("ingest", "inference", "identity", "alerting")
FIXED = ("badge", "drone", "gateway")

_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti)?$")
_GIB = {"Ki": 1 / 1024**2, "Mi": 1 / 1024, "Gi": 1.0, "Ti": 1024.0}


def cpu_cores(quantity: Any) -> float:
    found = _CPU.match(str(quantity))
    if not found:
        raise PlanError(f"chart: cannot read the CPU quantity {quantity!r}")
    value = float(found.group(1))
    return value / 1000 if found.group(2) else value


def memory_gib(quantity: Any) -> float:
    found = _MEMORY.match(str(quantity))
    if not found:
        raise PlanError(f"chart: cannot read the memory quantity {quantity!r}")
    value = float(found.group(1))
    return value * _GIB[found.group(2)] if found.group(2) else value / 1024**3


@dataclass(frozen=True)
class ComponentDefaults:
    name: str
    replicas: Figure
    cpu_request: Figure
    cpu_limit: Figure
    memory_request: Figure
    memory_limit: Figure
    # The chart's autoscaling block (enabled, minReplicas, maxReplicas, ...).
    autoscaling: dict[str, Any]

    def figures(self) -> list[Figure]:
        """The figures a plan uses: a sized replica is the chart's limit, a fixed one its request."""
        if self.name in SIZED:
            return [self.replicas, self.cpu_limit, self.memory_limit]
        return [self.replicas, self.cpu_request, self.memory_request]


@dataclass(frozen=True)
class ChartDefaults:
    components: dict[str, ComponentDefaults]
    triton_cpu: Figure
    triton_memory: Figure
    triton_gpus: Figure

    def figures(self, gpu: bool) -> list[Figure]:
        out = [f for c in self.components.values() for f in c.figures()]
        return [*out, self.triton_cpu, self.triton_memory, self.triton_gpus] if gpu else out


def load_chart(directory: Path) -> ChartDefaults:
    values_path = directory / "values.yaml"
    try:
        values = yaml.safe_load(values_path.read_text())
    except FileNotFoundError:
        raise PlanError(f"no Kuzet chart at {shown(directory)} (no values.yaml): give --chart") from None
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise PlanError(f"cannot read the chart at {shown(directory)}: {exc}") from None
    where = shown(values_path)

    def read(*keys: str) -> Any:
        node: Any = values
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                raise PlanError(f"{where} has no {'.'.join(keys)}")
            node = node[key]
        return node

    def figure(key: str, unit: str, parse: Callable[[Any], float], *keys: str) -> Figure:
        return Figure(key, parse(read(*keys)), unit, "chart", f"chart default, {where} {'.'.join(keys)}")

    components = {}
    for name in SIZED + FIXED:
        base = ("components", name)
        res = (*base, "resources")
        components[name] = ComponentDefaults(
            name,
            figure(f"{name}.replicas", "replicas", int, *base, "replicas"),
            figure(f"{name}.cpu_request", "cores", cpu_cores, *res, "requests", "cpu"),
            figure(f"{name}.cpu_limit", "cores", cpu_cores, *res, "limits", "cpu"),
            figure(f"{name}.memory_request", "GiB", memory_gib, *res, "requests", "memory"),
            figure(f"{name}.memory_limit", "GiB", memory_gib, *res, "limits", "memory"),
            dict(read(*base).get("autoscaling") or {}),
        )
    triton = ("triton", "resources", "requests")
    return ChartDefaults(
        components=components,
        triton_cpu=figure("triton.cpu_request", "cores", cpu_cores, *triton, "cpu"),
        triton_memory=figure("triton.memory_request", "GiB", memory_gib, *triton, "memory"),
        triton_gpus=figure("triton.gpus", "GPUs/pod", int, *triton, "nvidia.com/gpu"),
    )


_INSTANCES = re.compile(r"instance_group\s*\[\s*\{[^}]*?count:\s*(\d+)[^}]*?kind:\s*KIND_GPU", re.S)


def model_instances(config: Path) -> Figure:
    """Executions of the detector one GPU runs at once (its instance_group count in the Triton
    model repository): the frames ingest may have in flight per GPU."""
    try:
        text = config.read_text()
    except OSError as exc:
        raise PlanError(f"cannot read the detector's Triton config {shown(config)}: {exc}") from None
    found = _INSTANCES.search(text)
    if not found:
        raise PlanError(f"{shown(config)} has no instance_group with a count of KIND_GPU instances")
    return Figure(
        "detector_instances_per_gpu",
        int(found.group(1)),
        "instances/GPU",
        "chart",
        f"model repository default, {shown(config)} instance_group.count",
    )
