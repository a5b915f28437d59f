"""Generate a Triton model repository from the shipped models.

    kuzet-triton-repo --out infra/models                 # production: ONNX Runtime backend, GPU
    kuzet-triton-repo --out /tmp/repo --variant ci --link  # python backend running the same ONNX on CPU

Each model becomes ``<name>/config.pbtxt`` + ``<name>/1/model.onnx`` (and ``1/model.py`` for the
CI variant). Model names in Triton are the catalog names, so the service addresses both the same
way.
"""

from __future__ import annotations

import argparse
import os
import shutil
import site
from collections.abc import Iterable
from pathlib import Path

from kuzet.inference.catalog import ModelSpec, TensorSpec, load_catalog

PYTHON_MODEL = Path(__file__).resolve().parent / "triton_python_model.py"

# Grouping requests costs at most this much latency and buys GPU batch efficiency.
MAX_QUEUE_DELAY_US = 2000
# Fixed-shape models are worth compiling with TensorRT (fp16) on the GPU.
TENSORRT_MODELS = {"sface", "centernet"}


def _tensor(t: TensorSpec) -> str:
    dims = ", ".join(str(d) for d in t.dims)
    return f'  {{\n    name: "{t.name}"\n    data_type: TYPE_{t.dtype}\n    dims: [ {dims} ]\n  }}'


def _tensors(kind: str, tensors: Iterable[TensorSpec]) -> str:
    return f"{kind} [\n" + ",\n".join(_tensor(t) for t in tensors) + "\n]\n"


def _preferred_batches(limit: int) -> list[int]:
    return [b for b in (4, 8, 16, 32) if b <= limit]


def config_pbtxt(spec: ModelSpec, variant: str, site_packages: str = "") -> str:
    lines = [
        f"# {spec.name} {spec.version}: {spec.task}; weights {spec.source} ({spec.license}), sha256 {spec.sha256}",
        f'name: "{spec.name}"',
    ]
    if variant == "production":
        lines.append('platform: "onnxruntime_onnx"')
    else:
        lines.append('backend: "python"')
    lines.append(f"max_batch_size: {spec.max_batch_size}")
    text = "\n".join(lines) + "\n" + _tensors("input", spec.inputs) + _tensors("output", spec.outputs)
    if spec.max_batch_size > 0:
        preferred = ", ".join(str(b) for b in _preferred_batches(spec.max_batch_size))
        text += (
            "dynamic_batching {\n"
            f"  preferred_batch_size: [ {preferred} ]\n"
            f"  max_queue_delay_microseconds: {MAX_QUEUE_DELAY_US}\n"
            "}\n"
        )
    if variant == "production":
        # Fixed-batch graphs get a second instance so two requests can run at once.
        count = 1 if spec.max_batch_size > 0 else 2
        text += f"instance_group [\n  {{\n    count: {count}\n    kind: KIND_GPU\n  }}\n]\n"
        if spec.name in TENSORRT_MODELS:
            text += (
                "optimization {\n  execution_accelerators {\n    gpu_execution_accelerator: [\n"
                '      {\n        name: "tensorrt"\n'
                '        parameters { key: "precision_mode" value: "FP16" }\n'
                '        parameters { key: "max_workspace_size_bytes" value: "1073741824" }\n'
                "      }\n    ]\n  }\n}\n"
            )
    else:
        text += "instance_group [\n  {\n    count: 1\n    kind: KIND_CPU\n  }\n]\n"
        text += (
            "parameters [\n"
            f'  {{\n    key: "site_packages"\n    value: {{ string_value: "{site_packages}" }}\n  }},\n'
            '  {\n    key: "intra_op_threads"\n    value: { string_value: "1" }\n  }\n'
            "]\n"
        )
    text += "version_policy: { latest: { num_versions: 1 } }\n"
    return text


def generate(
    out: Path,
    variant: str = "production",
    *,
    link: bool = False,
    models: Iterable[str] | None = None,
    site_packages: str | None = None,
) -> list[Path]:
    """Write the repository; returns the config files written."""
    catalog = load_catalog()
    wanted = set(models) if models is not None else set(catalog.models)
    if unknown := wanted - set(catalog.models):
        raise SystemExit(f"unknown models: {', '.join(sorted(unknown))}")
    packages = site_packages if site_packages is not None else os.pathsep.join(site.getsitepackages())
    written = []
    for spec in catalog:
        if spec.name not in wanted:
            continue
        spec.verify()
        model_dir = out / spec.name
        version_dir = model_dir / "1"
        version_dir.mkdir(parents=True, exist_ok=True)
        config = model_dir / "config.pbtxt"
        config.write_text(config_pbtxt(spec, variant, packages))
        written.append(config)
        target = version_dir / "model.onnx"
        if target.exists() or target.is_symlink():
            target.unlink()
        if link:
            target.symlink_to(spec.path)
        else:
            shutil.copyfile(spec.path, target)
        if variant == "ci":
            shutil.copyfile(PYTHON_MODEL, version_dir / "model.py")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="model repository directory")
    parser.add_argument("--variant", choices=["production", "ci"], default="production")
    parser.add_argument("--link", action="store_true", help="symlink the ONNX files instead of copying")
    parser.add_argument("--model", action="append", help="only this model (repeatable)")
    opts = parser.parse_args(argv)
    for path in generate(opts.out, opts.variant, link=opts.link, models=opts.model):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
