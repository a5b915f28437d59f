"""Evidence retention and verification run on one replica of several sharing a database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kuzet.badge.server import BadgeApp


async def test_one_replica_runs_retention(make_app: Callable[..., Any]) -> None:
    first: BadgeApp = await make_app(replica_id="badge-a", retention_interval_s=0.1, retention_lease_s=3)
    second: BadgeApp = await make_app(replica_id="badge-b", retention_interval_s=0.1, retention_lease_s=3)
    assert first.jobs_lock is not None and second.jobs_lock is not None
    for _ in range(200):
        if first.jobs_lock.is_leader or second.jobs_lock.is_leader:
            break
        await asyncio.sleep(0.05)
    # Several renewals later (every 0.6 s) the other replica still has not taken over.
    await asyncio.sleep(2.0)
    assert [first.jobs_lock.is_leader, second.jobs_lock.is_leader].count(True) == 1
    leader, other = (first, second) if first.jobs_lock.is_leader else (second, first)
    await leader.server.stop(0)  # releases the lease on the way out: the other takes over
    for _ in range(200):
        if other.jobs_lock.is_leader:
            break
        await asyncio.sleep(0.05)
    assert other.jobs_lock.is_leader
