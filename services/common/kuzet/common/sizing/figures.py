"""The figures a plan is built on, each with where it came from.

A figure is *measured* (a key of a bench result in bench/results, written by the scripts in
bench/), *published* (a vendor's figure, for the GPUs: not measured here), a *chart* default
(charts/kuzet/values.yaml: not measured here) or an *input* (a command-line option, or its
default where that is an assumption: not measured here either). The plan prints every figure it
used with its provenance, and writes them into the summary.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Origin = Literal["measured", "published", "chart", "input"]

NOT_MEASURED = "not measured here"


class PlanError(Exception):
    """Bad input or a figure that cannot be read: the command prints it and exits 2."""


def checkout_root() -> Path:
    # bench/results and the chart are read from the checkout this package is installed from
    # (`make dev` installs it editable); --bench and --chart point elsewhere.
    return Path(__file__).resolve().parents[5]


def shown(path: Path) -> str:
    """A path as a reader of the repository names it: relative to the checkout when inside it."""
    try:
        return str(path.resolve().relative_to(checkout_root()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Figure:
    key: str
    value: float
    unit: str
    origin: Origin
    # The file and key it was read from (and how it was derived), the publication, or the option.
    source: str

    @property
    def measured(self) -> bool:
        return self.origin == "measured"

    def provenance(self) -> str:
        return f"measured: {self.source}" if self.measured else f"{NOT_MEASURED}: {self.source}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "unit": self.unit,
            "origin": self.origin,
            "measured": self.measured,
            "provenance": self.provenance(),
        }


def given(key: str, value: float, unit: str, option: str, default: bool) -> Figure:
    """An input figure: given on the command line, or the option's default (an assumption)."""
    how = f"assumed default of {option}" if default else f"given as {option}"
    return Figure(key, value, unit, "input", how)


