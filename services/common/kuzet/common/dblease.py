"""Leases without Kubernetes: the same records as coordination.k8s.io Leases, in a database table.

On one machine (``kuzet up``) the replicas of a service share that service's database (one SQLite
file, or one PostgreSQL URL), so the database is where they meet. :class:`DatabaseMembership` and
:class:`DatabaseLeaseLock` are :class:`kuzet.common.k8s.LeaseMembership` and
:class:`kuzet.common.k8s.LeaseLock` with their records kept in the table ``kuzet_leases`` instead
of the API server: the renewal, expiry and takeover rules are the very same code, so a service runs
one code path in a cluster and on one machine. :func:`open_membership` and :func:`open_lease_lock`
pick the Kubernetes store inside a cluster and the database otherwise.

How the database stands in for the API server:

- every record carries an opaque version (a fresh random token on every write, never reused, so a
  deleted and re-created Lease never looks unchanged to an observer);
- ``replace`` is ``UPDATE ... WHERE name = ? AND version = <the version we read>``: of two
  processes that read the same version only one UPDATE matches a row, the other "lost this round"
  (the API server's 409); ``create`` is an INSERT on the primary key, so only one create wins;
- expiry is judged as client-go does, on the observer's monotonic clock from when it saw the
  version change, so no process needs to trust another's clock (see kuzet.common.k8s).

A database that cannot be reached, or does not answer within the store timeout (a third of the
lease duration, at most 5 s), raises :class:`LeaseStoreUnavailable` (a ``ConnectionError``, so the
primitives treat it like an unreachable API server): the renewal fails and ``holding`` /
``is_leader`` turn False before anybody else could take the Lease over.

The table is created on first use (``CREATE TABLE`` if missing, safe when several processes race),
not by a service's Alembic migrations: services may share one database, and every one of them
would otherwise own the same table. It holds only live coordination state, nothing to migrate; a
different layout would get a new table name.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, and_, delete, insert, select, update
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from kuzet.common.db import Database
from kuzet.common.k8s import (
    LeaseLock,
    LeaseMembership,
    LeaseRecord,
    LeaseStore,
    load_api_client,
    pod_namespace,
)
from kuzet.common.waiting import within

T = TypeVar("T")
# Where leases live: "auto" is Kubernetes inside a cluster, the database everywhere else.
Backend = Literal["auto", "kubernetes", "database"]

TABLE_NAME = "kuzet_leases"
_metadata = MetaData()
leases_table = Table(
    TABLE_NAME,
    _metadata,
    Column("namespace", String(253), primary_key=True),
    Column("name", String(253), primary_key=True),
    Column("holder", String(253), nullable=False),
    Column("duration_s", Integer, nullable=False),
    # Opaque, a new random token per write: the resourceVersion the conditional UPDATE compares.
    Column("version", String(32), nullable=False),
    # Kubernetes MicroTime text (writer's wall clock): only used to spot long-dead records.
    Column("renew_time", String(32), nullable=False),
    Column("acquire_time", String(32), nullable=False),
    Column("transitions", Integer, nullable=False),
    Column("labels", JSON, nullable=False),
)

_ensured: weakref.WeakSet[Engine] = weakref.WeakSet()


class LeaseStoreUnavailable(ConnectionError):
    """The lease table could not be read or written in time (a round lost, never a crash)."""


def in_kubernetes() -> bool:
    """True inside a pod (the kubelet sets KUBERNETES_SERVICE_HOST in every container)."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def _use_database(backend: Backend, api_client: Any) -> bool:
    if backend == "auto":
        return api_client is None and not in_kubernetes()
    return backend == "database"


def ensure_table(engine: Engine) -> None:
    """Create ``kuzet_leases`` if missing; a concurrent creator winning the race is fine."""
    if engine in _ensured:
        return
    try:
        _metadata.create_all(engine, checkfirst=True)
    except SQLAlchemyError:
        # Another process created it between our check and our CREATE (PostgreSQL reports that as
        # a unique violation on its catalog); anything else shows up again on the re-check.
        _metadata.create_all(engine, checkfirst=True)
    _ensured.add(engine)


