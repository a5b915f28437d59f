"""One controller per drone at a time.

A service instance may only open a drone's MAVLink link while it holds that drone's lease;
two ground stations commanding one vehicle is a safety hazard. `InProcessLeadership` is for one
process (tests with several service instances in one process); `KubernetesLeadership` keeps one
coordination.k8s.io Lease per drone via kuzet.common.k8s.LeaseLock, and `DatabaseLeadership` the
same Leases in the drone database for replicas on one machine (kuzet.common.dblease).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kuzet.common.db import Database
from kuzet.common.dblease import DatabaseLeaseLock
from kuzet.common.k8s import TRANSIENT_ERRORS, LeaseLock, pod_identity

log = logging.getLogger(__name__)

# A term ends this long before the lease could expire for anybody else: time for the fleet to
# close the drone's link (it wakes at the term's end).
TERM_GUARD_S = 0.5


class Leadership(Protocol):
    """Leases keyed by drone id. acquire/renew return True while we hold the lease."""

    identity: str
    lease_s: float

    async def acquire(self, key: str) -> bool: ...

    async def renew(self, key: str) -> bool: ...

    async def release(self, key: str) -> None: ...

    def held_until(self, key: str) -> float:
        """Monotonic time until which this replica may act on the drone; 0.0 when it is not ours.

        Ends before any other replica could see the lease expire (no I/O).
        """
        ...

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

    def held_until(self, key: str) -> float:
        cur = self.table.leases.get(key)
        return cur[1] if cur is not None and cur[0] == self.identity else 0.0

    def holder(self, key: str) -> str:
        cur = self.table.leases.get(key)
        return cur[0] if cur is not None and cur[1] >= time.monotonic() else ""


def lease_name(drone_id: str) -> str:
    """A Kubernetes-valid Lease name for a drone id."""
    slug = re.sub(r"[^a-z0-9.-]+", "-", drone_id.lower()).strip("-.") or "drone"
    return f"kuzet-drone-{slug}"[:253]


class LeaseLeadership:
    """One lease lock per drone, as ``open_lock(lease name)`` makes them.

    A renewal that cannot reach the lease store (API server or database) is a round lost, not an
    error. Our term is counted from before our last successful write went out, less a guard:
    another replica counts the lease from when it saw that write, so ``held_until`` ends before
    any other replica may take the drone.
    """

    def __init__(self, open_lock: Callable[[str], LeaseLock], *, identity: str, lease_s: float) -> None:
        if lease_s <= 2 * TERM_GUARD_S:
            raise ValueError(f"lease_s must be above {2 * TERM_GUARD_S} s")
        self._open_lock = open_lock
        self.identity = identity
        self.lease_s = lease_s
        self._locks: dict[str, LeaseLock] = {}
        self._until: dict[str, float] = {}

    def _lock(self, key: str) -> LeaseLock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = self._open_lock(lease_name(key))
        return lock

    async def acquire(self, key: str) -> bool:
        lock = self._lock(key)
        started = time.monotonic()
        try:
            won = await lock.try_acquire_or_renew()
        except TRANSIENT_ERRORS as exc:
            log.warning("drone %s: lease %s not renewed: %s", key, lock.name, exc)
            return self.held_until(key) > time.monotonic()
        if won:
            self._until[key] = started + self.lease_s - TERM_GUARD_S
        else:
            self._until.pop(key, None)
        return won

    async def renew(self, key: str) -> bool:
        return await self.acquire(key)

    async def release(self, key: str) -> None:
        self._until.pop(key, None)
        lock = self._locks.pop(key, None)
        if lock is not None:
            try:
                await lock.release()
            except TRANSIENT_ERRORS as exc:
                # It expires by itself; a standby waits the lease out instead of taking it at once.
                log.warning("drone %s: lease %s not released: %s", key, lock.name, exc)

    def held_until(self, key: str) -> float:
        return self._until.get(key, 0.0)

    def holder(self, key: str) -> str:
        lock = self._locks.get(key)
        return lock.holder if lock is not None else ""


class KubernetesLeadership(LeaseLeadership):
    """One coordination.k8s.io Lease per drone (kuzet.common.k8s.LeaseLock)."""

    def __init__(
        self,
        api_client: Any,
        *,
        identity: str | None = None,
        namespace: str | None = None,
        lease_s: float = 15.0,
    ) -> None:
        name = identity or pod_identity()

        def open_lock(lease: str) -> LeaseLock:
            return LeaseLock(
                api_client,
                name=lease,
                identity=name,
                namespace=namespace,
                lease_duration_s=lease_s,
                labels={"app.kubernetes.io/component": "drone"},
            )

        super().__init__(open_lock, identity=name, lease_s=lease_s)


class DatabaseLeadership(LeaseLeadership):
    """The same Leases kept in the drone service's database, for replicas on one machine."""

    def __init__(self, database: Database, *, identity: str | None = None, lease_s: float = 15.0) -> None:
        name = identity or pod_identity()

        def open_lock(lease: str) -> LeaseLock:
            return DatabaseLeaseLock(
                database,
                name=lease,
                identity=name,
                lease_duration_s=lease_s,
                labels={"app.kubernetes.io/component": "drone"},
            )

        super().__init__(open_lock, identity=name, lease_s=lease_s)
