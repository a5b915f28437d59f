"""Database-backed leases on SQLite (one file, several engines or processes) and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.config.config_exception import ConfigException
from sqlalchemy import text

from kuzet.common.db import Database
from kuzet.common.dblease import (
    DatabaseLeaseLock,
    DatabaseLeaseStore,
    DatabaseMembership,
    LeaseStoreUnavailable,
    open_lease_lock,
    open_membership,
)
from kuzet.common.k8s import LeaseLock, LeaseMembership

DURATION = 2.0  # seconds; short leases keep the tests short, the rules do not depend on it


@pytest.fixture
def databases(db_url: str) -> Iterator[Any]:
    """A fresh engine per participant, as separate processes would have."""
    made: list[Database] = []

    def make() -> Database:
        made.append(Database(db_url))
        return made[-1]

    yield make
    for db in made:
        db.dispose()


def member(databases: Any, identity: str) -> DatabaseMembership:
    return DatabaseMembership(
        databases(), component="ingest", identity=identity, lease_duration_s=DURATION, renew_interval_s=0.5
    )


def lock(databases: Any, identity: str, name: str = "drone-fleet-north") -> DatabaseLeaseLock:
    return DatabaseLeaseLock(databases(), name=name, identity=identity, lease_duration_s=DURATION)


async def wait_for(check: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


# ---------------------------------------------------------------------------- membership ---


async def test_members_see_each_other_and_departures(databases: Any) -> None:
    async with member(databases, "ingest-0") as a, member(databases, "ingest-1") as b:
        assert await a.live_members() == ("ingest-0", "ingest-1")
        assert await b.live_members() == ("ingest-0", "ingest-1")
        async with member(databases, "ingest-2"):
            assert await a.live_members() == ("ingest-0", "ingest-1", "ingest-2")
        # A graceful leave deletes the row: visible at once, not after expiry.
        assert await a.live_members() == ("ingest-0", "ingest-1")
        # Another component's members are not ours.
        async with DatabaseMembership(databases(), component="drone", identity="drone-0"):
            assert await a.live_members() == ("ingest-0", "ingest-1")
    store = DatabaseLeaseStore(databases(), "default")
    assert await store.list("") == []


async def test_crashed_member_expires_after_its_lease_not_before(databases: Any) -> None:
    async with member(databases, "ingest-0") as a:
        crashed = member(databases, "ingest-1")
        await crashed.join()  # joined, then nobody renews: the process died without a goodbye
        assert await a.live_members() == ("ingest-0", "ingest-1")
        started = time.monotonic()
        while await a.live_members() != ("ingest-0",):
            assert time.monotonic() - started < DURATION + 3, "the crashed member never expired"
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
        assert DURATION - 0.1 <= elapsed <= DURATION + 3


async def test_rejoining_member_is_live_at_once(databases: Any) -> None:
    async with member(databases, "ingest-0") as a:
        async with member(databases, "ingest-1"):
            assert await a.live_members() == ("ingest-0", "ingest-1")
        # Re-created under the same name: a new version, never mistaken for the old expired one.
        async with member(databases, "ingest-1"):
            assert await a.live_members() == ("ingest-0", "ingest-1")


async def test_restarted_replica_takes_its_row_back(databases: Any) -> None:
    first = member(databases, "ingest-0")
    await first.join()  # then "crashes": the row stays behind
    async with member(databases, "ingest-0") as again:
        assert again.holding
        assert await again.live_members() == ("ingest-0",)


async def test_membership_stops_holding_when_renewals_fail(databases: Any, db_url: str) -> None:
    async with member(databases, "ingest-0") as a:
        assert a.holding and a.holding_for_s > DURATION / 2
        with table_locked(db_url):
            started = time.monotonic()
            await wait_for(lambda: _true(not a.holding), DURATION + 1, "the membership to drop")
            # It gave up within its own lease: nobody else could have judged it expired yet.
            assert time.monotonic() - started <= DURATION
        await wait_for(lambda: _true(a.holding), DURATION + 3, "the membership to recover")


async def test_changes_keep_the_last_view_while_listing_fails(databases: Any, db_url: str) -> None:
    async with member(databases, "ingest-0") as a, member(databases, "ingest-1"):
        changes = a.changes(poll_interval_s=0.1)
        assert await asyncio.wait_for(anext(changes), 10) == ("ingest-0", "ingest-1")
        with table_locked(db_url):
            # While our own lease still holds, a failed listing must not report us alone (that
            # would hand us ingest-1's cameras); once it lapses we report nobody.
            assert await asyncio.wait_for(anext(changes), DURATION + 3) == ()
        assert await asyncio.wait_for(anext(changes), DURATION + 5) == ("ingest-0", "ingest-1")
        await getattr(changes, "aclose")()  # noqa: B009 - typed as an AsyncIterator, is a generator


# ---------------------------------------------------------------------------------- lock ---


async def test_one_holder_renews_and_others_wait(databases: Any) -> None:
    a, b = lock(databases, "drone-a"), lock(databases, "drone-b")
    assert await a.try_acquire_or_renew()
    assert a.is_leader
    assert not await b.try_acquire_or_renew()
    assert b.holder == "drone-a" and not b.is_leader
    for _ in range(3):  # renewals keep it across more than one lease duration
        await asyncio.sleep(DURATION / 2)
        assert await a.try_acquire_or_renew()
        assert not await b.try_acquire_or_renew()
    record = await DatabaseLeaseStore(databases(), "default").get("drone-fleet-north")
    assert record is not None and record.holder == "drone-a" and record.transitions == 0


async def test_takeover_only_after_expiry(databases: Any) -> None:
    a, b = lock(databases, "drone-a"), lock(databases, "drone-b")
    assert await a.try_acquire_or_renew()
    # a stops renewing (like kill -9); b looks all the time and must not win early.
    assert not await b.try_acquire_or_renew()
    started = time.monotonic()
    while not await b.try_acquire_or_renew():
        assert time.monotonic() - started < DURATION + 3, "b never took over"
        await asyncio.sleep(0.02)
    assert time.monotonic() - started >= DURATION - 0.05
    assert b.is_leader
    # a, coming back, sees it lost rather than renewing over b.
    assert not await a.try_acquire_or_renew()
    assert not a.is_leader
    record = await DatabaseLeaseStore(databases(), "default").get("drone-fleet-north")
    assert record is not None and record.holder == "drone-b" and record.transitions == 1


async def test_release_hands_over_at_once(databases: Any) -> None:
    a, b = lock(databases, "drone-a"), lock(databases, "drone-b")
    assert await a.try_acquire_or_renew()
    assert await a.release()
    assert not a.is_leader
    assert await b.try_acquire_or_renew()


async def test_stale_version_loses(databases: Any) -> None:
    store = DatabaseLeaseStore(databases(), "default")
    a = lock(databases, "drone-a", name="fleet-stale")
    assert await a.try_acquire_or_renew()
    stale = await store.get("fleet-stale")
    assert stale is not None
    assert await a.try_acquire_or_renew()  # a renews: the version moves on
    body = {
        "metadata": {"name": "fleet-stale", "labels": {}, "resourceVersion": stale.resource_version},
        "spec": {
            "holderIdentity": "intruder",
            "leaseDurationSeconds": 2,
            "acquireTime": "2026-01-01T00:00:00.000000Z",
            "renewTime": "2026-01-01T00:00:00.000000Z",
            "leaseTransitions": 0,
        },
    }
    assert await store.replace("fleet-stale", body) is None
    current = await store.get("fleet-stale")
    assert current is not None and current.holder == "drone-a"


async def test_concurrent_contenders_exactly_one_wins(databases: Any) -> None:
    locks = [lock(databases, f"drone-{i}", name="fleet-race") for i in range(6)]
    first = await asyncio.gather(*(lk.try_acquire_or_renew() for lk in locks))
    assert sum(first) == 1
    winner = locks[first.index(True)]
    others = [lk for lk in locks if lk is not winner]
    assert not any(await asyncio.gather(*(lk.try_acquire_or_renew() for lk in others)))
    await asyncio.sleep(DURATION + 0.3)
    second = await asyncio.gather(*(lk.try_acquire_or_renew() for lk in others))
    assert sum(second) == 1
    assert sum(lk.is_leader for lk in locks) == 1


async def test_holder_whose_renewal_fails_stops_believing_it_holds(databases: Any, db_url: str) -> None:
    a = lock(databases, "drone-a")
    assert await a.try_acquire_or_renew()
    with table_locked(db_url):
        with pytest.raises(LeaseStoreUnavailable):
            await a.try_acquire_or_renew()
        # Its term ends on its own clock, counted from before its last successful write.
        await wait_for(lambda: _true(not a.is_leader), DURATION + 1, "a to stop leading")


# ------------------------------------------------------------------- processes, kill -9 ---

HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from kuzet.common.db import Database
    from kuzet.common.dblease import DatabaseLeaseLock

    async def main():
        lk = DatabaseLeaseLock(Database(sys.argv[1]), name="fleet-kill", identity="drone-a",
                               lease_duration_s=float(sys.argv[2]))
        while True:
            if await lk.try_acquire_or_renew():
                print("holding", flush=True)
            await asyncio.sleep(0.2)

    asyncio.run(main())
    """
)


