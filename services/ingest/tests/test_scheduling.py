"""Latency under overload: cameras take turns at the detector and send their newest frame."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from kuzet.common.objectstore import LocalObjectStore
from kuzet.common.tls import bind, secure_channel, server_credentials
from kuzet.common.v1 import common_pb2
from kuzet.inference.v1 import inference_pb2, inference_pb2_grpc
from kuzet.ingest.cameras import to_config
from kuzet.ingest.detect import PERSON, ObjectDetector
from kuzet.ingest.pipeline import CameraPipeline, PipelineOptions
from kuzet.ingest.source import Frame
from kuzet.ingest.tracking import Detection
from kuzet.ingest.turns import Need
from kuzet.ingest.v1 import ingest_pb2 as pb

from .conftest import ListSink


class SlowInference(inference_pb2_grpc.InferenceServiceServicer):
    """Takes 50 ms per call and finds one person (in the pixels it was sent); counts overlap."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0

    async def DetectObjects(
        self, request: inference_pb2.DetectObjectsRequest, context: Any
    ) -> inference_pb2.DetectObjectsResponse:
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.05)
        self.running -= 1
        person = inference_pb2.DetectedObject(
            object_class=inference_pb2.OBJECT_CLASS_PERSON,
            score=0.5,
            box=common_pb2.Box(x1=10, y1=20, x2=30, y2=40),
        )
        return inference_pb2.DetectObjectsResponse(
            results=[inference_pb2.ImageObjects(objects=[person]) for _ in request.images]
        )


@pytest.fixture
async def slow_inference() -> AsyncIterator[tuple[SlowInference, grpc.aio.Channel]]:
    servicer = SlowInference()
    server = grpc.aio.server()
    inference_pb2_grpc.add_InferenceServiceServicer_to_server(servicer, server)
    port = bind(server, "127.0.0.1:0", server_credentials())
    await server.start()
    channel = secure_channel(f"127.0.0.1:{port}")
    yield servicer, channel
    await channel.close()
    await server.stop(0)


async def test_turns_bound_the_calls_and_go_in_order(
    slow_inference: tuple[SlowInference, grpc.aio.Channel],
) -> None:
    servicer, channel = slow_inference
    detector = ObjectDetector(channel, concurrency=2, max_side=960)
    picked: list[int] = []

    def frame_of(camera: int) -> Callable[[], np.ndarray]:
        def pick() -> np.ndarray:
            picked.append(camera)
            return np.zeros((1080, 1920, 3), np.uint8)  # sent at 960 px: boxes come back x2

        return pick

    results = []
    for camera in range(6):
        results.append(asyncio.create_task(detector.detect(frame_of(camera))))
        await asyncio.sleep(0.001)  # the cameras ask in this order
    found = await asyncio.gather(*results)
    assert servicer.most == 2
    assert picked == list(range(6))
    assert found[0] == [Detection((20.0, 40.0, 60.0, 80.0), 0.5)]


class OverloadedDetector:
    """A detector shared with many other cameras: each frame waits a second for its turn."""

    def __init__(self, taken: list[Frame]) -> None:
        self.taken = taken
        self.ages: list[float] = []

    async def detect(
        self, pick: Callable[[], np.ndarray], need: Need | None = None, classes: Sequence[str] = PERSON
    ) -> list[Detection]:
        await asyncio.sleep(1.0)
        await asyncio.to_thread(pick)
        self.ages.append(time.time() - self.taken[-1].time)
        return []


async def test_a_camera_waiting_for_the_detector_sends_its_newest_frame(
    tmp_path: Path, walk_mp4: Path
) -> None:
    camera = pb.Camera(
        id="busy",
        site_id="north",
        name="busy",
        url=walk_mp4.as_uri(),
        analytic_fps=4,
        enabled=True,
        width=640,
        height=360,
        rules=[pb.Rule(id="down", type=pb.RULE_TYPE_PERSON_DOWN, dwell_seconds=2.0)],
    )
    taken: list[Frame] = []
    detector = OverloadedDetector(taken)
    pipeline = CameraPipeline(
        to_config(camera, "", ""),
        detector=detector,
        sink=ListSink(),
        store=LocalObjectStore(tmp_path / "objects"),
        options=PipelineOptions(motion_gate=False),
    )
    get = pipeline.source.queue.get

    def spy() -> Frame | None:
        frame = get()
        if frame is not None:
            taken.append(frame)
        return frame

    pipeline.source.queue.get = spy  # type: ignore[method-assign]
    pipeline.start()
    await asyncio.sleep(4.5)
    await pipeline.stop()
    # Waiting a second for each turn, yet what is analysed is at most one sampling period
    # (0.25 s) old when the detector takes it, not the frame that was current a second ago.
    assert len(detector.ages) >= 3
    assert max(detector.ages) < 0.6, detector.ages
    health = pipeline.health()
    assert health.frames_inferred == len(detector.ages)
    assert health.frames_dropped >= 8 and pipeline.stats.frames_superseded >= 2
