"""What every console WebSocket shares: origin check, sign-in, rate limit, expiry, close codes.

A socket authenticates with `?token=` or a first message `{"type": "auth", "token": ...}` (which
may carry more parameters), then runs its feed until the client leaves, the token expires or the
feed ends. Close codes: 4400 bad request, 4401 unauthenticated/expired, 4403 forbidden, 4429 rate
limited, 4503 backing service unavailable (reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import grpc
from fastapi import WebSocket, WebSocketDisconnect

from kuzet.common.waiting import within
from kuzet.gateway.auth import AuthError, Principal
from kuzet.gateway.clientaddr import connection_address
from kuzet.gateway.context import Gateway

AUTH_TIMEOUT_S = 10.0


class SocketClose(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def origin_ok(ws: WebSocket, allowed_origins: list[str]) -> bool:
    """Browsers send Origin on WebSocket handshakes and CORS does not apply: check it here."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True  # not a browser (tests, tools); the token still has to validate
    if origin.rstrip("/") in allowed_origins:
        return True
    return urlsplit(origin).netloc == ws.headers.get("host", "")


def close_for(exc: grpc.aio.AioRpcError, unavailable: str) -> SocketClose:
    """The close a backing stream's error maps to; `unavailable` tells the client what to do
    when the service is down (4503)."""
    code = exc.code()
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return SocketClose(4403, exc.details() or "forbidden")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return SocketClose(4400, exc.details() or "bad request")
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return SocketClose(4401, exc.details() or "unauthenticated")
    return SocketClose(4503, unavailable)


async def authenticate(
    gw: Gateway,
    ws: WebSocket,
    *,
    lists: Iterable[str] = (),
    singles: Iterable[str] = (),
    refuse: Callable[[Principal], str | None],
) -> tuple[Principal, dict[str, Any]]:
    """The caller and the feed's parameters (query `lists`/`singles`, or the auth message's
    `filter` and `cursor`); `refuse` says why a valid caller may not have this feed, or None."""
    params: dict[str, Any] = {}
    for key in lists:
        if values := ws.query_params.getlist(key):
            params[key] = values
    for key in singles:
        if (value := ws.query_params.get(key)) is not None:
            params[key] = value
    token = ws.query_params.get("token")
    if not token:
        try:
            first = json.loads(await within(AUTH_TIMEOUT_S, ws.receive_text()))
        except (TimeoutError, ValueError):
            raise SocketClose(4401, 'send {"type": "auth", "token": ...} first') from None
        if (
            not isinstance(first, dict)
            or first.get("type") != "auth"
            or not isinstance(first.get("token"), str)
        ):
            raise SocketClose(4401, 'first message must be {"type": "auth", "token": ...}')
        token = first["token"]
        if isinstance(first.get("filter"), dict):
            params.update(first["filter"])
        if "cursor" in first:
            params["cursor"] = first["cursor"]
    host = connection_address(ws, gw.trusted_proxies)
    if gw.limiter.take(f"ip:{host}") > 0:
        raise SocketClose(4429, "rate limit exceeded")
    try:
        principal = await gw.validator.validate(token)
    except AuthError as exc:
        gw.limiter.take(f"ip:{host}", 5.0)
        raise SocketClose(4401, str(exc)) from None
    if (why := refuse(principal)) is not None:
        raise SocketClose(4403, why)
    return principal, params


async def _drain(ws: WebSocket) -> None:
    """Reads (and ignores) client frames so a closed socket is noticed promptly."""
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(msg.get("code", 1000))


async def _expiry(principal: Principal) -> None:
    await asyncio.sleep(max(0.0, principal.expires_at - time.time()))
    raise SocketClose(4401, "token expired, sign in again")


async def serve_socket(
    ws: WebSocket,
    open_feed: Callable[[Gateway, WebSocket], Awaitable[tuple[Principal, list[Awaitable[None]]]]],
) -> None:
    """Accepts `ws`, lets `open_feed` authenticate and name its feed's coroutines, and runs them
    until one ends (the feed, the client leaving or the token expiring)."""
    gw: Gateway = ws.app.state.gateway
    if not origin_ok(ws, gw.settings.cors_origins):
        await ws.close(code=4403, reason="origin not allowed")
        return
    await ws.accept()
    tasks: list[asyncio.Task[None]] = []
    try:
        principal, feeds = await open_feed(gw, ws)
        tasks = [asyncio.ensure_future(f) for f in (*feeds, _drain(ws), _expiry(principal))]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    except SocketClose as close:
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
