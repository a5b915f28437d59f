"""WebSocket alert feed backed by alerting's Subscribe stream.

Protocol (JSON text frames):
  connect  /ws/alerts?token=...&cursor=N&min_severity=high&site_id=..&type=..   (token may instead
           come in the first message: {"type": "auth", "token": "...", "cursor": N, "filter": {...}})
  server -> {"type": "ready", "subject": ..., "agency": ...}
            {"type": "update", "cursor": N, "kind": "created", "alert": {...}, "traceparent": ...}
            {"type": "heartbeat", "cursor": N}
  close codes: 4400 bad request, 4401 unauthenticated/expired, 4403 forbidden, 4429 rate limited,
               4503 alerting unavailable (reconnect with the last cursor).
Each forwarded update gets a span whose parent is the update's traceparent, so the trace that
started at the camera ends at the console.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import grpc
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.caller import calling_as
from kuzet.common.telemetry import context_from_traceparent, traceparent
from kuzet.common.waiting import within
from kuzet.gateway.auth import AuthError, Principal
from kuzet.gateway.clientaddr import connection_address
from kuzet.gateway.context import Gateway, principal_caller
from kuzet.gateway.convert import alert_json, severity
from kuzet.gateway.errors import ApiError
from kuzet.gateway.protojson import short_enum_names
from kuzet.gateway.roles import Permission, allowed

router = APIRouter()
log = logging.getLogger(__name__)
tracer = trace.get_tracer("kuzet.gateway")
AUTH_TIMEOUT_S = 10.0
KIND = pb.DESCRIPTOR.enum_types_by_name["AlertUpdateKind"]
KIND_NAMES = dict(zip([v.number for v in KIND.values if v.number], short_enum_names(KIND), strict=True))


class _Close(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _origin_ok(ws: WebSocket, allowed_origins: list[str]) -> bool:
    """Browsers send Origin on WebSocket handshakes and CORS does not apply: check it here."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True  # not a browser (tests, tools); the token still has to validate
    if origin.rstrip("/") in allowed_origins:
        return True
    return urlsplit(origin).netloc == ws.headers.get("host", "")


def _list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= 128 for v in value):
        raise _Close(4400, f"{what} must be a string or a list of strings")
    return list(value)


def _subscribe_request(params: dict[str, Any]) -> pb.SubscribeRequest:
    try:
        req = pb.SubscribeRequest(
            filter=pb.AlertFilter(
                site_ids=_list(params.get("site_id"), "site_id"),
                types=_list(params.get("type"), "type"),
                source_ids=_list(params.get("source_id"), "source_id"),
                min_severity=severity(params.get("min_severity")),
            )
        )
    except ApiError as err:
        raise _Close(4400, err.message) from None
    cursor = params.get("cursor")
    if cursor not in (None, ""):
        try:
            value = int(cursor)
        except (TypeError, ValueError):
            raise _Close(4400, "cursor must be an integer") from None
        if value < 0:
            raise _Close(4400, "cursor must be >= 0")
        req.after_cursor = value
    return req


async def _authenticate(gw: Gateway, ws: WebSocket) -> tuple[Principal, dict[str, Any]]:
    params: dict[str, Any] = {}
    for key in ("site_id", "type", "source_id"):
        if values := ws.query_params.getlist(key):
            params[key] = values
    for key in ("min_severity", "cursor"):
        if (value := ws.query_params.get(key)) is not None:
            params[key] = value
    token = ws.query_params.get("token")
    if not token:
        try:
            first = json.loads(await within(AUTH_TIMEOUT_S, ws.receive_text()))
        except (TimeoutError, ValueError):
            raise _Close(4401, 'send {"type": "auth", "token": ...} first') from None
        if (
            not isinstance(first, dict)
            or first.get("type") != "auth"
            or not isinstance(first.get("token"), str)
        ):
            raise _Close(4401, 'first message must be {"type": "auth", "token": ...}')
        token = first["token"]
        if isinstance(first.get("filter"), dict):
            params.update(first["filter"])
        if "cursor" in first:
            params["cursor"] = first["cursor"]
    host = connection_address(ws, gw.trusted_proxies)
    if gw.limiter.take(f"ip:{host}") > 0:
        raise _Close(4429, "rate limit exceeded")
    try:
        principal = await gw.validator.validate(token)
    except AuthError as exc:
        gw.limiter.take(f"ip:{host}", 5.0)
        raise _Close(4401, str(exc)) from None
    if not allowed(principal.roles, Permission.ALERTS_READ):
        raise _Close(4403, "alerts.read is needed for the alert feed")
    return principal, params


