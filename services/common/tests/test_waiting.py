"""cancel_all: a task that loses a cancel (as a library's wait_for can make it) still ends."""

from __future__ import annotations

import asyncio

from kuzet.common.waiting import cancel_all


async def test_a_task_that_swallows_a_cancel_is_cancelled_again_until_it_ends() -> None:
    swallowed = 0

    async def loop_that_loses_cancels() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                # What nats-py's fetch can hand its caller on 3.11: the cancel as a timeout.
                if swallowed < 2:
                    swallowed += 1
                    continue
                raise

    async def fails() -> None:
        raise RuntimeError("broken")

    stubborn = asyncio.create_task(loop_that_loses_cancels())
    failed = asyncio.create_task(fails())
    await asyncio.sleep(0)
    async with asyncio.timeout(10):
        await cancel_all([stubborn, failed], every_s=0.05)
    assert stubborn.cancelled() and swallowed == 2
    assert isinstance(failed.exception(), RuntimeError)
