"""The gateway's FastAPI application: REST API, sign-in, alert feed and the operator console.

`create_app(settings)` builds it (tests run it in-process); `uvicorn --factory
kuzet.gateway.app:create_app` or `kuzet serve gateway` serve it.
"""

# FastAPI declares parameters with Depends()/Query() defaults; they are evaluated per request.
# ruff: noqa: B008

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from kuzet.common.config import load_settings
from kuzet.common.errors import KuzetError
from kuzet.gateway.api import (
    alerts,
    audit,
    cameras,
    citations,
    drones,
    evidence,
    federation,
    fleet,
    holds,
    identity,
    protectedareas,
    recordings,
    statistics,
    traffic,
)
from kuzet.gateway.auth import Principal
from kuzet.gateway.config import GatewaySettings
from kuzet.gateway.context import Gateway, build_gateway
from kuzet.gateway.deps import check_rate, client_key, current_principal
from kuzet.gateway.errors import ERROR_SCHEMA, ApiError, error_response
from kuzet.gateway.fleetfeed import router as fleet_feed_router
from kuzet.gateway.middleware import GatewayMiddleware
from kuzet.gateway.protojson import SCHEMAS
from kuzet.gateway.roles import ROLE_TABLE, permissions_of
from kuzet.gateway.ws import router as ws_router

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"

_HTTP_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RESOURCE_EXHAUSTED",
}


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, "INVALID_ARGUMENT", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        detail = exc.detail if isinstance(exc.detail, str) else code.lower()
        return error_response(exc.status_code, code, detail, dict(exc.headers or {}))

    @app.exception_handler(KuzetError)
    async def kuzet_error(request: Request, exc: KuzetError) -> JSONResponse:
        from kuzet.gateway.errors import GRPC_TO_HTTP

        return error_response(GRPC_TO_HTTP.get(exc.code, 500), exc.code.name, exc.message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "INTERNAL", "internal error; it was logged")


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["ErrorBody"] = ERROR_SCHEMA
    schemas.update(SCHEMAS.schemas)
    # Validation failures are answered 400 with the common error body, not FastAPI's 422.
    for path in doc.get("paths", {}).values():
        for op in path.values():
            responses = op.get("responses", {})
            if responses.pop("422", None) is not None and "400" not in responses:
                responses["400"] = {
                    "description": "Bad input",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                }
    app.openapi_schema = doc
    return doc


def create_app(settings: GatewaySettings | None = None, *, gateway: Gateway | None = None) -> FastAPI:
    settings = settings or (gateway.settings if gateway else load_settings(GatewaySettings))
    gw = gateway or build_gateway(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gw.audit.start()
        yield
        await gw.close()

    app = FastAPI(
        title="Kuzet gateway",
        version="1.0.0",
        description="REST API of the Kuzet platform. Every route needs a bearer token from the agency's "
        "OIDC provider; roles per agency decide what each caller may do (see /api/v1/roles).",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads from a CDN; the console works offline. /openapi.json stays.
        redoc_url=None,
    )
    app.state.gateway = gw
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    _install_error_handlers(app)

    for module in (
        alerts,
        identity,
        federation,
        cameras,
        audit,
        fleet,
        drones,
        protectedareas,
        evidence,
        holds,
        traffic,
        citations,
        recordings,
        statistics,
    ):
        app.include_router(module.router)
    app.include_router(ws_router)
    app.include_router(fleet_feed_router)
    if gw.local_issuer is not None:
        app.include_router(gw.local_issuer.router(), prefix="/oidc")

    @app.get("/api/v1/me", tags=["session"], summary="Who the token says the caller is")
    async def me(principal: Principal = Depends(current_principal)) -> dict[str, Any]:
        return {
            "subject": principal.subject,
            "name": principal.name,
            "agency": principal.agency,
            "roles": sorted(principal.roles),
            "sites": sorted(principal.sites),
            "permissions": permissions_of(principal.roles),
            "expires_at": int(principal.expires_at),
        }

    @app.get("/api/v1/roles", tags=["session"], summary="The role table every route is checked against")
    async def roles() -> dict[str, list[str]]:
        return {perm.value: sorted(r) for perm, r in ROLE_TABLE.items()}

    @app.get("/api/v1/config", tags=["session"], summary="What the console needs to sign in")
    async def console_config(request: Request) -> dict[str, Any]:
        check_rate(gw, client_key(request))
        return {
            "local_issuer": gw.local_issuer is not None,
            "token_endpoint": "/oidc/token" if gw.local_issuer is not None else None,
            "issuers": gw.validator.issuers,
            "audience": settings.audience,
            # The live map's base layer (no tile server: the site plans only).
            "map": {
                "tile_url": settings.map_tile_url or None,
                "attribution": settings.map_tile_attribution,
                "max_zoom": settings.map_max_zoom,
            },
        }

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index() -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(
        GatewayMiddleware,
        max_body_bytes=settings.max_body_bytes,
        image_origins=tuple(filter(None, [settings.tile_origin()])),
    )
    return app
