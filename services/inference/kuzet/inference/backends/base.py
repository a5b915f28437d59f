"""What the engine needs from a backend."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from kuzet.inference.catalog import ModelSpec


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
