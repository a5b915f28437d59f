"""One controller per drone at a time.

A service instance may only open a drone's MAVLink link while it holds that drone's lease;
two ground stations commanding one vehicle is a safety hazard. `InProcessLeadership` is for one
machine (and for tests with several service instances in one process); `KubernetesLeadership`
keeps one coordination.k8s.io Lease per drone via kuzet.common.k8s.LeaseLock.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol


class Leadership(Protocol):
    """Leases keyed by drone id. acquire/renew return True while we hold the lease."""

    identity: str
    lease_s: float

    async def acquire(self, key: str) -> bool: ...

    async def renew(self, key: str) -> bool: ...

    async def release(self, key: str) -> None: ...

    def holder(self, key: str) -> str: ...


@dataclass
class LeaseTable:
    """Shared by every InProcessLeadership of one process: key -> (holder, expires at)."""

    leases: dict[str, tuple[str, float]] = field(default_factory=dict)


_DEFAULT_TABLE = LeaseTable()


class InProcessLeadership:
    def __init__(self, identity: str, *, lease_s: float = 10.0, table: LeaseTable | None = None) -> None:
        self.identity = identity
        self.lease_s = lease_s
        self.table = table if table is not None else _DEFAULT_TABLE

    async def acquire(self, key: str) -> bool:
        now = time.monotonic()
        cur = self.table.leases.get(key)
        if cur is None or cur[0] == self.identity or cur[1] < now:
            self.table.leases[key] = (self.identity, now + self.lease_s)
            return True
        return False

    async def renew(self, key: str) -> bool:
        return await self.acquire(key)

    async def release(self, key: str) -> None:
        cur = self.table.leases.get(key)
        if cur is not None and cur[0] == self.identity:
            del self.table.leases[key]

    def holder(self, key: str) -> str:
        cur = self.table.leases.get(key)
        return cur[0] if cur is not None and cur[1] >= time.monotonic() else ""


def lease_name(drone_id: str) -> str:
    """A Kubernetes-valid Lease name for a drone id."""
    slug = re.sub(r"[^a-z0-9.-]+", "-", drone_id.lower()).strip("-.") or "drone"
    return f"kuzet-drone-{slug}"[:253]


class KubernetesLeadership:
    """One LeaseLock per drone (kuzet.common.k8s)."""

    def __init__(
        self,
        api_client: Any,
        *,
        identity: str | None = None,
        namespace: str | None = None,
        lease_s: float = 15.0,
    ) -> None:
        from kuzet.common.k8s import pod_identity

        self._api = api_client
        self.identity = identity or pod_identity()
        self._namespace = namespace
        self.lease_s = lease_s
        self._locks: dict[str, Any] = {}

    def _lock(self, key: str) -> Any:
        from kuzet.common.k8s import LeaseLock

        lock = self._locks.get(key)
        if lock is None:
            lock = LeaseLock(
                self._api,
                name=lease_name(key),
                identity=self.identity,
                namespace=self._namespace,
                lease_duration_s=self.lease_s,
                labels={"app.kubernetes.io/component": "drone"},
            )
            self._locks[key] = lock
        return lock

    async def acquire(self, key: str) -> bool:
        return bool(await self._lock(key).try_acquire_or_renew())

    async def renew(self, key: str) -> bool:
        return await self.acquire(key)

    async def release(self, key: str) -> None:
        lock = self._locks.pop(key, None)
        if lock is not None:
            await lock.release()

    def holder(self, key: str) -> str:
        lock = self._locks.get(key)
        return str(lock.holder) if lock is not None else ""
