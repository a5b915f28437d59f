"""onnxruntime sessions inside the inference process: the default on one machine."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort

from kuzet.common.errors import Unavailable
from kuzet.inference.backends.base import Backend, BackendKind, ModelCounters, ModelState
from kuzet.inference.backends.batching import BatchingBackend
from kuzet.inference.catalog import Catalog, ModelIntegrityError, ModelSpec

if TYPE_CHECKING:
    from kuzet.inference.config import InferenceSettings

log = logging.getLogger(__name__)


def session_options(intra_op_threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    # One request at a time per session already fills the cores; inter-op parallelism only
    # adds contention on small CPUs.
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Some graphs declare a fixed output batch of 1 although they batch: silence that warning.
    options.log_severity_level = 3
    # Idle worker threads sleep instead of spinning: in a pod with a CPU limit (or on a shared
    # machine) spinning burns the quota that the next execution needs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


class _Counters:
    def __init__(self) -> None:
        self.inferences = 0
        self.executions = 0
        self.failures = 0
        self.compute_s = 0.0


class EmbeddedBackend:
    """Loads every catalogued model (sha256 verified) into an onnxruntime session at start."""

    name = "embedded"

    def __init__(
        self,
        models: Iterable[ModelSpec],
        *,
        intra_op_threads: int = 0,
        workers: int = 1,
        providers: list[str] | None = None,
    ) -> None:
        self._models = list(models)
        self._threads = intra_op_threads or default_threads()
        self._providers = providers or ["CPUExecutionProvider"]
        # Executions run off the event loop; onnxruntime releases the GIL while it computes.
        # One worker by default: a single session already uses every core via intra-op threads.
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ort")
        self._sessions: dict[str, ort.InferenceSession] = {}
        self._errors: dict[str, str] = {}
        self._counters: dict[str, _Counters] = {m.name: _Counters() for m in self._models}

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._pool, self.load)

    def load(self) -> None:
        """Verify and load every model (blocking); a model that fails is reported, not fatal."""
        for spec in self._models:
            try:
                spec.verify()
                self._sessions[spec.name] = ort.InferenceSession(
                    str(spec.path), session_options(self._threads), providers=self._providers
                )
                self._warm_up(spec, self._sessions[spec.name])
                log.info("loaded model %s %s (%s)", spec.name, spec.version, spec.file)
            except (ModelIntegrityError, ort.capi.onnxruntime_pybind11_state.Fail) as exc:
                self._errors[spec.name] = str(exc)
                log.error("model %s not loaded: %s", spec.name, exc)

    @staticmethod
    def _warm_up(spec: ModelSpec, session: ort.InferenceSession) -> None:
        # The first run allocates onnxruntime's memory arena (~1 s for SFace); pay it at start,
        # not on the first caller's request. Variable dimensions get a small typical size.
        feeds = {}
        for t in spec.inputs:
            dims = [d if d > 0 else 64 for d in t.dims]
            shape = [1, *dims] if spec.max_batch_size > 0 else dims
            feeds[t.name] = np.zeros(shape, dtype=t.numpy_dtype)
        session.run(spec.output_names, feeds)

    async def close(self) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._sessions.clear()

    def session(self, model: ModelSpec) -> ort.InferenceSession:
        session = self._sessions.get(model.name)
        if session is None:
            raise Unavailable(
                f"model {model.name} is not loaded: {self._errors.get(model.name, 'not started')}"
            )
        return session

    async def infer(
        self, model: ModelSpec, inputs: Mapping[str, np.ndarray], outputs: list[str]
    ) -> dict[str, np.ndarray]:
        session = self.session(model)
        counters = self._counters[model.name]
        batch = len(next(iter(inputs.values())))

        def run() -> list[np.ndarray]:
            start = time.perf_counter()
            try:
                result = session.run(outputs, dict(inputs))
            except Exception:
                counters.failures += 1
                raise
            counters.compute_s += time.perf_counter() - start
            counters.executions += 1
            counters.inferences += batch
            return result

        values = await asyncio.get_running_loop().run_in_executor(self._pool, run)
        return dict(zip(outputs, values, strict=True))

    async def model_state(self, model: ModelSpec) -> ModelState:
        if model.name in self._sessions:
            return ModelState(True)
        return ModelState(False, self._errors.get(model.name, "not loaded"))

    async def counters(self, model: ModelSpec) -> ModelCounters:
        c = self._counters.get(model.name, _Counters())
        mean = c.compute_s * 1000 / c.executions if c.executions else 0.0
        return ModelCounters(c.inferences, c.executions, c.failures, mean)


def _create(settings: InferenceSettings, catalog: Catalog) -> Backend:
    embedded = EmbeddedBackend(
        catalog,
        intra_op_threads=settings.intra_op_threads,
        workers=settings.embedded_workers,
        providers=[p.strip() for p in settings.providers.split(",") if p.strip()],
    )
    if settings.batch_delay_ms <= 0:
        return embedded
    return BatchingBackend(embedded, max_delay_s=settings.batch_delay_ms / 1000)


KIND = BackendKind("embedded", "onnxruntime in this process", _create)
