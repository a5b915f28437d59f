"""What the operator console sees: the gateway's WebSocket alert feed, read as a browser would."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import websockets

from kuzet.common.waiting import wait_set, within

Message = dict[str, Any]
# The gateway's close code for "alerting unavailable, reconnect with the last cursor".
RESUME_CODE = 4503


class ConsoleFeed:
    """Connects to /ws/alerts with a token and records every message with its arrival time."""

    def __init__(self, gateway_url: str, token: str, **filters: str) -> None:
        query = "&".join(f"{k}={v}" for k, v in {"token": token, **filters}.items())
        self.url = gateway_url.replace("http://", "ws://") + f"/ws/alerts?{query}"
        self.messages: list[Message] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.reconnects = 0

    async def __aenter__(self) -> ConsoleFeed:
        self._task = asyncio.create_task(self._run())
        await within(15, self._ready.wait())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        # As the console does (static/js/alerts.js): when the gateway closes the feed with 4503
        # (its alerting replica went away), reconnect from the last cursor seen.
        cursor: int | None = None
        while True:
            url = self.url if cursor is None else f"{self.url}&cursor={cursor}"
            try:
                async with websockets.connect(url, max_size=8 * 1024 * 1024) as ws:
                    async for raw in ws:
                        message = json.loads(raw)
                        message["received_at"] = time.time()
                        if message.get("type") == "ready":
                            self._ready.set()
                        if message.get("type") in ("update", "heartbeat"):
                            cursor = max(cursor or 0, int(message["cursor"]))
                        self.messages.append(message)
                        self._arrived.set()
                    code = ws.close_code
            except websockets.ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
            if code != RESUME_CODE:
                return
            self.reconnects += 1
            await asyncio.sleep(0.5)

    def alerts(self, predicate: Callable[[Message], bool] = lambda _: True) -> list[Message]:
        return [m for m in self.messages if m.get("type") == "update" and predicate(m)]

    async def wait_for(self, predicate: Callable[[Message], bool], within: float) -> Message:
        """The first update message matching ``predicate``, waiting up to ``within`` seconds."""
        deadline = time.monotonic() + within
        while True:
            if found := self.alerts(predicate):
                return found[0]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [(m["alert"].get("type"), m.get("kind")) for m in self.alerts()]
                raise TimeoutError(f"no matching alert within {within:.0f} s; seen: {seen}")
            self._arrived.clear()
            await wait_set(self._arrived, remaining)
