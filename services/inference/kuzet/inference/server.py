"""The inference process: the model catalog, the backend, the engine, the gRPC server and,
with Triton, its health followed (`kuzet serve inference`)."""

from __future__ import annotations

import asyncio
import logging

from grpc_health.v1 import health_pb2

from kuzet.common.grpcserver import GrpcServer, ServiceSpec
from kuzet.common.runner import run_service
from kuzet.inference.backends.base import BACKENDS, Backend
from kuzet.inference.backends.triton import TritonBackend
from kuzet.inference.catalog import load_catalog
from kuzet.inference.config import InferenceSettings
from kuzet.inference.engine import EngineOptions, InferenceEngine
from kuzet.inference.imaging import ImageLimits
from kuzet.inference.service import InferenceServicer
from kuzet.inference.v1 import inference_pb2 as pb
from kuzet.inference.v1 import inference_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["InferenceService"].full_name


async def build(settings: InferenceSettings, *, backend: Backend | None = None) -> GrpcServer:
    """The service, not yet started, with its backend started (models loaded or Triton contacted).

    A backend passed in (tests share one loaded backend) is the caller's to close.
    """
    catalog = load_catalog()
    owned = backend is None
    if backend is None:
        backend = BACKENDS[settings.backend].create(settings, catalog)
        await backend.start()
    engine = InferenceEngine(
        catalog,
        backend,
        EngineOptions(
            face_max_side=settings.face_max_side,
            pose_max_side=settings.pose_max_side,
            plate_side=settings.plate_side,
        ),
    )
    servicer = InferenceServicer(
        engine, settings.max_batch_images, ImageLimits(max_pixels=settings.max_image_pixels)
    )
    watchers: list[asyncio.Task[None]] = []

    async def stop_watchers() -> None:
        for task in watchers:
            task.cancel()

    server = GrpcServer(
        settings,
        [(pb_grpc.add_InferenceServiceServicer_to_server, servicer)],
        [SERVICE_NAME],
        on_stop=[stop_watchers, *([backend.close] if owned else [])],
    )
    if isinstance(backend, TritonBackend) and settings.triton_health_interval_s > 0:
        watchers.append(
            asyncio.create_task(_follow_triton(server, backend, settings.triton_health_interval_s))
        )
    return server


async def _follow_triton(server: GrpcServer, backend: TritonBackend, interval_s: float) -> None:
    """Report the service NOT_SERVING on gRPC health while Triton is unreachable, so Kubernetes
    takes this replica out of rotation instead of sending it requests that would fail."""
    serving: bool | None = None
    while True:
        await asyncio.sleep(interval_s)
        if not server.bound_port:  # not started yet: start() sets SERVING itself
            continue
        ready = await backend.server_ready()
        if ready != serving:
            status = (
                health_pb2.HealthCheckResponse.SERVING
                if ready
                else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            await server.health.set(SERVICE_NAME, status)
            if serving is not None or not ready:
                log.warning(
                    "Triton at %s %s", backend.url, "is back" if ready else "is unreachable: not serving"
                )
            serving = ready


async def _run() -> None:
    await run_service(InferenceSettings, build)


SPEC = ServiceSpec(name="inference", default_port=InferenceSettings.default_port, run=_run, order=10)
