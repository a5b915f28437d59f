"""`kuzet serve gateway`: the FastAPI app under uvicorn (HTTP, not gRPC)."""

from __future__ import annotations

import uvicorn

from kuzet.common.config import load_settings
from kuzet.common.gcpolicy import settle_after_start
from kuzet.common.grpcserver import ServiceSpec
from kuzet.common.logs import setup_logging
from kuzet.common.telemetry import setup_telemetry
from kuzet.gateway.app import create_app
from kuzet.gateway.config import GatewaySettings


def uvicorn_server(settings: GatewaySettings) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.listen_port,
        log_config=None,  # keep the platform's JSON logging
        access_log=False,  # the gateway's middleware logs requests without query strings
        proxy_headers=False,
        server_header=False,
        ws_max_size=64 * 1024,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
    )
    return uvicorn.Server(config)


async def run() -> None:
    settings = load_settings(GatewaySettings)
    setup_logging("gateway", settings.log_level)
    setup_telemetry("gateway", settings.otlp_endpoint)
    server = uvicorn_server(settings)
    settle_after_start()
    # uvicorn installs its own SIGINT/SIGTERM handlers and drains connections on stop.
    await server.serve()


SPEC = ServiceSpec(name="gateway", default_port=8080, run=run, order=90, protocol="http")
