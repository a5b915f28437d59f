"""`kuzet plan`: nodes, CPU, memory, GPUs and Triton instances per site, from the measured costs
in bench/results, and Helm values for each site (docs/sizing.md).

    kuzet plan --cameras 39500 --sites 78
    kuzet plan --cameras 39500 --sites 78 --gpu h100 --out plan/
    kuzet plan --site-cameras sites.csv --keyframe --fps 1 --face-share 0.02

Bad input and a missing bench result are reported on one line, exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kuzet.common.sizing.chart import SIZED, load_chart, model_instances
from kuzet.common.sizing.figures import GPUS, Figure, PlanError, checkout_root, given, gpu_figure, read_costs
from kuzet.common.sizing.model import Options, SitePlan, check_rates, plan_site, read_sites, split_evenly
from kuzet.common.sizing.values import totals, write

# Assumptions, not measurements: each is printed as such unless the option is given.
DEFAULTS = {"face_share": 0.05, "events_per_camera_hour": 1.0, "utilisation": 0.7, "fps": 1.0}


def number(kind: type[int] | type[float], low: float, high: float = math.inf) -> Callable[[str], int | float]:
    """An argparse type: a number of this kind in [low, high]."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {kind.__name__}: {text!r}") from None
        if not (low <= value <= high) or (isinstance(value, float) and not math.isfinite(value)):
            bound = f"from {low:g} to {high:g}" if math.isfinite(high) else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"{text} is out of range ({bound})")
        return value

    return parse


def positive(text: str) -> float:
    value = number(float, 0)(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be above 0")
    return float(value)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kuzet plan",
        description="Size each site from the measured costs in bench/results; write Helm values per site.",
    )
    where = p.add_argument_group("cameras and sites")
    # Counts are checked by the plan (split_evenly), which says what is wrong with 0 or -5.
    where.add_argument("--cameras", type=int, help="cameras in all")
    where.add_argument("--sites", type=int, help="sites; cameras spread evenly")
    where.add_argument("--site-cameras", type=Path, metavar="FILE", help="`site,cameras` per line instead")
    load = p.add_argument_group("load")
    load.add_argument(
        "--fps", type=positive, help=f"analysed frames/s per camera (default {DEFAULTS['fps']:g})"
    )
    load.add_argument(
        "--keyframe", action="store_true", help="keyframe-only decoding (1 s GOP, <= 1 frame/s)"
    )
    load.add_argument("--resolution", default="1080p", help="camera resolution measured in ingest.json")
    load.add_argument(
        "--motion-pass",
        type=number(float, 0, 1),
        help="share of analysed frames the motion gate passes (default: measured, ingest.json)",
    )
    load.add_argument(
        "--face-share",
        type=number(float, 0, 1),
        help=f"face searches per detector frame (default {DEFAULTS['face_share']:g}, an assumption)",
    )
    load.add_argument(
        "--events-per-camera-hour",
        type=number(float, 0),
        help=f"events per camera and hour (default {DEFAULTS['events_per_camera_hour']:g}, an assumption)",
    )
    load.add_argument(
        "--gallery-size", type=number(int, 1), default=100_000, help="faces in the galleries searched"
    )
    gpu = p.add_argument_group("GPUs")
    gpu.add_argument(
        "--gpu", metavar="TYPE", help=f"run the models on Triton with this GPU ({', '.join(GPUS)})"
    )
    gpu.add_argument(
        "--gpu-images-per-s", type=positive, help="detector frames/s of one GPU, if you measured it"
    )
    gpu.add_argument("--gpus-per-node", type=number(int, 1), default=1)
    nodes = p.add_argument_group("nodes")
    nodes.add_argument(
        "--utilisation",
        type=positive,
        help=f"target CPU/GPU utilisation, headroom above it (default {DEFAULTS['utilisation']:g})",
    )
    nodes.add_argument(
        "--node-cpu", type=positive, default=32.0, help="allocatable cores per node (default 32)"
    )
    nodes.add_argument(
        "--node-memory-gib", type=positive, default=128.0, help="allocatable GiB per node (default 128)"
    )
    files = p.add_argument_group("files")
    files.add_argument(
        "--bench", type=Path, default=checkout_root() / "bench" / "results", help="bench results"
    )
    files.add_argument(
        "--chart", type=Path, default=checkout_root() / "charts" / "kuzet", help="the Kuzet chart"
    )
    files.add_argument(
        "--models",
        type=Path,
        default=checkout_root() / "infra" / "models",
        help="the Triton model repository",
    )
    files.add_argument(
        "--out", type=Path, metavar="DIR", help="write DIR/<site>.values.yaml and DIR/summary.json"
    )
    return p


def option(args: argparse.Namespace, name: str, unit: str) -> Figure:
    value = getattr(args, name)
    flag = "--" + name.replace("_", "-")
    if value is None:
        return given(name, DEFAULTS[name], unit, flag, True)
    return given(name, value, unit, flag, False)