async def test_killed_holder_process_loses_the_lock_after_the_duration(databases: Any, db_url: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, db_url, str(DURATION), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.strip() == b"holding"
        b = lock(databases, "drone-b", name="fleet-kill")
        assert not await b.try_acquire_or_renew()  # b has seen the holder's current version
        await asyncio.sleep(1.0)  # the holder keeps renewing: still not b's
        assert not await b.try_acquire_or_renew()
        os.kill(proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        while not await b.try_acquire_or_renew():
            assert time.monotonic() - killed < DURATION + 3, "b never took over from the dead holder"
            await asyncio.sleep(0.02)
        took = time.monotonic() - killed
        print(f"lock takeover after kill -9: {took:.2f}s (lease {DURATION}s)")
        # The last renewal was at most 0.2 s before the kill; b counts from when it saw it.
        assert DURATION - 0.3 <= took <= DURATION + 3
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


# ------------------------------------------------------------------------------- factory ---


async def test_factory_picks_the_database_outside_kubernetes(
    monkeypatch: pytest.MonkeyPatch, databases: Any
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    db = databases()
    assert isinstance(open_membership("ingest", database=db, identity="ingest-0"), DatabaseMembership)
    assert isinstance(open_lease_lock("fleet", database=db, identity="drone-0"), DatabaseLeaseLock)
    api = object()  # an ApiClient, as a test against kube-apiserver passes one
    membership = open_membership("ingest", database=db, identity="ingest-0", api_client=api)
    assert type(membership) is LeaseMembership
    assert type(open_lease_lock("fleet", database=db, identity="d", api_client=api)) is LeaseLock
    forced = open_membership("ingest", database=db, identity="ingest-0", api_client=api, backend="database")
    assert isinstance(forced, DatabaseMembership)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    with pytest.raises(ConfigException):  # no service account here: proves it went for the API
        open_membership("ingest", database=db, identity="ingest-0")  # in a pod: the API server


# ------------------------------------------------------------------------------- helpers ---


async def _true(value: bool) -> bool:
    return value


@contextlib.contextmanager
def table_locked(db_url: str) -> Iterator[None]:
    """Hold the lease table (SQLite: the whole file) locked from another connection.

    What a renewer sees when its database stalls: its statements wait, then time out.
    """
    db = Database(db_url)
    ready, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.engine.connect() as conn:
            if db.is_sqlite:
                # The engine's BEGIN IMMEDIATE takes the write lock; every lease statement starts
                # its own BEGIN IMMEDIATE and waits behind it.
                conn.execute(text("SELECT 1"))
            else:
                conn.execute(text("LOCK TABLE kuzet_leases IN ACCESS EXCLUSIVE MODE"))
            ready.set()
            release.wait()
            conn.rollback()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    try:
        assert ready.wait(10)
        yield
    finally:
        release.set()
        holder.join(10)
        db.dispose()
