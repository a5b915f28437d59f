"""Batching across callers for the embedded backend (Triton does the same server-side).

Concurrent requests for a model that batches (ingest shards, identity) are merged into one
execution when their tensors differ only in the batch dimension: a batch of 8 faces costs far
less than 8 executions of one. A request waits at most ``max_delay_s`` for company, and longer
only while the model is busy with the previous batch anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from kuzet.inference.backends.base import Backend, ModelCounters, ModelState
from kuzet.inference.catalog import ModelSpec

log = logging.getLogger(__name__)

# Requests merge only when model, outputs, and each input's non-batch shape and dtype are equal.
_Key = tuple[str, tuple[str, ...], tuple[tuple[str, tuple[int, ...], str], ...]]


@dataclass
class _Pending:
    inputs: Mapping[str, np.ndarray]
    size: int
    future: asyncio.Future[dict[str, np.ndarray]] = field(repr=False)


class BatchingBackend:
    def __init__(self, inner: Backend, max_delay_s: float = 0.002) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_delay_s = max_delay_s
        self._queues: dict[_Key, list[_Pending]] = {}
        self._drains: dict[_Key, asyncio.Task[None]] = {}

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        for task in self._drains.values():
            task.cancel()
        await self.inner.close()

    async def model_state(self, model: ModelSpec) -> ModelState:
        return await self.inner.model_state(model)

    async def counters(self, model: ModelSpec) -> ModelCounters:
        return await self.inner.counters(model)

    async def infer(
        self, model: ModelSpec, inputs: Mapping[str, np.ndarray], outputs: list[str]
    ) -> dict[str, np.ndarray]:
        size = len(next(iter(inputs.values())))
        if model.max_batch_size <= 0 or size >= model.batch_limit:
            return await self.inner.infer(model, inputs, outputs)
        key: _Key = (
            model.name,
            tuple(outputs),
            tuple((n, tuple(a.shape[1:]), str(a.dtype)) for n, a in sorted(inputs.items())),
        )
        future: asyncio.Future[dict[str, np.ndarray]] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(key, []).append(_Pending(inputs, size, future))
        if key not in self._drains or self._drains[key].done():
            self._drains[key] = asyncio.create_task(self._drain(key, model, outputs))
        return await future

    async def _drain(self, key: _Key, model: ModelSpec, outputs: list[str]) -> None:
        queue = self._queues[key]
        while queue:
            if sum(p.size for p in queue) < model.batch_limit:
                await asyncio.sleep(self.max_delay_s)
            batch: list[_Pending] = []
            total = 0
            while queue and total + queue[0].size <= model.batch_limit:
                item = queue.pop(0)
                if not item.future.done():  # a cancelled caller needs no result
                    batch.append(item)
                    total += item.size
            if batch:
                await self._run(model, outputs, batch)
        self._queues.pop(key, None)

    async def _run(self, model: ModelSpec, outputs: list[str], batch: list[_Pending]) -> None:
        names = list(batch[0].inputs)
        merged = {
            n: np.concatenate([p.inputs[n] for p in batch]) if len(batch) > 1 else batch[0].inputs[n]
            for n in names
        }
        try:
            result = await self.inner.infer(model, merged, outputs)
        except Exception as exc:
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(exc)
            return
        start = 0
        for p in batch:
            part = {n: v[start : start + p.size] for n, v in result.items()}
            start += p.size
            if not p.future.done():
                p.future.set_result(part)
