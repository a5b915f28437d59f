"""The InferenceService servicer: validates requests, decodes images, calls the engine."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import grpc
import numpy as np

from kuzet.common.errors import InvalidArgument, ResourceExhausted
from kuzet.common.inference import convert
from kuzet.inference.backends.base import ModelCounters, ModelState
from kuzet.inference.catalog import ModelSpec
from kuzet.inference.engine import FaceRequest, InferenceEngine
from kuzet.inference.imaging import ImageLimits, decode_for_model, decode_image
from kuzet.inference.processing import objects
from kuzet.inference.v1 import inference_pb2 as pb
from kuzet.inference.v1 import inference_pb2_grpc as pb_grpc


class InferenceServicer(pb_grpc.InferenceServiceServicer):
    def __init__(self, engine: InferenceEngine, max_batch: int, limits: ImageLimits) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.limits = limits

    def _check_batch(self, count: int, what: str = "images") -> None:
        if count == 0:
            raise InvalidArgument(f"empty batch: send at least one of {what}")
        if count > self.max_batch:
            raise ResourceExhausted(f"{count} {what} in one request; the limit is {self.max_batch}")

    async def _decode(self, images: Sequence[pb.Image]) -> list[np.ndarray]:
        self._check_batch(len(images))

        def decode_all() -> list[np.ndarray]:
            return [decode_image(im, f"images[{i}]", self.limits) for i, im in enumerate(images)]

        return await asyncio.to_thread(decode_all)

    async def _decode_for(
        self, images: Sequence[pb.Image], min_side: int
    ) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
        """Images for a model that sees at most ``min_side`` pixels a side (large JPEGs decode
        at reduced scale), with their full sizes."""
        self._check_batch(len(images))

        def decode_all() -> list[tuple[np.ndarray, tuple[int, int]]]:
            return [
                decode_for_model(im, f"images[{i}]", self.limits, min_side) for i, im in enumerate(images)
            ]

        decoded = await asyncio.to_thread(decode_all)
        return [a for a, _ in decoded], [s for _, s in decoded]

    async def DetectObjects(
        self, request: pb.DetectObjectsRequest, context: grpc.aio.ServicerContext
    ) -> pb.DetectObjectsResponse:
        classes = []
        for c in request.classes:
            if c not in convert.ENUM_TO_CLASS:
                raise InvalidArgument(f"unsupported object class {c}")
            classes.append(convert.ENUM_TO_CLASS[c])
        self.engine.resolve("object_detection", request.model)
        images, sizes = await self._decode_for(request.images, objects.INPUT_SIZE)
        ref, found = await self.engine.detect_objects(
            images, request.min_score, classes, request.model, sizes
        )
        return pb.DetectObjectsResponse(
            results=[convert.objects_pb(o) for o in found], model=convert.model_pb(ref)
        )

    async def DetectFaces(
        self, request: pb.DetectFacesRequest, context: grpc.aio.ServicerContext
    ) -> pb.DetectFacesResponse:
        self.engine.resolve("face_detection", request.model)
        images, sizes = await self._decode_for(request.images, self.engine.options.face_max_side)
        ref, found = await self.engine.detect_faces(
            images, request.min_score, request.max_faces, request.model, sizes
        )
        return pb.DetectFacesResponse(
            results=[convert.faces_pb(f) for f in found], model=convert.model_pb(ref)
        )

    async def EmbedFaces(
        self, request: pb.EmbedFacesRequest, context: grpc.aio.ServicerContext
    ) -> pb.EmbedFacesResponse:
        self.engine.resolve("face_embedding", request.model)
        if request.faces:
            self._check_batch(len(request.faces), "faces")
        faces = []
        for i, f in enumerate(request.faces):
            if f.landmarks and len(f.landmarks) != 5:
                raise InvalidArgument(
                    f"faces[{i}]: need 5 landmarks (or none for an aligned crop), got {len(f.landmarks)}"
                )
            marks = np.array([[p.x, p.y] for p in f.landmarks], np.float64) if f.landmarks else None
            faces.append(FaceRequest(f.image_index, marks, convert.box(f.box) if f.HasField("box") else None))
        images = await self._decode(request.images)
        ref, embeddings = await self.engine.embed_faces(
            images, faces, request.model, request.return_aligned_crops
        )
        return pb.EmbedFacesResponse(
            embeddings=[convert.embedding_pb(e) for e in embeddings],
            model=convert.model_pb(ref),
            dimension=int(embeddings[0].vector.shape[0]) if embeddings else 0,
        )

    async def EstimatePoses(
        self, request: pb.EstimatePosesRequest, context: grpc.aio.ServicerContext
    ) -> pb.EstimatePosesResponse:
        self.engine.resolve("pose_estimation", request.model)
        images, sizes = await self._decode_for(request.images, self.engine.options.pose_max_side)
        ref, found = await self.engine.estimate_poses(images, request.min_score, request.model, sizes)
        return pb.EstimatePosesResponse(
            results=[convert.poses_pb(p) for p in found], model=convert.model_pb(ref)
        )

    async def ReadPlates(
        self, request: pb.ReadPlatesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReadPlatesResponse:
        # Full resolution: the recogniser reads the text from the source pixels.
        images = await self._decode(request.images)
        detector, recogniser, found = await self.engine.read_plates(
            images, request.min_score, request.max_plates
        )
        return pb.ReadPlatesResponse(
            results=[convert.plates_pb(p) for p in found],
            detector=convert.model_pb(detector),
            recogniser=convert.model_pb(recogniser),
        )

    def _model_info(self, spec: ModelSpec, state: ModelState) -> pb.ModelInfo:
        return pb.ModelInfo(
            name=spec.name,
            version=spec.version,
            task=convert.TASK_TO_ENUM[spec.task],
            state=pb.MODEL_STATE_READY if state.ready else pb.MODEL_STATE_UNAVAILABLE,
            backend=self.engine.backend.name,
            source=spec.source,
            license=spec.license,
            sha256=spec.sha256,
            max_batch_size=spec.batch_limit,
            detail=state.detail,
            is_default=self.engine.catalog.defaults.get(spec.task) == spec.name,
        )

    async def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListModelsResponse:
        infos = []
        for spec in self.engine.catalog:
            infos.append(self._model_info(spec, await self.engine.backend.model_state(spec)))
        return pb.ListModelsResponse(models=infos)

    async def GetModelStatus(
        self, request: pb.GetModelStatusRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetModelStatusResponse:
        if not request.name:
            raise InvalidArgument("name is required")
        spec = self.engine.model(request.name)
        state = await self.engine.backend.model_state(spec)
        # Statistics of a model that is not loaded do not exist (Triton refuses to give them).
        counters = await self.engine.backend.counters(spec) if state.ready else ModelCounters()
        stats = pb.ModelStatistics(
            inference_count=counters.inference_count,
            execution_count=counters.execution_count,
            failure_count=counters.failure_count,
            mean_compute_ms=counters.mean_compute_ms,
        )
        return pb.GetModelStatusResponse(model=self._model_info(spec, state), statistics=stats)