def _parse_micro(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _record(row: Row[Any]) -> LeaseRecord:
    return LeaseRecord(
        name=row.name,
        holder=row.holder,
        duration_s=float(row.duration_s),
        resource_version=row.version,
        renew_time=_parse_micro(row.renew_time),
        acquire_time=_parse_micro(row.acquire_time),
        transitions=int(row.transitions),
        labels=dict(row.labels or {}),
    )


def _columns(body: Mapping[str, Any]) -> dict[str, Any]:
    spec = body["spec"]
    return {
        "holder": spec["holderIdentity"],
        "duration_s": int(spec["leaseDurationSeconds"]),
        "version": secrets.token_hex(16),
        "renew_time": spec["renewTime"],
        "acquire_time": spec["acquireTime"],
        "transitions": int(spec["leaseTransitions"]),
        "labels": dict(body["metadata"].get("labels") or {}),
    }


def _selector(selector: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in selector.split(",") if item)
    return {key: value for key, value in pairs}


class DatabaseLeaseStore:
    """The :class:`kuzet.common.k8s.LeaseStore` of one namespace in a database's lease table."""

    def __init__(self, database: Database, namespace: str, *, timeout_s: float = 5.0) -> None:
        self._engine = database.engine
        self.namespace = namespace
        # A locked SQLite file or a stalled server must not hold a renewal past its deadline.
        self._timeout = timeout_s

    async def _run(self, fn: Callable[[Connection], T]) -> T:
        def work() -> T:
            ensure_table(self._engine)
            with self._engine.begin() as conn:
                return fn(conn)

        try:
            return await within(self._timeout, asyncio.to_thread(work))
        except TimeoutError:
            raise LeaseStoreUnavailable(f"lease table did not answer within {self._timeout:.1f}s") from None
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise LeaseStoreUnavailable(f"lease table unavailable: {exc}") from exc

    def _key(self, name: str) -> Any:
        return and_(leases_table.c.namespace == self.namespace, leases_table.c.name == name)

    def _read(self, conn: Connection, name: str) -> LeaseRecord | None:
        row = conn.execute(select(leases_table).where(self._key(name))).first()
        return _record(row) if row is not None else None

    async def get(self, name: str) -> LeaseRecord | None:
        return await self._run(lambda conn: self._read(conn, name))

    async def list(self, selector: str) -> list[LeaseRecord]:
        wanted = _selector(selector).items()

        def read(conn: Connection) -> list[LeaseRecord]:
            rows = conn.execute(select(leases_table).where(leases_table.c.namespace == self.namespace))
            records = [_record(row) for row in rows]
            return [r for r in records if all(r.labels.get(k) == v for k, v in wanted)]

        return await self._run(read)

    async def create(self, body: dict[str, Any]) -> LeaseRecord | None:
        name = body["metadata"]["name"]

        def write(conn: Connection) -> LeaseRecord | None:
            conn.execute(insert(leases_table).values(namespace=self.namespace, name=name, **_columns(body)))
            return self._read(conn, name)

        try:
            return await self._run(write)
        except IntegrityError:  # the name is taken: somebody created it first
            return None

    async def replace(self, name: str, body: dict[str, Any]) -> LeaseRecord | None:
        based_on = body["metadata"].get("resourceVersion")

        def write(conn: Connection) -> LeaseRecord | None:
            guard = self._key(name)
            if based_on:
                guard = and_(guard, leases_table.c.version == based_on)
            done = conn.execute(update(leases_table).where(guard).values(**_columns(body)))
            return self._read(conn, name) if done.rowcount == 1 else None

        return await self._run(write)

    async def delete(self, name: str, resource_version: str | None = None) -> bool:
        def write(conn: Connection) -> bool:
            guard = self._key(name)
            if resource_version:
                guard = and_(guard, leases_table.c.version == resource_version)
            return bool(conn.execute(delete(leases_table).where(guard)).rowcount == 1)

        return await self._run(write)


class DatabaseMembership(LeaseMembership):
    """:class:`kuzet.common.k8s.LeaseMembership` over a database (one row per replica)."""

    def __init__(
        self,
        database: Database,
        *,
        component: str,
        identity: str | None = None,
        namespace: str | None = None,
        lease_duration_s: float = 15.0,
        renew_interval_s: float | None = None,
        skew_margin_s: float = 2.0,
        name_prefix: str = "kuzet",
    ) -> None:
        super().__init__(
            database,  # type: ignore[arg-type]  # _open_store below takes it in place of an ApiClient
            component=component,
            identity=identity,
            namespace=namespace,
            lease_duration_s=lease_duration_s,
            renew_interval_s=renew_interval_s,
            skew_margin_s=skew_margin_s,
            name_prefix=name_prefix,
        )

    def _open_store(self, api_client: Any, namespace: str | None, timeout_s: float) -> LeaseStore:
        return DatabaseLeaseStore(api_client, namespace or pod_namespace(), timeout_s=timeout_s)


class DatabaseLeaseLock(LeaseLock):
    """:class:`kuzet.common.k8s.LeaseLock` over a database (one row per lock)."""

    def __init__(
        self,
        database: Database,
        *,
        name: str,
        identity: str | None = None,
        namespace: str | None = None,
        lease_duration_s: float = 15.0,
        skew_margin_s: float = 2.0,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            database,  # type: ignore[arg-type]  # _open_store below takes it in place of an ApiClient
            name=name,
            identity=identity,
            namespace=namespace,
            lease_duration_s=lease_duration_s,
            skew_margin_s=skew_margin_s,
            labels=labels,
        )

    def _open_store(self, api_client: Any, namespace: str | None, timeout_s: float) -> LeaseStore:
        return DatabaseLeaseStore(api_client, namespace or pod_namespace(), timeout_s=timeout_s)


def open_membership(
    component: str,
    *,
    database: Database,
    identity: str | None = None,
    lease_duration_s: float = 15.0,
    renew_interval_s: float | None = None,
    api_client: Any = None,
    namespace: str | None = None,
    backend: Backend = "auto",
) -> LeaseMembership:
    """Kubernetes Leases in a cluster (or when ``api_client`` is given), the database otherwise.

    ``backend="kubernetes"`` outside a cluster uses the kubeconfig (``KUBECONFIG``), as tests do.
    """
    if _use_database(backend, api_client):
        return DatabaseMembership(
            database,
            component=component,
            identity=identity,
            namespace=namespace,
            lease_duration_s=lease_duration_s,
            renew_interval_s=renew_interval_s,
        )
    return LeaseMembership(
        api_client if api_client is not None else load_api_client(),
        component=component,
        identity=identity,
        namespace=namespace,
        lease_duration_s=lease_duration_s,
        renew_interval_s=renew_interval_s,
    )


def open_lease_lock(
    name: str,
    *,
    database: Database,
    identity: str | None = None,
    lease_duration_s: float = 15.0,
    labels: Mapping[str, str] | None = None,
    api_client: Any = None,
    namespace: str | None = None,
    backend: Backend = "auto",
) -> LeaseLock:
    """Kubernetes Leases in a cluster (or when ``api_client`` is given), the database otherwise."""
    if _use_database(backend, api_client):
        return DatabaseLeaseLock(
            database,
            name=name,
            identity=identity,
            namespace=namespace,
            lease_duration_s=lease_duration_s,
            labels=labels,
        )
    return LeaseLock(
        api_client if api_client is not None else load_api_client(),
        name=name,
        identity=identity,
        namespace=namespace,
        lease_duration_s=lease_duration_s,
        labels=labels,
    )
