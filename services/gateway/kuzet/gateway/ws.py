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

import json
import logging
from typing import Any

import grpc
from fastapi import APIRouter, WebSocket
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.caller import calling_as
from kuzet.common.telemetry import context_from_traceparent, traceparent
from kuzet.gateway.auth import Principal
from kuzet.gateway.context import Gateway, principal_caller
from kuzet.gateway.convert import alert_json, severity
from kuzet.gateway.errors import ApiError
from kuzet.gateway.protojson import short_enum_names
from kuzet.gateway.roles import Permission, allowed
from kuzet.gateway.sockets import SocketClose, authenticate, close_for, serve_socket

router = APIRouter()
log = logging.getLogger(__name__)
tracer = trace.get_tracer("kuzet.gateway")
KIND = pb.DESCRIPTOR.enum_types_by_name["AlertUpdateKind"]
KIND_NAMES = dict(zip([v.number for v in KIND.values if v.number], short_enum_names(KIND), strict=True))


def _list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= 128 for v in value):
        raise SocketClose(4400, f"{what} must be a string or a list of strings")
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
        raise SocketClose(4400, err.message) from None
    cursor = params.get("cursor")
    if cursor not in (None, ""):
        try:
            value = int(cursor)
        except (TypeError, ValueError):
            raise SocketClose(4400, "cursor must be an integer") from None
        if value < 0:
            raise SocketClose(4400, "cursor must be >= 0")
        req.after_cursor = value
    return req


def _refuse(principal: Principal) -> str | None:
    return (
        None
        if allowed(principal.roles, Permission.ALERTS_READ)
        else "alerts.read is needed for the alert feed"
    )


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
        close = close_for(exc, "alerting unavailable, reconnect with the last cursor")
        if close.code == 4503:
            log.warning(
                "alert feed: alerting stream ended: %s", exc.code().name, extra={"agency": principal.agency}
            )
        raise close from None
    finally:
        stream.cancel()
    raise SocketClose(4503, "alerting closed the stream, reconnect with the last cursor")


async def _open(gw: Gateway, ws: WebSocket) -> tuple[Principal, list[Any]]:
    principal, params = await authenticate(
        gw, ws, lists=("site_id", "type", "source_id"), singles=("min_severity", "cursor"), refuse=_refuse
    )
    req = _subscribe_request(params)
    await ws.send_text(
        json.dumps({"type": "ready", "subject": principal.subject, "agency": principal.agency})
    )
    return principal, [_forward(gw, ws, principal, req)]


@router.websocket("/ws/alerts")
async def alert_feed(ws: WebSocket) -> None:
    await serve_socket(ws, _open)
