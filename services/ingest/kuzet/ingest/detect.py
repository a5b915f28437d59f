"""Object detection (people, and vehicles on traffic cameras) for the cameras of this process: a fair, bounded share of the inference service.

A camera's frame waits for a *turn* before it is sent: at most ``concurrency`` DetectObjects calls
are in flight from this process, and turns go first to the cameras due for their minimum analysed
rate, then to cameras with motion in a rule zone, otherwise in the order they asked (turns.py;
each camera asks for one at a time, so without priorities this is round robin). The frame is chosen when the turn comes, not
when the camera asked (``detect`` takes a callable): a camera that waited sends its newest frame.
Under overload frames therefore never queue behind the detector; each camera's analysed rate
drops instead, and what is analysed is at most one sampling period plus one inference old.

One frame per call: the detector may take one image per execution (CenterNet does), and a call
with 8 frames would then make every frame wait for all 8 executions. Concurrent one-frame calls
let the inference service batch where the model can (its batching backend, Triton's dynamic
batching) without holding any frame back where it cannot.

Frames travel as raw BGR pixels (no JPEG re-encode) downscaled to ``max_side``: the detector's
input is 512 px, so sending 1080p would only move 6 MB per frame for nothing. Boxes are scaled
back to source pixels.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import cv2
import grpc
import numpy as np
from opentelemetry import trace

from kuzet.common.errors import Unavailable
from kuzet.common.inference.client import InferenceClient
from kuzet.ingest.tracking import Detection
from kuzet.ingest.turns import Need, Turns

tracer = trace.get_tracer(__name__)


def downscale(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """The frame no larger than max_side, and the factor back to source pixels."""
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w)) if max_side else 1.0
    if scale < 1.0:
        image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return image, w / image.shape[1]


PERSON = ("person",)


class ObjectDetector:
    """Objects of the asked classes in camera frames through the inference service's
    DetectObjects, a turn at a time."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        concurrency: int = 1,
        max_side: int = 960,
        min_score: float = 0.35,
        timeout_s: float = 10.0,
    ) -> None:
        self._inference = InferenceClient(channel, timeout_s=timeout_s)
        self.max_side, self.min_score = max_side, min_score
        self._turns = Turns(concurrency)

    async def detect(
        self, pick: Callable[[], np.ndarray], need: Need | None = None, classes: Sequence[str] = PERSON
    ) -> list[Detection]:
        """Objects of ``classes`` (source pixels) in the BGR frame ``pick`` returns once this
        caller's turn has come (called on a worker thread); raises Unavailable when inference is
        down."""
        await self._turns.acquire(need)
        try:
            img, back = await asyncio.to_thread(lambda: downscale(pick(), self.max_side))
            try:
                with tracer.start_as_current_span("ingest.detect"):
                    found = await self._inference.detect_objects(
                        [img], min_score=self.min_score, classes=list(classes)
                    )
            except grpc.aio.AioRpcError as exc:
                raise Unavailable(
                    f"inference DetectObjects failed: {exc.code().name} {exc.details()}"
                ) from exc
        finally:
            self._turns.release()
        return [
            Detection(
                (o.box.x1 * back, o.box.y1 * back, o.box.x2 * back, o.box.y2 * back), o.score, o.class_name
            )
            for o in found[0].objects
            if o.class_name in classes
        ]
