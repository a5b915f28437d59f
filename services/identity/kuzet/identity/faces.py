"""Faces through the inference service: detect, embed, and hold every face to the quality bar.

Identity never touches tensors; it asks the inference service for faces and embeddings and
decides here whether a face is good enough to enrol or to search with. A face below the bar is
refused with the measured value and the bar, never enrolled silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import grpc
import numpy as np
import numpy.typing as npt

from kuzet.common.errors import InvalidArgument, Unavailable
from kuzet.common.inference.client import FaceInput, InferenceClient
from kuzet.common.inference.results import Box, FaceEmbedding
from kuzet.identity.v1 import identity_pb2 as pb

if TYPE_CHECKING:
    from kuzet.identity.config import IdentitySettings


@dataclass(frozen=True)
class QualityBar:
    min_inter_eye_px: float = 20.0
    min_sharpness: float = 60.0
    max_yaw: float = 0.6
    min_face_score: float = 0.75
    ambiguous_face_ratio: float = 0.5

    @classmethod
    def of(cls, settings: IdentitySettings) -> QualityBar:
        """The bar the service enrols with, as configured."""
        return cls(
            min_inter_eye_px=settings.min_inter_eye_px,
            min_sharpness=settings.min_sharpness,
            max_yaw=settings.max_yaw,
            min_face_score=settings.min_face_score,
            ambiguous_face_ratio=settings.ambiguous_face_ratio,
        )


@dataclass(frozen=True)
class Face:
    """An accepted face: its embedding and where it was found."""

    vector: npt.NDArray[np.float32]
    model: str
    box: Box
    aligned_jpeg: bytes


@dataclass(frozen=True)
class Refusal:
    reason: int  # pb.RefusalReason
    detail: str


class FaceSource(Protocol):
    """Where faces come from (the inference service in production and in tests)."""

    async def face(self, data: bytes, *, crop: bool, strict: bool) -> Face | Refusal: ...

    async def current_model(self) -> str: ...


def model_name(name: str, version: str) -> str:
    return f"{name}@{version}"


class InferenceFaces:
    """FaceSource backed by the inference service over gRPC."""

    def __init__(self, client: InferenceClient, bar: QualityBar) -> None:
        self.client = client
        self.bar = bar

    async def current_model(self) -> str:
        try:
            models = await self.client.list_models()
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc) from None
        for m in models:
            if m.task == "face_embedding" and m.is_default:
                return model_name(m.name, m.version)
        raise Unavailable("the inference service offers no default face embedding model")

    async def face(self, data: bytes, *, crop: bool, strict: bool) -> Face | Refusal:
        """The face in ``data``. ``strict`` (enrolment) refuses photos with several similar faces;
        otherwise the largest face is used (a probe photo of a scene)."""
        if not data:
            return Refusal(pb.REFUSAL_REASON_UNREADABLE, "no image bytes")
        try:
            found = (await self.client.detect_faces([data], min_score=self.bar.min_face_score))[0]
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                return Refusal(pb.REFUSAL_REASON_UNREADABLE, f"not a decodable image: {exc.details()}")
            raise _unavailable(exc) from None
        if not found.faces:
            where = "crop" if crop else "image"
            return Refusal(
                pb.REFUSAL_REASON_NO_FACE,
                f"no face with detection score >= {self.bar.min_face_score} in the {where}",
            )
        faces = sorted(found.faces, key=lambda f: f.box.width * f.box.height, reverse=True)
        best = faces[0]
        if strict and len(faces) > 1:
            ratio = (faces[1].box.width * faces[1].box.height) / max(1.0, best.box.width * best.box.height)
            if ratio >= self.bar.ambiguous_face_ratio:
                return Refusal(
                    pb.REFUSAL_REASON_MULTIPLE_FACES,
                    f"{len(faces)} faces of similar size: submit a photo of one person",
                )
        try:
            emb = (
                await self.client.embed_faces(
                    [data], [FaceInput.from_detection(0, best)], return_aligned_crops=True
                )
            )[0]
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidArgument(f"inference refused the face: {exc.details()}") from None
            raise _unavailable(exc) from None
        refusal = self.check(emb)
        if refusal is not None:
            return refusal
        return Face(
            vector=np.asarray(emb.vector, dtype=np.float32),
            model=model_name(emb.model.name, emb.model.version),
            box=best.box,
            aligned_jpeg=emb.aligned_crop_jpeg,
        )

    def check(self, emb: FaceEmbedding) -> Refusal | None:
        q, bar = emb.quality, self.bar
        if q.inter_eye_px < bar.min_inter_eye_px:
            return Refusal(
                pb.REFUSAL_REASON_TOO_SMALL,
                f"face too small: {q.inter_eye_px:.1f} px between the eyes, the bar is "
                f"{bar.min_inter_eye_px:g} px",
            )
        if q.sharpness < bar.min_sharpness:
            return Refusal(
                pb.REFUSAL_REASON_BLURRED,
                f"face blurred: sharpness {q.sharpness:.1f}, the bar is {bar.min_sharpness:g}",
            )
        if q.yaw_asymmetry > bar.max_yaw:
            return Refusal(
                pb.REFUSAL_REASON_TURNED_AWAY,
                f"face turned away: yaw asymmetry {q.yaw_asymmetry:.2f}, the bar is {bar.max_yaw:g}",
            )
        return None


def _unavailable(exc: grpc.aio.AioRpcError) -> Unavailable:
    return Unavailable(f"inference service: {exc.code().name}: {exc.details()}")
