"""The models Kuzet ships: their files, provenance and tensor signatures (models/MANIFEST.json)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODELS_DIR = Path(__file__).resolve().parent / "models"

# Task names in the manifest, mapped to the default model for each.
TASKS = (
    "object_detection",
    "face_detection",
    "face_embedding",
    "pose_estimation",
    "text_detection",
    "text_recognition",
)


class ModelIntegrityError(RuntimeError):
    """A model file is missing or does not have its pinned SHA-256."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    # Triton data type name: FP32, INT32, UINT8.
    dtype: str
    # Dimensions without the batch dimension when the model batches (max_batch_size > 0),
    # the full shape otherwise; -1 is variable.
    dims: tuple[int, ...]

    @property
    def numpy_dtype(self) -> str:
        return {"FP32": "float32", "INT32": "int32", "UINT8": "uint8"}[self.dtype]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    version: str
    task: str
    file: str
    sha256: str
    size_bytes: int
    license: str
    source: str
    upstream: str
    derivation: str
    # 0: the graph has a fixed batch of 1 (Triton's convention); the engine loops.
    max_batch_size: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    models_dir: Path = MODELS_DIR
    # A file taken as shipped inside an installed distribution (pinned, e.g. in
    # requirements-no-deps.txt) instead of models/: ``file`` is then its path in that distribution.
    package: str = ""

    @property
    def path(self) -> Path:
        if not self.package:
            return self.models_dir / self.file
        # Located through the distribution's metadata, not importlib.resources: that would import
        # the package, whose own pipeline needs dependencies Kuzet does not install.
        try:
            located = importlib.metadata.distribution(self.package).locate_file(self.file)
        except importlib.metadata.PackageNotFoundError:
            raise ModelIntegrityError(
                f"model {self.name}: package {self.package} is not installed "
                "(services/inference/requirements-no-deps.txt)"
            ) from None
        return Path(str(located))

    @property
    def batch_limit(self) -> int:
        """Largest batch one execution takes."""
        return max(1, self.max_batch_size)

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.outputs]

    def verify(self) -> None:
        """Refuse a file whose bytes are not the ones recorded in the manifest."""
        if not self.path.is_file():
            raise ModelIntegrityError(f"model {self.name}: file {self.path} is missing")
        actual = file_sha256(self.path)
        if actual != self.sha256:
            raise ModelIntegrityError(
                f"model {self.name}: {self.path.name} has sha256 {actual}, manifest pins {self.sha256}"
            )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _tensors(raw: list[dict[str, Any]]) -> tuple[TensorSpec, ...]:
    return tuple(TensorSpec(t["name"], t["dtype"], tuple(int(d) for d in t["dims"])) for t in raw)


class Catalog:
    """Models by name, and the default model for each task (the first listed for it)."""

    def __init__(self, models: list[ModelSpec]) -> None:
        self.models = {m.name: m for m in models}
        self.defaults: dict[str, str] = {}
        for m in models:
            self.defaults.setdefault(m.task, m.name)

    def get(self, name: str) -> ModelSpec | None:
        return self.models.get(name)

    def default_for(self, task: str) -> ModelSpec:
        return self.models[self.defaults[task]]

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self.models.values())


def load_catalog(models_dir: Path = MODELS_DIR) -> Catalog:
    manifest = json.loads((models_dir / "MANIFEST.json").read_text())
    models = [
        ModelSpec(
            name=m["name"],
            version=m["version"],
            task=m["task"],
            file=m["file"],
            sha256=m["sha256"],
            size_bytes=int(m["size_bytes"]),
            license=m["license"],
            source=m["source"],
            upstream=m.get("upstream", ""),
            derivation=m.get("derivation", ""),
            max_batch_size=int(m["max_batch_size"]),
            inputs=_tensors(m["inputs"]),
            outputs=_tensors(m["outputs"]),
            models_dir=models_dir,
            package=m.get("package", ""),
        )
        for m in manifest["models"]
    ]
    for m in models:
        if m.task not in TASKS:
            raise ValueError(f"model {m.name}: unknown task {m.task!r}")
    return Catalog(models)
