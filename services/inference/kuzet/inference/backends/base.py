"""What the engine needs from a backend, and the registry of backend kinds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from kuzet.common.plugins import Registry
from kuzet.inference.catalog import Catalog, ModelSpec

if TYPE_CHECKING:
    from kuzet.inference.config import InferenceSettings


@dataclass(frozen=True)
class ModelState:
    ready: bool
    # Why the model is not ready, for operators.
    detail: str = ""


@dataclass(frozen=True)
class ModelCounters:
    inference_count: int = 0
    execution_count: int = 0
    failure_count: int = 0
    mean_compute_ms: float = 0.0


class Backend(Protocol):
    """Runs tensors; knows nothing of images, boxes or faces."""

    name: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def infer(
        self, model: ModelSpec, inputs: Mapping[str, np.ndarray], outputs: list[str]
    ) -> dict[str, np.ndarray]:
        """One execution: the batch in ``inputs`` must not exceed model.batch_limit."""
        ...

    async def model_state(self, model: ModelSpec) -> ModelState: ...

    async def counters(self, model: ModelSpec) -> ModelCounters: ...


@dataclass(frozen=True)
class BackendKind:
    """One kind of backend, as KUZET_INFERENCE_BACKEND names it."""

    name: str
    summary: str
    # The backend the settings describe, not yet started.
    create: Callable[[InferenceSettings, Catalog], Backend]


# Registered by entry point (group kuzet.inference.backends), so a backend can live in another
# distribution: docs/development.md "Adding an inference backend".
BACKENDS: Registry[str, BackendKind] = Registry(
    "inference backend", "kuzet.inference.backends", key=lambda kind: kind.name
)