async def _forward(gw: Gateway, ws: WebSocket, principal: Principal, req: pb.SubscribeRequest) -> None:
    with calling_as(principal_caller(principal)):
        stream = gw.backends.alerting.Subscribe(req)
    try:
        async for item in stream:
            if item.HasField("heartbeat"):
                await ws.send_text(json.dumps({"type": "heartbeat", "cursor": item.heartbeat.cursor}))
                continue
            update = item.update
            with tracer.start_as_current_span(
                "gateway.alert_feed.forward",
                context=context_from_traceparent(update.traceparent),
                kind=SpanKind.PRODUCER,
                attributes={
                    "kuzet.alert_id": update.alert.alert_id,
                    "kuzet.cursor": update.cursor,
                    "kuzet.agency": principal.agency,
                    "enduser.id": principal.subject,
                },
            ):
                message = {
                    "type": "update",
                    "cursor": update.cursor,
                    "kind": KIND_NAMES.get(update.kind, "unspecified"),
                    "actor": update.actor,
                    "alert": alert_json(gw, principal, update.alert),
                    # The span just made, so the console can name the trace it belongs to.
                    "traceparent": traceparent(),
                }
                await ws.send_text(json.dumps(message))
                # The console delivery is the last hop of the alert's trace: on record in the logs.
                log.info(
                    "alert %s (%s) delivered to %s",
                    update.alert.alert_id,
                    message["kind"],
                    principal.subject,
                    extra={"agency": principal.agency, "cursor": update.cursor},
                )
    except grpc.aio.AioRpcError as exc:
        code = exc.code()
        if code == grpc.StatusCode.PERMISSION_DENIED:
            raise _Close(4403, exc.details() or "forbidden") from None
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            raise _Close(4400, exc.details() or "bad request") from None
        if code == grpc.StatusCode.UNAUTHENTICATED:
            raise _Close(4401, exc.details() or "unauthenticated") from None
        log.warning("alert feed: alerting stream ended: %s", code.name, extra={"agency": principal.agency})
        raise _Close(4503, "alerting unavailable, reconnect with the last cursor") from None
    finally:
        stream.cancel()
    raise _Close(4503, "alerting closed the stream, reconnect with the last cursor")


async def _drain(ws: WebSocket) -> None:
    """Reads (and ignores) client frames so a closed socket is noticed promptly."""
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(msg.get("code", 1000))


async def _expiry(principal: Principal) -> None:
    await asyncio.sleep(max(0.0, principal.expires_at - time.time()))
    raise _Close(4401, "token expired, sign in again")


@router.websocket("/ws/alerts")
async def alert_feed(ws: WebSocket) -> None:
    gw: Gateway = ws.app.state.gateway
    if not _origin_ok(ws, gw.settings.cors_origins):
        await ws.close(code=4403, reason="origin not allowed")
        return
    await ws.accept()
    tasks: list[asyncio.Task[None]] = []
    try:
        principal, params = await _authenticate(gw, ws)
        req = _subscribe_request(params)
        await ws.send_text(
            json.dumps({"type": "ready", "subject": principal.subject, "agency": principal.agency})
        )
        tasks = [
            asyncio.create_task(_forward(gw, ws, principal, req)),
            asyncio.create_task(_drain(ws)),
            asyncio.create_task(_expiry(principal)),
        ]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    except _Close as close:
        with contextlib.suppress(Exception):
            await ws.close(code=close.code, reason=close.reason[:120])
    except WebSocketDisconnect:
        pass
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
