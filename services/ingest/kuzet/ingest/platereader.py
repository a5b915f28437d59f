"""Plates read through the inference service's ReadPlates (text detection and recognition on a
vehicle's crop: onnxruntime on one machine, Triton on Kubernetes)."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
import numpy as np
from opentelemetry import trace

from kuzet.common.errors import Unavailable
from kuzet.common.inference.client import InferenceClient
from kuzet.ingest.vehicles import PlateText

tracer = trace.get_tracer(__name__)


class InferencePlateReader:
    def __init__(self, channel: grpc.aio.Channel, *, max_lines: int = 4, timeout_s: float = 10.0) -> None:
        self._inference = InferenceClient(channel, timeout_s=timeout_s)
        # A plate is one of the few text lines on a vehicle; more are lettering.
        self.max_lines = max_lines

    async def read(self, crops: Sequence[np.ndarray]) -> list[list[PlateText]]:
        try:
            with tracer.start_as_current_span("ingest.read_plates", attributes={"kuzet.crops": len(crops)}):
                found = await self._inference.read_plates(list(crops), max_plates=self.max_lines)
        except grpc.aio.AioRpcError as exc:
            raise Unavailable(f"inference ReadPlates failed: {exc.code().name} {exc.details()}") from exc
        return [
            [PlateText(p.text, p.confidence, (p.box.x1, p.box.y1, p.box.x2, p.box.y2)) for p in image.plates]
            for image in found
        ]
