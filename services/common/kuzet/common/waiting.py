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
import logging
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

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


async def cancel_all(tasks: Iterable[asyncio.Task[Any]], *, every_s: float = 0.5) -> None:
    """Cancel ``tasks`` and wait until every one has ended, cancelling again every ``every_s``.

    A library's own ``wait_for`` (nats-py's ``fetch``) can still turn a cancel into the
    TimeoutError its caller's loop suppresses: one cancel then left the federation relay running
    and its service's stop waiting for it for good. A task that ended with an error is logged.
    """
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every_s)
    for task in tasks:
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("task %s ended with %r", task.get_name(), error)
