"""Inference: the whole service (gRPC, decode, pre/post-processing, backend) vs onnxruntime called
directly on ready tensors, in one run, on real photos.

For each model and batch size (1, 8, 32): images/s and p50/p99 latency per call of
  - `direct`   onnxruntime session.run on the prepared batch (same session options, same threads),
  - `embedded` the InferenceService over loopback gRPC with the embedded backend,
  - `triton`   the same service with the Triton backend against a real tritonserver 2.51 (python
               backend running the same ONNX on CPU; full run only, or --triton).
Images travel as raw BGR frames, as ingest sends decoded video (`--encoded` sends JPEGs instead);
frames are first scaled to a longest side of 960 px as ingest does (`--max-side`; the face photos
are 0.6-3.3 MP and would otherwise be resized inside the measured path).
Direct and service calls are interleaved so that load from other processes hits both alike.

    python bench/inference.py            # all models, batch 1/8/32, both backends
    python bench/inference.py --quick    # detector at batch 1/8, embedder at 8, embedded only (< 1 min)

Columns: ratio = p50 ÷ direct p50; r(min) = fastest call ÷ fastest direct call (interference only
adds time, so on a shared machine this is the least disturbed figure); r(cpu) = this process's CPU
time per call ÷ direct (the embedded service runs in-process, so this counts all it does: client,
gRPC, decoding, pre/post-processing, onnxruntime).

Writes bench/results/inference.json; headline: embedded_overhead_b8 = embedded path time ÷ direct
onnxruntime time, batch 8, detector (CenterNet), as r(cpu) (stable on a shared machine), with the
wall-clock median and fastest-call ratios beside it. Goal ≤ 1.15. Run it under `nice`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import cv2
import grpc
import numpy as np
import onnxruntime as ort

from kuzet.common import testdata
from kuzet.common.grpcclient import open_channel
from kuzet.common.inference.client import FaceInput, ImageInput, InferenceClient
from kuzet.common.tls import use_local_pki
from kuzet.inference.backends.embedded import EmbeddedBackend, default_threads, session_options
from kuzet.inference.catalog import Catalog, ModelSpec, load_catalog
from kuzet.inference.config import InferenceSettings
from kuzet.inference.processing import align, faces, objects, pose
from kuzet.inference.server import build

RESULTS = Path(__file__).resolve().parent / "results" / "inference.json"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


class Direct:
    """onnxruntime on ready tensors: the floor the service is measured against."""

    def __init__(self, spec: ModelSpec, threads: int) -> None:
        self.spec = spec
        self.session = ort.InferenceSession(
            str(spec.path), session_options(threads), providers=["CPUExecutionProvider"]
        )

    def run(self, executions: list[dict[str, np.ndarray]]) -> None:
        for feeds in executions:
            self.session.run(self.spec.output_names, feeds)


def load_images(max_side: int) -> dict[str, list[np.ndarray]]:
    def bgr(p: Path) -> np.ndarray:
        image = cv2.imread(str(p), cv2.IMREAD_COLOR)
        assert image is not None, p
        return image

    def as_ingest_sends(image: np.ndarray) -> np.ndarray:
        # Ingest scales frames to its analytic size before sending (KUZET_INGEST_INFERENCE_MAX_SIDE,
        # default 960), outside the inference path measured here.
        h, w = image.shape[:2]
        scale = max_side / max(h, w) if max_side else 1.0
        if scale >= 1.0:
            return image
        return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)

    photos = testdata.face_photos()
    return {
        "street": [as_ingest_sends(bgr(p)) for p in testdata.street_photos()],
        "faces": [as_ingest_sends(bgr(p)) for p in [*photos["obama"], *photos["biden"]]],
    }


def cycle(items: list[Any], n: int) -> list[Any]:
    return [items[i % len(items)] for i in range(n)]


def as_input(images: list[np.ndarray], encoded: bool) -> list[ImageInput]:
    if not encoded:
        return list(images)
    return [bytes(cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, 90])[1]) for im in images]


class Workload:
    """One model: the tensors for direct runs and the service call for a batch of n."""

    def __init__(
        self, model: str, images: dict[str, list[np.ndarray]], landmarks: list[np.ndarray], encoded: bool
    ):
        self.model = model
        self.images = images
        self.landmarks = landmarks
        self.encoded = encoded
        # The region around each face (1.6x the eye-to-mouth span) and its landmarks in it.
        self.face_crops: list[np.ndarray] = []
        self.face_regions: list[np.ndarray] = []
        for image, marks in zip(images["faces"], landmarks, strict=True):
            centre = marks.mean(axis=0)
            half = 1.6 * float(np.ptp(marks, axis=0).max())
            x0, y0 = (max(0, int(c - half)) for c in centre)
            x1, y1 = int(centre[0] + half), int(centre[1] + half)
            self.face_crops.append(np.ascontiguousarray(image[y0:y1, x0:x1]))
            self.face_regions.append(marks - np.array([x0, y0]))

    def feeds(self, n: int, batch_limit: int) -> list[dict[str, np.ndarray]]:
        """The executions the service makes for n images: one per chunk of batch_limit (one per
        image for the fixed-batch CenterNet and MoveNet, each padded only to its own size)."""
        chunks = [range(i, min(i + batch_limit, n)) for i in range(0, n, batch_limit)]
        if self.model in ("centernet", "movenet"):
            prepare = objects.prepare if self.model == "centernet" else pose.prepare
            street = cycle(self.images["street"], n)
            return [prepare([street[i] for i in c])[0] for c in chunks]
        if self.model == "yunet":
            pictures = cycle(self.images["faces"], n)
            return [faces.prepare([pictures[i] for i in c])[0] for c in chunks]
        crops = cycle(
            [align.align(im, lm) for im, lm in zip(self.face_crops, self.face_regions, strict=True)], n
        )
        return [align.prepare([crops[i] for i in c]) for c in chunks]

    def call(self, client: InferenceClient, n: int) -> Callable[[], Awaitable[Any]]:
        if self.model == "centernet":
            street = as_input(cycle(self.images["street"], n), self.encoded)
            return lambda: client.detect_objects(street)
        if self.model == "movenet":
            street = as_input(cycle(self.images["street"], n), self.encoded)
            return lambda: client.estimate_poses(street)
        pictures = as_input(cycle(self.images["faces"], n), self.encoded)
        if self.model == "yunet":
            return lambda: client.detect_faces(pictures)
        # Faces arrive as the region around a detected face (what ingest and identity hold),
        # with landmarks relative to it: not whole multi-megapixel photos.
        regions = as_input(cycle(self.face_crops, n), self.encoded)
        marks = cycle(self.face_regions, n)
        requests = [FaceInput(i, [(float(x), float(y)) for x, y in m]) for i, m in enumerate(marks)]
        return lambda: client.embed_faces(regions, requests)


async def measure(
    direct: Direct,
    feeds: list[dict[str, np.ndarray]],
    calls: dict[str, Callable[[], Awaitable[Any]]],
    iterations: int,
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall time and this process's CPU time per call, per path.

    The embedded service runs inside this process, so its CPU time (client, gRPC, decoding,
    pre/post-processing, onnxruntime) compares with the direct path's even while other processes
    load the machine; Triton runs in another process, so only its wall time means anything.
    """
    wall: dict[str, list[float]] = {"direct": [], **{k: [] for k in calls}}
    cpu: dict[str, list[float]] = {"direct": [], **{k: [] for k in calls}}
    # Warm-up: first calls allocate arenas and open connections.
    direct.run(feeds)
    for call in calls.values():
        await call()
    for _ in range(iterations):
        start, start_cpu = time.perf_counter(), time.process_time()
        direct.run(feeds)
        wall["direct"].append(time.perf_counter() - start)
        cpu["direct"].append(time.process_time() - start_cpu)
        for name, call in calls.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            await call()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return wall, cpu


