"""Waiting with a time limit without ever losing a cancel.

On Python 3.11 ``asyncio.wait_for`` can turn a cancel that lands as its timeout fires into a
TimeoutError, or drop the cancel when the awaited thing finishes in the same moment. A loop that
suppresses TimeoutError then runs on after its task was cancelled, and the shutdown that gathers it
hangs (it hung badge, identity and retention teardowns in CI). ``asyncio.timeout`` tells its own
expiry apart from a cancel, so every timed wait in the services goes through it; ruff bans
``asyncio.wait_for`` outside tests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def wait_set(event: asyncio.Event, seconds: float | None) -> bool:
    """Wait until ``event`` is set or ``seconds`` have passed; True when it is set."""
    if event.is_set():
        return True
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()


async def within(seconds: float | None, awaitable: Awaitable[T]) -> T:
    """The result of ``awaitable``; TimeoutError (and ``awaitable`` cancelled) after ``seconds``."""
    async with asyncio.timeout(seconds):
        return await awaitable
