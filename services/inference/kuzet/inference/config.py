"""Settings of the inference service (environment prefix KUZET_INFERENCE_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from kuzet.common.config import ServiceSettings
from kuzet.inference.backends.base import BACKENDS
from kuzet.inference.opencv import decoder_max_pixels


class InferenceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KUZET_INFERENCE_", extra="ignore")
    service_name: ClassVar[str] = "inference"
    default_port: ClassVar[int] = 50051

    backend: str = Field(
        default="embedded",
        description="embedded: onnxruntime in this process; triton: a Triton server; "
        "or a backend another distribution registers (entry point group kuzet.inference.backends)",
    )
    triton_url: str = Field(default="127.0.0.1:8001", description="Triton gRPC address (host:port)")
    # Below the 30 s deadline of kuzet.common.inference's callers: a Triton call that hangs ends
    # in UNAVAILABLE with its reason before the caller gives up with a bare DEADLINE_EXCEEDED.
    triton_timeout_s: float = Field(default=10.0, gt=0, description="per Triton call")
    triton_retry_s: float = Field(default=2.0, ge=0, description="how long to retry a lost Triton connection")
    providers: str = Field(
        default="CPUExecutionProvider",
        description="embedded: onnxruntime execution providers in order, comma-separated "
        "(e.g. CUDAExecutionProvider,CPUExecutionProvider with onnxruntime-gpu)",
    )
    triton_health_interval_s: float = Field(
        default=5.0, ge=0, description="how often Triton readiness is mirrored on gRPC health; 0 = off"
    )
    intra_op_threads: int = Field(
        default=0, ge=0, description="onnxruntime threads per session; 0 = all cores"
    )
    embedded_workers: int = Field(default=1, ge=1, le=16, description="concurrent onnxruntime executions")
    batch_delay_ms: float = Field(
        default=2.0,
        ge=0,
        le=100,
        description="embedded: wait this long to merge concurrent requests; 0 = off",
    )
    # Raw 1080p frames are 6 MB each: a batch of them needs far more than the platform's 32 MB.
    max_message_mb: int = Field(default=256, ge=1, le=2047, description="largest gRPC message")
    max_batch_images: int = Field(default=64, ge=1, le=1024, description="images (or faces) per request")
    max_image_pixels: int = Field(default=40_000_000, ge=64)
    face_max_side: int = Field(default=640, ge=64, le=4096, description="face detector input, longest side")
    pose_max_side: int = Field(default=256, ge=64, le=2048, description="pose model input, longest side")
    plate_side: int = Field(
        default=640,
        ge=64,
        le=2048,
        description="text (plate) detector input, longest side: crops are scaled up to it, frames down",
    )

    @field_validator("backend")
    @classmethod
    def _registered_backend(cls, value: str) -> str:
        if value not in BACKENDS:
            raise ValueError(f"unknown backend {value!r}; installed: {', '.join(BACKENDS.keys())}")
        return value

    @field_validator("max_image_pixels")
    @classmethod
    def _within_decoder_cap(cls, value: int) -> int:
        cap = decoder_max_pixels()
        if value > cap:
            raise ValueError(
                f"is above OpenCV's decoder cap of {cap} pixels; raise CV_IO_MAX_IMAGE_PIXELS too"
            )
        return value
