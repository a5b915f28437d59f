"""Frames from every camera of this process go to inference in batches.

Cameras submit a frame and await its detections; a single collector sends up to ``max_batch``
frames per DetectObjects call, waiting at most ``max_wait_s`` for a batch to fill, so that
many quiet cameras do not each pay a round trip. Frames travel as raw BGR pixels (no JPEG
re-encode) downscaled to ``max_side``: the detector's input is 512 px, so sending 1080p would
only move 6 MB per frame for nothing. Boxes are scaled back to source pixels.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import grpc
import numpy as np
from opentelemetry import context as otel_context
from opentelemetry import trace

from kuzet.common.errors import Unavailable
from kuzet.inference.v1 import inference_pb2, inference_pb2_grpc
from kuzet.ingest.tracking import Detection

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


def raw_image(image: np.ndarray, max_side: int) -> tuple[inference_pb2.Image, float]:
    """The frame as a RawImage no larger than max_side, and the factor back to source pixels."""
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w)) if max_side else 1.0
    if scale < 1.0:
        image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    h2, w2 = image.shape[:2]
    raw = inference_pb2.RawImage(
        width=w2,
        height=h2,
        format=inference_pb2.PIXEL_FORMAT_BGR24,
        data=np.ascontiguousarray(image).tobytes(),
    )
    return inference_pb2.Image(raw=raw), (w / w2)


@dataclass
class _Pending:
    image: inference_pb2.Image
    back: float
    future: asyncio.Future[list[Detection]]
    # The frame's trace: the batch call joins the first frame's trace and links the others.
    context: otel_context.Context


class BatchDetector:
    """Batches person detection over the inference service's DetectObjects."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        max_batch: int = 8,
        max_wait_s: float = 0.02,
        max_side: int = 960,
        min_score: float = 0.35,
        timeout_s: float = 10.0,
    ) -> None:
        self._stub: Any = inference_pb2_grpc.InferenceServiceStub(channel)
        self.max_batch, self.max_wait_s, self.max_side = max_batch, max_wait_s, max_side
        self.min_score, self.timeout_s = min_score, timeout_s
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.frames = 0
        self.failures = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._collect(), name="ingest-batcher")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def detect(self, image: np.ndarray) -> list[Detection]:
        """People in one BGR frame (source pixels); raises Unavailable when inference is down."""
        self.start()
        img, back = await asyncio.to_thread(raw_image, image, self.max_side)
        fut: asyncio.Future[list[Detection]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(img, back, fut, otel_context.get_current()))
        return await fut

    async def _collect(self) -> None:
        while True:
            batch = [await self._queue.get()]
            deadline = asyncio.get_running_loop().time() + self.max_wait_s
            while len(batch) < self.max_batch:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            # Sent concurrently with the next batch's collection: inference batches across callers too.
            task = asyncio.create_task(self._send(batch))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _send(self, batch: Sequence[_Pending]) -> None:
        request = inference_pb2.DetectObjectsRequest(
            images=[p.image for p in batch],
            min_score=self.min_score,
            classes=[inference_pb2.OBJECT_CLASS_PERSON],
        )
        others = [trace.get_current_span(p.context).get_span_context() for p in batch[1:]]
        try:
            with tracer.start_as_current_span(
                "ingest.detect_batch",
                context=batch[0].context,
                links=[trace.Link(c) for c in others if c.is_valid],
                attributes={"kuzet.batch_size": len(batch)},
            ):
                response = await self._stub.DetectObjects(request, timeout=self.timeout_s)
        except grpc.aio.AioRpcError as exc:
            self.failures += 1
            err = Unavailable(f"inference DetectObjects failed: {exc.code().name} {exc.details()}")
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(err)
            return
        self.batches += 1
        self.frames += len(batch)
        for p, result in zip(batch, response.results, strict=False):
            dets = [
                Detection(
                    (o.box.x1 * p.back, o.box.y1 * p.back, o.box.x2 * p.back, o.box.y2 * p.back), o.score
                )
                for o in result.objects
                if o.object_class == inference_pb2.OBJECT_CLASS_PERSON
            ]
            if not p.future.done():
                p.future.set_result(dets)
