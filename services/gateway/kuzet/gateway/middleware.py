"""ASGI middleware: request-size limit, security headers and a server span per HTTP request."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import Any

from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kuzet.gateway.errors import error_body

tracer = trace.get_tracer("kuzet.gateway")
access = logging.getLogger("kuzet.gateway.access")


def _loggable(path: str) -> str:
    return "/evidence/***" if path.startswith("/evidence/") else path


def csp(image_origins: tuple[str, ...] = ()) -> str:
    """No inline scripts or styles anywhere in the console, so the policy can forbid them; images
    may also come from `image_origins` (the map's tile server)."""
    images = " ".join(("'self' data: blob:", *image_origins))
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src {images}; "
        "connect-src 'self' ws: wss:; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def security_headers(image_origins: tuple[str, ...] = ()) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", csp(image_origins).encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]


class _TooLarge(Exception):
    pass


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]
) -> None:
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


class GatewayMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int, image_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.headers = security_headers(image_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        too_large = error_body("PAYLOAD_TOO_LARGE", f"request body exceeds {self.max_body} bytes")
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _send_json(send, 413, too_large, self.headers)
            return

        received = 0
        started = False
        rejected = False

        async def limited_receive() -> Message:
            nonlocal received, rejected
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body and not rejected:
                    # Answer now: the framework would turn any exception raised while it reads
                    # the body into its own 400.
                    rejected = True
                    if not started:
                        await _send_json(send, 413, too_large, self.headers)
                    raise _TooLarge
            return message

        is_api = scope["path"].startswith("/api/")

        status = 0

        async def secured_send(message: Message) -> None:
            nonlocal started, status
            if rejected:
                return
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                extra = list(self.headers)
                if is_api:
                    extra.append((b"cache-control", b"no-store"))
                present = {k.lower() for k, _ in message.get("headers", [])}
                message = {
                    **message,
                    "headers": [*message.get("headers", []), *[(k, v) for k, v in extra if k not in present]],
                }
            await send(message)

        started_at = time.perf_counter()
        ctx = extract(headers)
        with tracer.start_as_current_span(
            f"HTTP {scope['method']}",
            context=ctx,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": scope["method"], "url.path": scope["path"]},
        ) as span:
            with contextlib.suppress(_TooLarge):
                await self.app(scope, limited_receive, secured_send)
            if rejected:
                status = 413
            span.set_attribute("http.response.status_code", status)
            # Our own access log: the query string is left out and evidence links are masked,
            # since both can carry credentials (a WebSocket token, a signed grant).
            principal = scope.get("state", {}).get("principal")
            access.info(
                "%s %s %d %.1f ms",
                scope["method"],
                _loggable(scope["path"]),
                status,
                (time.perf_counter() - started_at) * 1000,
                extra={
                    "agency": getattr(principal, "agency", ""),
                    "subject": getattr(principal, "subject", ""),
                },
            )