def summarise(
    model: str, n: int, wall: dict[str, list[float]], cpu: dict[str, list[float]]
) -> list[dict[str, Any]]:
    base_p50, base_min = statistics.median(wall["direct"]), min(wall["direct"])
    base_cpu = statistics.median(cpu["direct"])
    rows = []
    for path, values in wall.items():
        p50 = statistics.median(values)
        in_process = path != "triton"
        rows.append(
            {
                "model": model,
                "batch": n,
                "path": path,
                "images_per_s": n / p50,
                "p50_ms": p50 * 1000,
                "p99_ms": percentile(values, 99) * 1000,
                "min_ms": min(values) * 1000,
                "ratio_vs_direct": p50 / base_p50,
                "ratio_min_vs_direct": min(values) / base_min,
                "cpu_ms": statistics.median(cpu[path]) * 1000 if in_process else None,
                "cpu_ratio_vs_direct": statistics.median(cpu[path]) / base_cpu if in_process else None,
            }
        )
    return rows


def print_row(r: dict[str, Any]) -> None:
    cpu_ratio = f"{r['cpu_ratio_vs_direct']:.2f}" if r["cpu_ratio_vs_direct"] is not None else "-"
    print(
        f"{r['model']:<10} {r['batch']:>5} {r['path']:<9} {r['images_per_s']:>9.1f} {r['p50_ms']:>9.1f} "
        f"{r['p99_ms']:>9.1f} {r['ratio_vs_direct']:>7.2f} {r['ratio_min_vs_direct']:>7.2f} {cpu_ratio:>7}",
        flush=True,
    )


