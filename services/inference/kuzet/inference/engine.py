"""Domain inference over decoded images: pick the model, prepare tensors, run them in batches on
the backend, decode the outputs. Both backends go through exactly this code."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from opentelemetry import trace

from kuzet.common.errors import InvalidArgument, NotFound, Unavailable
from kuzet.common.inference.results import (
    Box,
    FaceEmbedding,
    ImageFaces,
    ImageObjects,
    ImagePlates,
    ImagePoses,
    ModelRef,
    ReadPlate,
)
from kuzet.inference.backends.base import Backend
from kuzet.inference.catalog import Catalog, ModelIntegrityError, ModelSpec
from kuzet.inference.imaging import encode_jpeg
from kuzet.inference.processing import (
    align,
    faces,
    objects,
    pose,
    quality,
    text_detection,
    text_recognition,
)
from kuzet.inference.processing.geometry import Resize

T = TypeVar("T")

tracer = trace.get_tracer("kuzet.inference")

# Template eye distance in a 112-px crop: the size of a face that arrives already aligned.
_TEMPLATE_EYE_PX = float(np.hypot(*(align.ARCFACE_TEMPLATE[1] - align.ARCFACE_TEMPLATE[0])))
# YuNet boxes are about twice as wide as the eye distance.
_EYE_PER_BOX_WIDTH = 0.45


@dataclass(frozen=True)
class FaceRequest:
    """One face to embed: an image, and the landmarks to align it (None: already aligned)."""

    image_index: int
    landmarks: np.ndarray | None = None
    box: Box | None = None


@dataclass(frozen=True)
class EngineOptions:
    face_max_side: int = faces.DEFAULT_MAX_SIDE
    pose_max_side: int = pose.DEFAULT_MAX_SIDE
    plate_side: int = text_detection.DEFAULT_SIDE
    quality: quality.QualityThresholds = field(default_factory=quality.QualityThresholds)


def _ref(spec: ModelSpec) -> ModelRef:
    return ModelRef(spec.name, spec.version)


def _size(image: np.ndarray) -> tuple[int, int]:
    return int(image.shape[1]), int(image.shape[0])


Size = tuple[int, int]


def _in_source(placement: Resize, image: np.ndarray, source: Size) -> Resize:
    """A placement measured on a reduced decode of the image, re-expressed against its source
    size, so results come back in source pixels."""
    w, h = _size(image)
    if (w, h) == source:
        return placement
    return Resize(
        placement.scale_x * w / source[0],
        placement.scale_y * h / source[1],
        placement.width,
        placement.height,
    )


def _plate(region: text_detection.TextRegion, reading: text_recognition.Reading) -> ReadPlate:
    corners = [(float(x), float(y)) for x, y in region.corners]
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    return ReadPlate(
        Box(min(xs), min(ys), max(xs), max(ys)), corners, reading.text, reading.confidence, region.score
    )


def _chunks(count: int, size: int) -> list[range]:
    return [range(i, min(i + size, count)) for i in range(0, count, size)]


def _check_score(min_score: float) -> None:
    if not 0.0 <= min_score <= 1.0 or not np.isfinite(min_score):
        raise InvalidArgument(f"min_score must be within [0, 1], got {min_score}")


class InferenceEngine:
    def __init__(self, catalog: Catalog, backend: Backend, options: EngineOptions | None = None) -> None:
        self.catalog = catalog
        self.backend = backend
        self.options = options or EngineOptions()
        # Recogniser name -> its CTC classes, read once.
        self._charsets: dict[str, tuple[str, ...]] = {}

    def resolve(self, task: str, name: str) -> ModelSpec:
        if not name:
            return self.catalog.default_for(task)
        spec = self.catalog.get(name)
        if spec is None:
            known = ", ".join(sorted(m.name for m in self.catalog if m.task == task))
            raise NotFound(f"unknown model {name!r} for {task}; known: {known}")
        if spec.task != task:
            raise InvalidArgument(f"model {name!r} does {spec.task}, not {task}")
        return spec

    async def _infer(
        self, spec: ModelSpec, feeds: dict[str, np.ndarray], outputs: list[str]
    ) -> dict[str, np.ndarray]:
        batch = len(next(iter(feeds.values())))
        with tracer.start_as_current_span(
            "inference.execute",
            attributes={"kuzet.model": spec.name, "kuzet.batch": batch, "kuzet.backend": self.backend.name},
        ):
            return await self.backend.infer(spec, feeds, outputs)

    async def _batched(
        self,
        spec: ModelSpec,
        count: int,
        run_chunk: Callable[[range], Awaitable[list[T]]],
    ) -> list[T]:
        # Chunks run concurrently: Triton spreads them over model instances, and the embedded
        # backend prepares the next chunk while the current one computes.
        parts = await asyncio.gather(*(run_chunk(c) for c in _chunks(count, spec.batch_limit)))
        return [item for part in parts for item in part]

    async def detect_objects(
        self,
        images: Sequence[np.ndarray],
        min_score: float = 0.0,
        classes: Collection[str] = (),
        model: str = "",
        sources: Sequence[Size] | None = None,
    ) -> tuple[ModelRef, list[ImageObjects]]:
        """``sources``: the full size of each image when it was decoded at reduced resolution."""
        src = list(sources) if sources is not None else [_size(im) for im in images]
        spec = self.resolve("object_detection", model)
        _check_score(min_score)
        threshold = min_score or objects.DEFAULT_MIN_SCORE
        wanted = set(classes) or set(objects.CLASS_NAMES)
        if unknown := wanted - set(objects.CLASS_NAMES):
            raise InvalidArgument(f"unsupported classes {sorted(unknown)}")

        async def run(chunk: range) -> list[ImageObjects]:
            feeds, placements = await asyncio.to_thread(objects.prepare, [images[i] for i in chunk])
            out = await self._infer(spec, feeds, [objects.OUTPUT_NAME])
            detections = out[objects.OUTPUT_NAME]
            return [
                ImageObjects(
                    objects.decode(
                        detections[j], _in_source(placements[j], images[i], src[i]), src[i], threshold, wanted
                    ),
                    *src[i],
                )
                for j, i in enumerate(chunk)
            ]

        return _ref(spec), await self._batched(spec, len(images), run)

    async def detect_faces(
        self,
        images: Sequence[np.ndarray],
        min_score: float = 0.0,
        max_faces: int = 0,
        model: str = "",
        sources: Sequence[Size] | None = None,
    ) -> tuple[ModelRef, list[ImageFaces]]:
        src = list(sources) if sources is not None else [_size(im) for im in images]
        spec = self.resolve("face_detection", model)
        _check_score(min_score)
        if max_faces < 0:
            raise InvalidArgument(f"max_faces must not be negative, got {max_faces}")
        threshold = min_score or faces.DEFAULT_MIN_SCORE

        async def run(chunk: range) -> list[ImageFaces]:
            feeds, placements = await asyncio.to_thread(
                faces.prepare, [images[i] for i in chunk], self.options.face_max_side
            )
            out = await self._infer(spec, feeds, faces.OUTPUT_NAMES)
            hw = feeds[faces.INPUT_NAME].shape[1:3]
            return [
                ImageFaces(
                    faces.decode(
                        out, j, hw, _in_source(placements[j], images[i], src[i]), src[i], threshold, max_faces
                    ),
                    *src[i],
                )
                for j, i in enumerate(chunk)
            ]

        return _ref(spec), await self._batched(spec, len(images), run)

    def _crop_and_quality(
        self, images: Sequence[np.ndarray], face: FaceRequest, where: str
    ) -> tuple[np.ndarray, quality.FaceQuality]:
        if not 0 <= face.image_index < len(images):
            raise InvalidArgument(f"{where}: image_index {face.image_index} is outside 0..{len(images) - 1}")
        image = images[face.image_index]
        if face.landmarks is None:
            crop = align.as_crop(image)
            scale = image.shape[1] / align.CROP_SIZE
            marks = align.ARCFACE_TEMPLATE * scale
            if face.box is not None and face.box.width > 0:
                marks = marks / max(_TEMPLATE_EYE_PX * scale, 1e-6) * (face.box.width * _EYE_PER_BOX_WIDTH)
            return crop, quality.assess(crop, marks, self.options.quality)
        marks = np.asarray(face.landmarks, np.float64)
        if marks.shape != (5, 2) or not np.isfinite(marks).all():
            raise InvalidArgument(f"{where}: landmarks must be 5 finite (x, y) points")
        crop = align.align(image, marks)
        sharp_crop = align.align(image, marks, replicate_border=True)
        return crop, quality.assess(sharp_crop, marks, self.options.quality)

    async def embed_faces(
        self,
        images: Sequence[np.ndarray],
        requests: Sequence[FaceRequest],
        model: str = "",
        return_crops: bool = False,
    ) -> tuple[ModelRef, list[FaceEmbedding]]:
        spec = self.resolve("face_embedding", model)
        ref = _ref(spec)
        if not requests:
            requests = [FaceRequest(i) for i in range(len(images))]

        def prepare(
            chunk: range,
        ) -> tuple[dict[str, np.ndarray], list[tuple[np.ndarray, quality.FaceQuality]]]:
            crops = [self._crop_and_quality(images, requests[i], f"faces[{i}]") for i in chunk]
            return align.prepare([c for c, _ in crops]), crops

        # Validate every face before any model work so a bad one fails the call cheaply.
        for i, face in enumerate(requests):
            if not 0 <= face.image_index < len(images):
                raise InvalidArgument(
                    f"faces[{i}]: image_index {face.image_index} is outside 0..{len(images) - 1}"
                )

        async def run(chunk: range) -> list[FaceEmbedding]:
            feeds, crops = await asyncio.to_thread(prepare, chunk)
            out = await self._infer(spec, feeds, [align.OUTPUT_NAME])
            vectors = align.normalise(out[align.OUTPUT_NAME].reshape(len(chunk), -1))
            return [
                FaceEmbedding(vectors[j], q, ref, encode_jpeg(crop) if return_crops else b"")
                for j, (crop, q) in enumerate(crops)
            ]

        return ref, await self._batched(spec, len(requests), run)

    async def estimate_poses(
        self,
        images: Sequence[np.ndarray],
        min_score: float = 0.0,
        model: str = "",
        sources: Sequence[Size] | None = None,
    ) -> tuple[ModelRef, list[ImagePoses]]:
        src = list(sources) if sources is not None else [_size(im) for im in images]
        spec = self.resolve("pose_estimation", model)
        _check_score(min_score)
        threshold = min_score or pose.DEFAULT_MIN_SCORE

        async def run(chunk: range) -> list[ImagePoses]:
            feeds, placements = await asyncio.to_thread(
                pose.prepare, [images[i] for i in chunk], self.options.pose_max_side
            )
            out = await self._infer(spec, feeds, [pose.OUTPUT_NAME])
            hw = feeds[pose.INPUT_NAME].shape[1:3]
            people = out[pose.OUTPUT_NAME].reshape(len(chunk), -1, 56)
            return [
                ImagePoses(
                    pose.decode(
                        people[j], hw, _in_source(placements[j], images[i], src[i]), src[i], threshold
                    ),
                    *src[i],
                )
                for j, i in enumerate(chunk)
            ]

        return _ref(spec), await self._batched(spec, len(images), run)

    async def read_plates(
        self, images: Sequence[np.ndarray], min_score: float = 0.0, max_plates: int = 0
    ) -> tuple[ModelRef, ModelRef, list[ImagePlates]]:
        """Text lines found (detector) and read (recogniser) in each full-resolution image."""
        detector = self.resolve("text_detection", "")
        recogniser = self.resolve("text_recognition", "")
        _check_score(min_score)
        if max_plates < 0:
            raise InvalidArgument(f"max_plates must not be negative, got {max_plates}")
        threshold = min_score or text_detection.DEFAULT_MIN_SCORE
        characters = await asyncio.to_thread(self._characters, recogniser)

        async def detect(chunk: range) -> list[list[text_detection.TextRegion]]:
            feeds, placements = await asyncio.to_thread(
                text_detection.prepare, [images[i] for i in chunk], self.options.plate_side
            )
            out = await self._infer(detector, feeds, [text_detection.OUTPUT_NAME])
            found = [
                text_detection.decode(
                    out[text_detection.OUTPUT_NAME][j], placements[j], _size(images[i]), threshold
                )
                for j, i in enumerate(chunk)
            ]
            # Best first, cut before reading: every region read is one more recogniser input.
            return [regions[:max_plates] if max_plates else regions for regions in found]

        per_image = await self._batched(detector, len(images), detect)
        regions = [(i, r) for i, found in enumerate(per_image) for r in found]

        async def read(chunk: range) -> list[text_recognition.Reading]:
            def prepare() -> dict[str, np.ndarray]:
                strips = [text_recognition.crop(images[regions[k][0]], regions[k][1].corners) for k in chunk]
                return text_recognition.prepare(strips)

            feeds = await asyncio.to_thread(prepare)
            out = await self._infer(recogniser, feeds, [text_recognition.OUTPUT_NAME])
            return [text_recognition.decode(p, characters) for p in out[text_recognition.OUTPUT_NAME]]

        readings = await self._batched(recogniser, len(regions), read) if regions else []
        results = [ImagePlates([], *_size(image)) for image in images]
        for (i, region), reading in zip(regions, readings, strict=True):
            if reading.text.strip():
                results[i].plates.append(_plate(region, reading))
        return _ref(detector), _ref(recogniser), results

    def _characters(self, recogniser: ModelSpec) -> tuple[str, ...]:
        # The dictionary is part of the recogniser's file: read from the verified local copy, which
        # the Triton backend needs as well (Triton returns only class probabilities).
        if recogniser.name not in self._charsets:
            try:
                recogniser.verify()
            except ModelIntegrityError as exc:
                raise Unavailable(str(exc)) from None
            self._charsets[recogniser.name] = text_recognition.charset(recogniser.path)
        return self._charsets[recogniser.name]

    def model(self, name: str) -> ModelSpec:
        spec = self.catalog.get(name)
        if spec is None:
            raise NotFound(f"unknown model {name!r}; known: {', '.join(sorted(self.catalog.models))}")
        return spec
