"""Concurrent requests from different callers share one onnxruntime execution."""

from __future__ import annotations

import asyncio

import numpy as np

from kuzet.inference.backends.batching import BatchingBackend
from kuzet.inference.backends.embedded import EmbeddedBackend
from kuzet.inference.catalog import Catalog
from kuzet.inference.processing import align


async def test_concurrent_requests_are_merged_and_results_go_to_their_callers(
    embedded: EmbeddedBackend, catalog: Catalog
) -> None:
    spec = catalog.models["sface"]
    rng = np.random.default_rng(7)
    crops = [rng.integers(0, 255, (112, 112, 3), dtype=np.uint8) for _ in range(6)]
    feeds = [align.prepare([c]) for c in crops]
    alone = [(await embedded.infer(spec, f, [align.OUTPUT_NAME]))[align.OUTPUT_NAME] for f in feeds]

    batching = BatchingBackend(embedded, max_delay_s=0.05)
    before = (await embedded.counters(spec)).execution_count
    together = await asyncio.gather(*(batching.infer(spec, f, [align.OUTPUT_NAME]) for f in feeds))
    executions = (await embedded.counters(spec)).execution_count - before
    assert executions < len(feeds)
    for single, merged in zip(alone, together, strict=True):
        assert merged[align.OUTPUT_NAME].shape == (1, 128)
        np.testing.assert_allclose(merged[align.OUTPUT_NAME], single, rtol=1e-4, atol=1e-4)


async def test_a_failed_execution_fails_every_caller_in_it(
    embedded: EmbeddedBackend, catalog: Catalog
) -> None:
    spec = catalog.models["sface"]
    batching = BatchingBackend(embedded, max_delay_s=0.01)
    wrong = {align.INPUT_NAME: np.zeros((1, 3, 50, 50), np.float32)}  # not 112x112
    results = await asyncio.gather(
        *(batching.infer(spec, wrong, [align.OUTPUT_NAME]) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, Exception) for r in results)
    ok = await batching.infer(spec, align.prepare([np.zeros((112, 112, 3), np.uint8)]), [align.OUTPUT_NAME])
    assert ok[align.OUTPUT_NAME].shape == (1, 128)
