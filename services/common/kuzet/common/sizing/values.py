"""What a plan writes: Helm values per site (DIR/<site>.values.yaml, an overlay for the chart in
charts/kuzet, given after the operator's own values file) and DIR/summary.json with every site,
every figure and its provenance.

Only what the plan sized is in the overlay: the replicas and replica size of ingest, inference,
identity and alerting (requests equal to limits: the scheduler reserves what the plan counted),
their autoscaling floors, Triton on or off and its replicas, and ingest's detector calls in
flight when a GPU computes several frames at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from kuzet.common.sizing.figures import Figure, PlanError, shown
from kuzet.common.sizing.model import Component, SitePlan


def cpu_quantity(cores: float) -> str:
    return str(int(cores)) if float(cores).is_integer() else f"{round(cores * 1000)}m"


def memory_quantity(gib: float) -> str:
    return f"{int(gib)}Gi" if float(gib).is_integer() else f"{round(gib * 1024)}Mi"


def component_values(component: Component) -> dict[str, Any]:
    size = {"cpu": cpu_quantity(component.cpu), "memory": memory_quantity(component.memory_gib)}
    out: dict[str, Any] = {
        "replicas": component.replicas,
        "resources": {"requests": size, "limits": dict(size)},
    }
    if component.autoscaling is not None:
        out["autoscaling"] = dict(component.autoscaling)
    return out


def site_values(plan: SitePlan) -> dict[str, Any]:
    components = {
        name: component_values(c) for name, c in plan.components.items() if c.sized and name != "triton"
    }
    if plan.ingest_concurrency is not None:
        components["ingest"]["env"] = {"KUZET_INGEST_INFERENCE_CONCURRENCY": str(plan.ingest_concurrency)}
    triton = plan.components.get("triton")
    return {
        "components": components,
        "triton": {"enabled": True, "replicas": triton.replicas} if triton else {"enabled": False},
    }


def site_file(plan: SitePlan, inputs: dict[str, Any]) -> str:
    header = [
        f"# Kuzet sizing plan for site {plan.site}: {plan.cameras} cameras ({_inputs_line(inputs)}).",
        f"# {plan.cpu_cores:g} cores, {plan.memory_gib:g} GiB and {plan.gpus} GPU(s) on "
        f"{plan.cpu_nodes} CPU + {plan.gpu_nodes} GPU node(s); figures and their sources: summary.json.",
        "# Written by `kuzet plan`: give it after your own values file, e.g.",
        f"#   helm upgrade --install kuzet-{plan.site} charts/kuzet -f my-values.yaml -f {plan.site}.values.yaml",
    ]
    return "\n".join(header) + "\n" + yaml.safe_dump(site_values(plan), sort_keys=False)


def _inputs_line(inputs: dict[str, Any]) -> str:
    decode = "keyframe decoding" if inputs["keyframe"] else "full decoding"
    return (
        f"{inputs['fps']:g} analysed frame/s, {inputs['resolution']} {decode}, GPU {inputs['gpu']}, "
        f"{inputs['utilisation']:.0%} target utilisation"
    )


def summary(plans: list[SitePlan], figures: list[Figure], inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "inputs": inputs,
        "totals": totals(plans),
        "sites": [p.as_dict() for p in plans],
        "figures": [f.as_dict() for f in figures],
    }


def totals(plans: list[SitePlan]) -> dict[str, Any]:
    return {
        "sites": len(plans),
        "cameras": sum(p.cameras for p in plans),
        "cpu_cores": round(sum(p.cpu_cores for p in plans), 3),
        "memory_gib": round(sum(p.memory_gib for p in plans), 3),
        "gpus": sum(p.gpus for p in plans),
        "nodes": {"cpu": sum(p.cpu_nodes for p in plans), "gpu": sum(p.gpu_nodes for p in plans)},
    }


def write(out: Path, plans: list[SitePlan], figures: list[Figure], inputs: dict[str, Any]) -> list[Path]:
    """DIR/<site>.values.yaml per site and DIR/summary.json; the paths written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for plan in plans:
            path = out / f"{plan.site}.values.yaml"
            path.write_text(site_file(plan, inputs))
            written.append(path)
        path = out / "summary.json"
        path.write_text(json.dumps(summary(plans, figures, inputs), indent=2) + "\n")
    except OSError as exc:
        raise PlanError(f"cannot write the plan to {shown(out)}: {exc.strerror or exc}") from None
    return [*written, path]
