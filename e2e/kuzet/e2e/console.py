"""What the operator console sees: the gateway's WebSocket alert feed, read as a browser would."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import websockets

Message = dict[str, Any]


class ConsoleFeed:
    """Connects to /ws/alerts with a token and records every message with its arrival time."""

    def __init__(self, gateway_url: str, token: str, **filters: str) -> None:
        query = "&".join(f"{k}={v}" for k, v in {"token": token, **filters}.items())
        self.url = gateway_url.replace("http://", "ws://") + f"/ws/alerts?{query}"
        self.messages: list[Message] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def __aenter__(self) -> ConsoleFeed:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._ready.wait(), 15)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        async with websockets.connect(self.url, max_size=8 * 1024 * 1024) as ws:
            async for raw in ws:
                message = json.loads(raw)
                message["received_at"] = time.time()
                if message.get("type") == "ready":
                    self._ready.set()
                self.messages.append(message)
                self._arrived.set()

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
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
