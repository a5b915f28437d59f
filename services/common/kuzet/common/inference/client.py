"""Typed client of the inference service for the other Kuzet services.

    async with open_channel(endpoints.inference, audience="inference") as channel:
        client = InferenceClient(channel)
        found = await client.detect_faces([jpeg_bytes, bgr_frame])
        vectors = await client.embed_faces([jpeg_bytes], [FaceInput.from_detection(0, found[0].faces[0])])

Images are JPEG/PNG bytes or BGR uint8 arrays (H, W, 3) (sent raw, no re-encoding). Errors are
the service's gRPC statuses (grpc.aio.AioRpcError): INVALID_ARGUMENT, NOT_FOUND,
RESOURCE_EXHAUSTED, UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np

from kuzet.common.inference import convert
from kuzet.common.inference.results import (
    Box,
    DetectedFace,
    FaceEmbedding,
    ImageFaces,
    ImageObjects,
    ImagePlates,
    ImagePoses,
)
from kuzet.common.v1 import common_pb2
from kuzet.inference.v1 import inference_pb2 as pb
from kuzet.inference.v1 import inference_pb2_grpc as pb_grpc

ImageInput = bytes | np.ndarray


@dataclass(frozen=True)
class FaceInput:
    """A face to embed: an image index and its five landmarks (None: the image is an aligned crop)."""

    image_index: int
    landmarks: Sequence[tuple[float, float]] | None = None
    box: Box | None = None

    @classmethod
    def from_detection(cls, image_index: int, face: DetectedFace) -> FaceInput:
        return cls(image_index, face.landmarks, face.box)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    task: str
    ready: bool
    backend: str
    license: str
    sha256: str
    max_batch_size: int
    is_default: bool
    detail: str


def _fill(target: pb.Image, image: ImageInput) -> None:
    # Filled in place: building sub-messages and assigning them copies the pixels each time
    # (megabytes per frame).
    if isinstance(image, bytes | bytearray | memoryview):
        target.encoded = bytes(image)
        return
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"raw images must be uint8 BGR (H, W, 3), got {array.dtype} {array.shape}")
    raw = target.raw
    raw.width, raw.height, raw.format = array.shape[1], array.shape[0], pb.PIXEL_FORMAT_BGR24
    raw.data = np.ascontiguousarray(array).tobytes()


def image_pb(image: ImageInput) -> pb.Image:
    message = pb.Image()
    _fill(message, image)
    return message


def add_images(field: Any, images: Sequence[ImageInput]) -> None:
    """Append images to a request's repeated ``images`` field, in place."""
    for image in images:
        _fill(field.add(), image)


async def _add_images(field: Any, images: Sequence[ImageInput]) -> None:
    if any(not isinstance(image, bytes | bytearray | memoryview) for image in images):
        # Copying raw frames into the message takes milliseconds (a 960-px frame is 1.5 MB, copied
        # twice): off the event loop, which may be serving other cameras meanwhile.
        await asyncio.to_thread(add_images, field, images)
    else:
        add_images(field, images)


_TASKS = {v: k for k, v in convert.TASK_TO_ENUM.items()}


def _info(m: pb.ModelInfo) -> ModelInfo:
    return ModelInfo(
        name=m.name,
        version=m.version,
        task=_TASKS.get(m.task, "unspecified"),
        ready=m.state == pb.MODEL_STATE_READY,
        backend=m.backend,
        license=m.license,
        sha256=m.sha256,
        max_batch_size=m.max_batch_size,
        is_default=m.is_default,
        detail=m.detail,
    )


class InferenceClient:
    def __init__(self, channel: grpc.aio.Channel, *, timeout_s: float = 30.0) -> None:
        self.stub = pb_grpc.InferenceServiceStub(channel)
        self.timeout_s = timeout_s

    async def detect_objects(
        self,
        images: Sequence[ImageInput],
        *,
        min_score: float = 0.0,
        classes: Sequence[str] = (),
        model: str = "",
    ) -> list[ImageObjects]:
        request = pb.DetectObjectsRequest(
            min_score=min_score, classes=[convert.CLASS_TO_ENUM[c] for c in classes], model=model
        )
        await _add_images(request.images, images)
        response = await self.stub.DetectObjects(request, timeout=self.timeout_s)
        return [convert.objects(r) for r in response.results]

    async def detect_faces(
        self, images: Sequence[ImageInput], *, min_score: float = 0.0, max_faces: int = 0, model: str = ""
    ) -> list[ImageFaces]:
        request = pb.DetectFacesRequest(min_score=min_score, max_faces=max_faces, model=model)
        await _add_images(request.images, images)
        response = await self.stub.DetectFaces(request, timeout=self.timeout_s)
        return [convert.faces(r) for r in response.results]

    async def embed_faces(
        self,
        images: Sequence[ImageInput],
        faces: Sequence[FaceInput] = (),
        *,
        model: str = "",
        return_aligned_crops: bool = False,
    ) -> list[FaceEmbedding]:
        """One embedding per face; with no faces, every image is an aligned 112x112 crop."""
        request = pb.EmbedFacesRequest(
            faces=[
                pb.FaceToEmbed(
                    image_index=f.image_index,
                    landmarks=[common_pb2.Point(x=x, y=y) for x, y in (f.landmarks or ())],
                    box=convert.box_pb(f.box) if f.box else None,
                )
                for f in faces
            ],
            model=model,
            return_aligned_crops=return_aligned_crops,
        )
        await _add_images(request.images, images)
        response = await self.stub.EmbedFaces(request, timeout=self.timeout_s)
        return [convert.embedding(e) for e in response.embeddings]

    async def estimate_poses(
        self, images: Sequence[ImageInput], *, min_score: float = 0.0, model: str = ""
    ) -> list[ImagePoses]:
        request = pb.EstimatePosesRequest(min_score=min_score, model=model)
        await _add_images(request.images, images)
        response = await self.stub.EstimatePoses(request, timeout=self.timeout_s)
        return [convert.poses(r) for r in response.results]

    async def read_plates(
        self, images: Sequence[ImageInput], *, min_score: float = 0.0, max_plates: int = 0
    ) -> list[ImagePlates]:
        """Text lines found and read in each image (e.g. a vehicle's crop), best first; the
        caller normalises the text to a plate format."""
        request = pb.ReadPlatesRequest(min_score=min_score, max_plates=max_plates)
        await _add_images(request.images, images)
        response = await self.stub.ReadPlates(request, timeout=self.timeout_s)
        return [convert.plates(r) for r in response.results]

    async def list_models(self) -> list[ModelInfo]:
        response = await self.stub.ListModels(pb.ListModelsRequest(), timeout=self.timeout_s)
        return [_info(m) for m in response.models]

    async def model_status(self, name: str) -> tuple[ModelInfo, pb.ModelStatistics]:
        response = await self.stub.GetModelStatus(pb.GetModelStatusRequest(name=name), timeout=self.timeout_s)
        return _info(response.model), response.statistics