async def start_service(
    settings: InferenceSettings, backend: Any = None
) -> tuple[Any, InferenceClient, grpc.aio.Channel]:
    server = await build(settings, backend=backend)
    address = await server.start()
    channel = open_channel(address, audience="inference", max_message_mb=settings.max_message_mb)
    return server, InferenceClient(channel, timeout_s=600), channel


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def main_async(opts: argparse.Namespace) -> dict[str, Any]:
    catalog: Catalog = load_catalog()
    threads = default_threads()
    images = load_images(opts.max_side)
    models = opts.models or (
        ["centernet", "sface"] if opts.quick else ["centernet", "yunet", "sface", "movenet"]
    )
    batches = [1, 8] if opts.quick else [1, 8, 32]
    iterations = opts.iterations or (3 if opts.quick else 8)
    use_triton = opts.triton or not opts.quick

    # Large raw batches (32 x 1080p) exceed gRPC's default 32 MB message limit.
    base = {"max_message_mb": 512, "max_batch_images": 64, "intra_op_threads": threads}
    # Only the models measured (and YuNet, which finds the landmarks for the embedder's workload).
    loaded = [m for m in catalog if m.name in {*models, "yunet"}]
    embedded = EmbeddedBackend(loaded, intra_op_threads=threads)
    embedded.load()
    services = {}
    services["embedded"] = await start_service(InferenceSettings(port=free_port(), **base), backend=embedded)
    triton_server = None
    if use_triton:
        from kuzet.inference.tritonlocal import LocalTriton

        triton_server = LocalTriton(Path(tempfile.mkdtemp(prefix="kuzet-triton-")), models=models)
        triton_server.start(timeout_s=180)
        services["triton"] = await start_service(
            InferenceSettings(port=free_port(), backend="triton", triton_url=triton_server.url, **base)
        )
    landmarks = []
    found = await services["embedded"][1].detect_faces(images["faces"], max_faces=1)
    for f in found:
        landmarks.append(np.array(f.faces[0].landmarks))

    rows: list[dict[str, Any]] = []
    try:
        for model in models:
            spec = catalog.models[model]
            direct = Direct(spec, threads)
            work = Workload(model, images, landmarks, opts.encoded)
            # The quick run keeps batch 1 for the detector only (the embedder's headline is batch 8).
            for n in batches if not opts.quick or model == "centernet" else [8]:
                feeds = work.feeds(n, spec.batch_limit)
                calls = {name: work.call(client, n) for name, (_, client, _) in services.items()}
                wall, cpu = await measure(direct, feeds, calls, iterations)
                for row in summarise(model, n, wall, cpu):
                    rows.append(row)
                    print_row(row)
    finally:
        for server, _, channel in services.values():
            await channel.close()
            await server.stop(0)
        embedded.shutdown()
        if triton_server is not None:
            triton_server.stop()
            shutil.rmtree(triton_server.workdir, ignore_errors=True)

    def ratio(model: str, batch: int, path: str, key: str = "ratio_min_vs_direct") -> float | None:
        for r in rows:
            if (r["model"], r["batch"], r["path"]) == (model, batch, path) and r[key] is not None:
                return round(float(r[key]), 3)
        return None

    return {
        "benchmark": "inference",
        "quick": opts.quick,
        "images": "encoded JPEG" if opts.encoded else "raw BGR frames",
        "frame_max_side": opts.max_side,
        "iterations": iterations,
        "intra_op_threads": threads,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
        },
        "onnxruntime": ort.__version__,
        "headline": {
            # Time the embedded path spends ÷ time onnxruntime alone spends, as CPU time of this
            # process (client, gRPC, server, pre/post-processing and onnxruntime all run here):
            # on a machine shared with other work, wall-clock ratios swing by +-50% between runs
            # while this one holds; the wall-clock ratios (median and fastest call) are beside it.
            "embedded_overhead_b8": ratio("centernet", 8, "embedded", "cpu_ratio_vs_direct"),
            "embedded_overhead_b8_wall_median": ratio("centernet", 8, "embedded", "ratio_vs_direct"),
            "embedded_overhead_b8_wall_min": ratio("centernet", 8, "embedded"),
            "triton_overhead_b8": ratio("centernet", 8, "triton"),
            "embedder_overhead_b8": ratio("sface", 8, "embedded"),
            "load_average_1m": round(os.getloadavg()[0], 1),
        },
        "rows": rows,
    }


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    use_local_pki(Path(mkdtemp(prefix="kuzet-bench-pki-")), "bench")  # mTLS, as deployed
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="reduced run, under a minute")
    parser.add_argument("--triton", action="store_true", help="include the Triton backend in a quick run")
    parser.add_argument("--encoded", action="store_true", help="send JPEG files instead of raw BGR frames")
    parser.add_argument(
        "--max-side",
        type=int,
        default=960,
        help="frames scaled to this longest side first, as ingest does (0: as shot)",
    )
    parser.add_argument("--iterations", type=int, default=0)
    parser.add_argument("--models", nargs="+", choices=["centernet", "yunet", "sface", "movenet"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    opts = parser.parse_args()
    from kuzet.common.callerkeys import use_ephemeral_keys

    # The services it starts verify caller tokens: keys for this run (kept until main returns).
    _keys = use_ephemeral_keys("bench")
    print(
        f"{'model':<10} {'batch':>5} {'path':<9} {'images/s':>9} {'p50 ms':>9} {'p99 ms':>9} "
        f"{'ratio':>7} {'r(min)':>7} {'r(cpu)':>7}"
    )
    # A terminated run still stops its servers (the finally blocks run on KeyboardInterrupt).
    signal.signal(signal.SIGTERM, _interrupt)
    result = asyncio.run(main_async(opts))
    print("headline:", json.dumps(result["headline"]))
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {opts.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
