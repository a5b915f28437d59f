"""Which replica runs which camera: rendezvous (highest random weight) hashing.

Each camera goes to the live replica with the highest hash(replica, camera); when a replica
leaves, only its cameras move (spread over the others), and when one joins it takes about 1/n
of the cameras from each. The live set comes from a pluggable source: a static list, any
callable returning replica ids (sync or async), or an async iterator of replica sets; ownership.py
takes the set from membership leases and adds when a replica may trust it.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

log = logging.getLogger(__name__)

ReplicaSource = (
    Iterable[str] | Callable[[], Iterable[str] | Awaitable[Iterable[str]]] | AsyncIterator[Iterable[str]]
)


def _weight(replica: str, key: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{replica}\0{key}".encode(), digest_size=8).digest(), "big")


def owner(key: str, replicas: Iterable[str]) -> str | None:
    best, best_w = None, -1
    for r in replicas:
        w = _weight(r, key)
        if w > best_w or (w == best_w and best is not None and r < best):
            best, best_w = r, w
    return best


class ShardOwner:
    """Tracks the live replica set and answers "is this camera mine?"."""

    # Where the replica set comes from (ShardStatus); a lease-based owner names its membership.
    kind = "static"

    def __init__(self, replica_id: str, source: ReplicaSource, *, poll_s: float = 5.0) -> None:
        self.replica_id = replica_id
        self._source = source
        self._poll_s = poll_s
        self.replicas: tuple[str, ...] = (replica_id,)
        if not callable(source) and not hasattr(source, "__anext__"):
            self.replicas = self._normalise(source)  # a static list
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _normalise(self, ids: Iterable[str]) -> tuple[str, ...]:
        out = tuple(sorted(set(ids)))
        # This replica is running, whatever the source lags behind on.
        return out if self.replica_id in out else tuple(sorted({*out, self.replica_id}))

    @property
    def lease_held(self) -> bool:
        """Whether this replica may run cameras (a fixed or polled set: always)."""
        return True

    def mine(self, camera_id: str) -> bool:
        return owner(camera_id, self.replicas) == self.replica_id

    def _set(self, ids: Iterable[str]) -> None:
        new = self._normalise(ids)
        if new != self.replicas:
            log.info("replica set changed: %s -> %s", ",".join(self.replicas), ",".join(new))
            self.replicas = new
            self.changed.set()

    async def refresh(self) -> None:
        if callable(self._source):
            got = self._source()
            if inspect.isawaitable(got):
                got = await got
            self._set(got)

    async def start(self) -> None:
        if hasattr(self._source, "__anext__"):
            self._task = asyncio.create_task(self._follow(), name="shard-follow")
        elif callable(self._source):
            await self.refresh()
            self._task = asyncio.create_task(self._poll(), name="shard-poll")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _follow(self) -> None:
        async for ids in self._source:  # type: ignore[union-attr]
            self._set(ids)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                await self.refresh()
            except Exception:
                log.exception("replica source failed; keeping %s", ",".join(self.replicas))
