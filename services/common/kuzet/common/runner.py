"""The standard start of a gRPC service process: settings, logging, tracing, serve until signalled."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from kuzet.common.config import ServiceSettings, load_settings
from kuzet.common.gcpolicy import settle_after_start
from kuzet.common.grpcserver import GrpcServer
from kuzet.common.logs import setup_logging
from kuzet.common.telemetry import set_current_service, setup_telemetry

S = TypeVar("S", bound=ServiceSettings)


async def run_service(settings_cls: type[S], build: Callable[[S], Awaitable[GrpcServer]]) -> None:
    """Load and validate settings, set up logs and traces, build the server and serve."""
    settings = load_settings(settings_cls)
    set_current_service(settings.service_name)
    setup_logging(settings.service_name, settings.log_level)
    setup_telemetry(settings.service_name, settings.otlp_endpoint)
    server = await build(settings)
    settle_after_start()
    await server.serve_until_signal()