def sites_of(args: argparse.Namespace) -> list[tuple[str, int]]:
    if args.site_cameras is not None:
        sites = read_sites(args.site_cameras)
        total = sum(n for _, n in sites)
        if args.cameras is not None and args.cameras != total:
            raise PlanError(f"--cameras {args.cameras} but {args.site_cameras} lists {total}")
        if args.sites is not None and args.sites != len(sites):
            raise PlanError(f"--sites {args.sites} but {args.site_cameras} lists {len(sites)}")
        return sites
    if args.cameras is None or args.sites is None:
        raise PlanError("give --cameras and --sites, or --site-cameras FILE")
    return split_evenly(args.cameras, args.sites)


def build(args: argparse.Namespace) -> tuple[list[SitePlan], list[Figure], dict[str, Any]]:
    sites = sites_of(args)
    utilisation = option(args, "utilisation", "share of capacity")
    if utilisation.value > 1:
        raise PlanError(f"--utilisation {utilisation.value:g}: a share of capacity, at most 1")
    if args.gpu is None and args.gpu_images_per_s is not None:
        raise PlanError("--gpu-images-per-s needs --gpu TYPE")
    gpu = gpu_figure(args.gpu, args.gpu_images_per_s) if args.gpu is not None else None
    costs = read_costs(
        args.bench, resolution=args.resolution, keyframe=args.keyframe, gallery_size=args.gallery_size
    )
    if args.motion_pass is not None:
        costs = dataclasses.replace(
            costs, motion_pass=option(args, "motion_pass", "share of analysed frames")
        )
    chart = load_chart(args.chart)
    instances = model_instances(args.models / "centernet" / "config.pbtxt") if gpu is not None else None
    options = Options(
        fps=option(args, "fps", "frames/s per camera"),
        keyframe=args.keyframe,
        face_share=option(args, "face_share", "searches per detector frame"),
        events_per_camera_hour=option(args, "events_per_camera_hour", "events per camera-hour"),
        utilisation=utilisation,
        node_cpu=args.node_cpu,
        node_memory_gib=args.node_memory_gib,
        gpus_per_node=args.gpus_per_node,
        gpu=gpu,
        detector_instances_per_gpu=instances,
    )
    check_rates(costs, options)
    plans = [plan_site(site, cameras, costs, chart, options) for site, cameras in sites]
    inputs = {
        "cameras": sum(n for _, n in sites),
        "sites": len(sites),
        "fps": options.fps.value,
        "keyframe": args.keyframe,
        "resolution": args.resolution,
        "gallery_size": args.gallery_size,
        "gpu": args.gpu or "none (CPU inference)",
        "gpus_per_node": args.gpus_per_node,
        "utilisation": utilisation.value,
        "node_cpu": args.node_cpu,
        "node_memory_gib": args.node_memory_gib,
    }
    return plans, [*options.figures(), *costs.all(), *chart.figures(gpu is not None)], inputs


def table(plans: list[SitePlan]) -> list[str]:
    names = [*SIZED, "triton"]
    head = f"{'site':<14} {'cameras':>7} {'det/s':>7} {'face/s':>6} " + " ".join(f"{n[:9]:>9}" for n in names)
    head += f" {'cores':>7} {'GiB':>7} {'GPUs':>4} {'nodes':>7}"
    lines = [head]

    def row(name: str, cameras: int, det: float, face: float, replicas: list[int], p: dict[str, Any]) -> str:
        nodes = f"{p['nodes']['cpu']}+{p['nodes']['gpu']}"
        return (
            f"{name:<14} {cameras:>7} {det:>7.1f} {face:>6.2f} "
            + " ".join(f"{r:>9}" for r in replicas)
            + f" {p['cpu_cores']:>7g} {p['memory_gib']:>7g} {p['gpus']:>4} {nodes:>7}"
        )

    for plan in plans:
        replicas = [plan.components[n].replicas if n in plan.components else 0 for n in names]
        lines.append(
            row(
                plan.site, plan.cameras, plan.detector_fps, plan.face_searches_per_s, replicas, plan.as_dict()
            )
        )
    total = totals(plans)
    summed = [sum(p.components[n].replicas for p in plans if n in p.components) for n in names]
    det = sum(p.detector_fps for p in plans)
    lines.append(
        row("total", total["cameras"], det, sum(p.face_searches_per_s for p in plans), summed, total)
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        plans, figures, inputs = build(args)
        written = write(args.out, plans, figures, inputs) if args.out is not None else []
    except PlanError as exc:
        print(f"kuzet plan: {exc}", file=sys.stderr)
        return 2
    print("\n".join(table(plans)))
    print("\nReplicas per component (triton: Triton pods, one per GPU); nodes: CPU+GPU.")
    print("Figures (measured here, or marked 'not measured here'):")
    for f in figures:
        print(f"  {f.key:<28} {f.value:>12.6g} {f.unit:<28} {f.provenance()}")
    if written:
        print(f"wrote {len(written) - 1} values files (<site>.values.yaml) and summary.json to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