class BenchFile:
    """One result file of bench/ (bench/results/<name>.json) and typed reads of its keys."""

    def __init__(self, directory: Path, name: str) -> None:
        self.path = directory / name
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            raise PlanError(
                f"missing bench result {shown(self.path)}: run bench/{self.path.stem}.py, "
                "or point --bench at the folder that holds it"
            ) from None
        except (OSError, ValueError) as exc:
            raise PlanError(f"cannot read bench result {shown(self.path)}: {exc}") from None
        if not isinstance(data, dict):
            raise PlanError(f"bench result {shown(self.path)} is not a JSON object")
        self.data: dict[str, Any] = data

    def number(self, *keys: str) -> tuple[float, str]:
        """The number at data[k1][k2]..., and its key, for the figure's source."""
        node: Any = self.data
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                raise PlanError(f"bench result {shown(self.path)} has no {'.'.join(keys)}")
            node = node[key]
        return self._checked(node, ".".join(keys)), ".".join(keys)

    def rows(self) -> list[dict[str, Any]]:
        rows = self.data.get("rows")
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise PlanError(f"bench result {shown(self.path)} has no list of rows")
        return rows

    def row_number(self, field: str, **match: Any) -> tuple[float, str]:
        """The field of the one row matching every (key, value) of match, and its key."""
        found = [r for r in self.rows() if all(r.get(k) == v for k, v in match.items())]
        where = "rows[" + ", ".join(f"{k}={v}" for k, v in match.items()) + "]"
        if len(found) != 1:
            raise PlanError(f"bench result {shown(self.path)} has {len(found)} rows {where}, expected one")
        if field not in found[0]:
            raise PlanError(f"bench result {shown(self.path)} {where} has no {field}")
        return self._checked(found[0][field], f"{where}.{field}"), f"{where}.{field}"

    def figure(self, key: str, value: float, unit: str, derivation: str) -> Figure:
        """A measured figure read (and derived, as derivation says) from this file."""
        return Figure(key, value, unit, "measured", f"{shown(self.path)}: {derivation}")

    def _checked(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise PlanError(f"bench result {shown(self.path)} {where} is not a number: {value!r}")
        return float(value)


@dataclass(frozen=True)
class Costs:
    """What one unit of work costs, from the bench results."""

    decode_cores_per_camera: Figure
    camera_fps: Figure
    bench_analysed_fps: Figure
    motion_pass: Figure
    # CPU seconds per detector frame / per face search with CPU inference (the embedded backend).
    detect_cpu_s: Figure
    face_cpu_s: Figure
    # The inference service's own CPU seconds (gRPC, decoding, pre/post-processing) when a GPU runs
    # the models: the embedded path's CPU less onnxruntime's alone.
    detect_service_cpu_s: Figure
    face_service_cpu_s: Figure
    # A face search's model work in detector frames (CPU time ratio), to load a GPU with it.
    face_in_detector_frames: Figure
    identity_cpu_s_per_search: Figure
    alerting_cpu_s_per_event: Figure

    def all(self) -> list[Figure]:
        return [getattr(self, name) for name in self.__dataclass_fields__]


# The models one face search runs: YuNet on the upper half of the person in ingest and again on
# the face crop in identity, then one SFace embedding (kuzet.ingest.faces, kuzet.identity.faces).
FACE_SEARCH_MODELS = (("yunet", 2), ("sface", 1))
DETECTOR = "centernet"
# Ingest sends one frame per call (kuzet.ingest.detect); the service's own overhead is taken at
# batch 8, where it stands clear of the run-to-run noise (at batch 1 it is within it).
CALL_BATCH = 1
OVERHEAD_BATCH = 8


def read_costs(bench: Path, *, resolution: str, keyframe: bool, gallery_size: int) -> Costs:
    ingest = BenchFile(bench, "ingest.json")
    sizes = sorted({str(r.get("size")) for r in ingest.rows()})
    if resolution not in sizes:
        raise PlanError(f"--resolution {resolution}: measured in {shown(ingest.path)}: {', '.join(sizes)}")
    mode = "pipeline keyframe" if keyframe else "pipeline full"
    streams, where = ingest.row_number("streams_per_core", size=resolution, mode=mode)
    frames, frames_at = ingest.row_number("frames_decoded", size=resolution, mode="raw decode")
    seconds, seconds_at = ingest.number("clip_seconds")
    analysed, analysed_at = ingest.number("analytic_fps")
    gate, gate_at = ingest.number("motion_pass_ratio")

    inference = BenchFile(bench, "inference.json")

    def cpu_s(model: str, batch: int, path: str) -> tuple[float, str]:
        ms, at = inference.row_number("cpu_ms", model=model, batch=batch, path=path)
        return ms / 1000 / batch, at

    detect, detect_at = cpu_s(DETECTOR, CALL_BATCH, "embedded")
    for file, value, at in (
        (ingest, streams, where),
        (ingest, seconds, seconds_at),
        (inference, detect, detect_at),
    ):
        if value <= 0:
            raise PlanError(
                f"bench result {shown(file.path)} {at} is {value:g}: it divides, so it must be above 0"
            )
    face, face_at = per_search([(n, *cpu_s(m, CALL_BATCH, "embedded")) for m, n in FACE_SEARCH_MODELS])

    def overhead_s(model: str) -> tuple[float, str]:
        service, service_at = cpu_s(model, OVERHEAD_BATCH, "embedded")
        direct, direct_at = cpu_s(model, OVERHEAD_BATCH, "direct")
        return max(0.0, service - direct), f"max(0, ({service_at} - {direct_at}) / {OVERHEAD_BATCH})"

    detect_overhead, detect_overhead_at = overhead_s(DETECTOR)
    face_overhead, face_overhead_at = per_search([(n, *overhead_s(m)) for m, n in FACE_SEARCH_MODELS])

    identity = BenchFile(bench, "identity.json")
    search_s, search_at = identity_search(identity, gallery_size)
    alerting = BenchFile(bench, "alerting.json")
    event_ms, event_at = alerting.number("fanout", "server_cpu_ms_per_event")

    return Costs(
        decode_cores_per_camera=ingest.figure(
            "decode_cores_per_camera", 1 / streams, "cores/camera", f"1 / {where} ({streams:g})"
        ),
        camera_fps=ingest.figure("camera_fps", frames / seconds, "frames/s", f"{frames_at} / {seconds_at}"),
        bench_analysed_fps=ingest.figure("bench_analysed_fps", analysed, "frames/s", analysed_at),
        motion_pass=ingest.figure(
            "motion_pass", gate, "share of analysed frames", f"{gate_at} (a 90%-still scene)"
        ),
        detect_cpu_s=inference.figure("detect_cpu_s", detect, "CPU s/frame", f"{detect_at} / 1000"),
        face_cpu_s=inference.figure("face_cpu_s", face, "CPU s/search", f"({face_at}) / 1000"),
        detect_service_cpu_s=inference.figure(
            "detect_service_cpu_s", detect_overhead, "CPU s/frame", f"{detect_overhead_at} / 1000"
        ),
        face_service_cpu_s=inference.figure(
            "face_service_cpu_s", face_overhead, "CPU s/search", f"({face_overhead_at}) / 1000"
        ),
        face_in_detector_frames=inference.figure(
            "face_in_detector_frames", face / detect, "detector frames/search", "face_cpu_s / detect_cpu_s"
        ),
        identity_cpu_s_per_search=identity.figure(
            "identity_cpu_s_per_search", search_s, "CPU s/search", search_at
        ),
        alerting_cpu_s_per_event=alerting.figure(
            "alerting_cpu_s_per_event",
            event_ms / 1000,
            "CPU s/event",
            f"{event_at} / 1000 (publish, commit, fan-out)",
        ),
    )


def per_search(parts: list[tuple[int, float, str]]) -> tuple[float, str]:
    """The cost of a face search from (calls, cost, where) per model, and where it came from."""
    return sum(n * value for n, value, _ in parts), " + ".join(f"{n} x {at}" for n, _, at in parts)


def identity_search(identity: BenchFile, gallery_size: int) -> tuple[float, str]:
    """CPU seconds of one 1:N search in the smallest measured gallery at least this large."""
    sizes = sorted(int(s) for s in (r.get("size") for r in identity.rows()) if isinstance(s, int))
    fitting = [s for s in sizes if s >= gallery_size]
    if not fitting:
        raise PlanError(
            f"--gallery-size {gallery_size}: the largest gallery measured in {shown(identity.path)} "
            f"is {max(sizes, default=0)}; measure a larger one (bench/identity.py)"
        )
    ms, at = identity.row_number("index_cpu_p50_ms", size=fitting[0])
    return ms / 1000, f"{at} / 1000 (gallery of {fitting[0]} >= {gallery_size})"


@dataclass(frozen=True)
class PublishedGpu:
    images_per_s: float
    source: str


# No GPU was lent to this work: until bench/inference.py --triton runs on one, the detector rate
# per GPU is a published figure. NVIDIA's RT-CV page gives the 1080p streams at 30 frames/s one
# GPU sustains with detection on every frame (and a tracker, and NVDEC decoding on the GPU) for
# RT-DETR ResNet-50, FP16 TensorRT: a far heavier detector than Kuzet's CenterNet MobileNetV3, so
# the GPU counts these give are on the safe side.
_RTCV = "NVIDIA VSS 3.1 RT-CV Performance, https://docs.nvidia.com/vss/latest/performance-rt-cv.html"
_RTCV_FPS = 30
GPUS: dict[str, PublishedGpu] = {
    name: PublishedGpu(
        streams * _RTCV_FPS,
        f"{_RTCV}: {label}, RT-DETR ResNet50 FP16 TensorRT, {streams} concurrent 1080p streams "
        f"x {_RTCV_FPS} frames/s (another, heavier detector than Kuzet's)",
    )
    for name, label, streams in (
        ("h100", "H100", 50),
        ("rtx-pro-6000-se", "RTX Pro 6000 SE", 29),
        ("l40s", "L40S", 15),
    )
}


def gpu_figure(name: str, images_per_s: float | None) -> Figure:
    """Detector frames/s one GPU computes: the operator's own figure, or the published one."""
    if images_per_s is not None:
        return given(
            "gpu_images_per_s", images_per_s, "frames/s per GPU", f"--gpu-images-per-s for {name}", False
        )
    if name not in GPUS:
        raise PlanError(
            f"unknown GPU type {name!r}: published figures exist for {', '.join(sorted(GPUS))}; "
            "for another GPU give its detector rate with --gpu-images-per-s"
        )
    gpu = GPUS[name]
    return Figure("gpu_images_per_s", gpu.images_per_s, "frames/s per GPU", "published", gpu.source)
