"""Legal holds, their two-person release, and the retention runner (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, MetaData, String, Table, select
from sqlalchemy.orm import Session

from kuzet.common.audit import AuditLog
from kuzet.common.caller import Caller
from kuzet.common.db import Database
from kuzet.common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from kuzet.common.holds import HeldItem, Holds, held, lock_holds
from kuzet.common.retention import Batch, Retention, RetentionJob, RetentionPolicy
from kuzet.common.timeutil import as_utc, to_timestamp, utcnow
from kuzet.common.v1 import holds_pb2

ANNA = Caller("anna", "police", frozenset({"investigator"}))
BORIS = Caller("boris", "police", frozenset({"admin"}))
OLGA = Caller("olga", "police", frozenset({"operator"}))
PRISON = Caller("pavel", "prison", frozenset({"investigator"}))
KIND = "test.item"

_meta = MetaData()
items = Table(
    "scratch_items",
    _meta,
    Column("item_id", String(36), primary_key=True),
    Column("agency", String(64)),
    Column("case_id", String(64)),
    Column("source_id", String(64)),
    Column("at", DateTime(timezone=True)),
)


def _setup(url: str) -> tuple[Database, AuditLog, Holds]:
    db = Database(url)
    _meta.create_all(db.engine)
    audit = AuditLog(db)
    return db, audit, Holds(db, audit, {KIND: "scratch items"}, release_ttl_s=3600)


def _add(
    db: Database, item_id: str, *, agency: str = "police", age_days: float, case: str = "", source: str = ""
) -> None:
    with db.session() as s:
        s.execute(
            items.insert().values(
                item_id=item_id,
                agency=agency,
                case_id=case,
                source_id=source,
                at=utcnow() - timedelta(days=age_days),
            )
        )


def _left(db: Database) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(items.c.item_id)))


def _sweep(db: Database, holds: Holds, policy: RetentionPolicy) -> Any:
    async def sweep(now: datetime, cursor: Any, limit: int) -> Batch:
        def work(session: Session) -> Batch:
            lock_holds(session)
            active = holds.active(session, KIND)
            query = select(items).where(items.c.at < policy.earliest_cutoff(now)).order_by(items.c.item_id)
            if cursor is not None:
                query = query.where(items.c.item_id > cursor)
            rows = session.execute(query.limit(limit)).all()
            batch = Batch(cursor=rows[-1].item_id if len(rows) == limit else None)
            for r in rows:
                if as_utc(r.at) >= policy.cutoff(r.agency, now):
                    continue
                if held(
                    [h for h in active if h.agency == r.agency],
                    HeldItem(r.item_id, r.case_id, r.source_id, r.at),
                ):
                    batch.count(batch.kept_by_hold, r.agency)
                    continue
                session.execute(items.delete().where(items.c.item_id == r.item_id))
                batch.count(batch.deleted, r.agency)
            return batch

        return await db.run(work)

    return sweep


async def _leading(
    db: Database, audit: AuditLog, holds: Holds, policy: RetentionPolicy, *, batch: int = 2
) -> Retention:
    runner = Retention(
        "test",
        [RetentionJob(KIND, _sweep(db, holds, policy))],
        database=db,
        audit=audit,
        interval_s=3600,
        batch_size=batch,
        identity="replica-a",
        lease_duration_s=5,
    )
    assert await runner.lock.try_acquire_or_renew()
    return runner


def _place(**fields: Any) -> holds_pb2.PlaceHoldRequest:
    return holds_pb2.PlaceHoldRequest(kind=KIND, reason="case 17 investigation", **fields)


async def test_expired_items_go_held_items_stay_and_counts_are_audited(db_url: str) -> None:
    db, audit, holds = _setup(db_url)
    for i in range(5):
        _add(db, f"old-{i}", age_days=40)
    _add(db, "young", age_days=5)
    _add(db, "by-id", age_days=40)
    _add(db, "in-case", age_days=40, case="case-9")
    _add(db, "cam-in-range", age_days=40, source="cam-1")
    _add(db, "cam-out-of-range", age_days=60, source="cam-1")
    _add(db, "prison-old", agency="prison", age_days=40)
    _add(db, "prison-older", agency="prison", age_days=400)
    await holds.place(ANNA, _place(item_id="by-id"))
    await holds.place(ANNA, _place(case_id="case-9"))
    start = utcnow() - timedelta(days=45)
    await holds.place(
        BORIS,
        _place(
            source_id="cam-1", from_time=to_timestamp(start), to_time=to_timestamp(start + timedelta(days=10))
        ),
    )
    policy = RetentionPolicy(days=30, agency_days={"prison": 365})
    runner = await _leading(db, audit, holds, policy)

    assert await runner.run_once() == {KIND: 7}
    assert _left(db) == {"young", "by-id", "in-case", "cam-in-range", "prison-old"}
    status = runner.to_proto()[0]
    assert (status.deleted, status.kept_by_hold, status.error, status.running_here) == (7, 3, "", True)
    records = [e for e in audit.list(action_prefix="retention.") if e.target == KIND]
    by_agency = {e.agency: e.details for e in records}
    assert by_agency["police"]["deleted"] == 6 and by_agency["police"]["kept_by_hold"] == 3
    assert by_agency["prison"]["deleted"] == 1
    assert all(e.actor == "system:retention" for e in records)
    assert audit.verify().ok  # the trail is added to, never pruned


async def test_release_needs_two_people_then_retention_deletes(db_url: str) -> None:
    db, audit, holds = _setup(db_url)
    _add(db, "kept", age_days=40)
    hold = await holds.place(ANNA, _place(item_id="kept"))
    runner = await _leading(db, audit, holds, RetentionPolicy(days=30))

    pending, released = await holds.release(ANNA, hold.hold_id, "case closed")
    assert not released and pending.pending is not None and pending.pending.requested_by == "anna"
    assert pending.to_proto().state == holds_pb2.HOLD_STATE_RELEASE_PENDING
    with pytest.raises(FailedPrecondition, match="second person"):
        await holds.release(ANNA, hold.hold_id, "again, alone")
    assert await runner.run_once() == {KIND: 0}  # a pending release still holds
    assert _left(db) == {"kept"}

    done, released = await holds.release(BORIS, hold.hold_id, "agreed: case closed")
    assert released and done.released_by == "boris"
    assert done.to_proto().state == holds_pb2.HOLD_STATE_RELEASED
    with pytest.raises(FailedPrecondition, match="already released"):
        await holds.release(ANNA, hold.hold_id, "once more")
    assert await runner.run_once() == {KIND: 1}
    assert _left(db) == set()

    trail = [(e.action, e.actor) for e in audit.list(action_prefix="hold.")]
    assert trail == [("hold.place", "anna"), ("hold.release_request", "anna"), ("hold.release", "boris")]
    assert audit.list(action_prefix="hold.release")[-1].details["requested_by"] == "anna"


async def test_a_lapsed_release_request_needs_two_people_again(db_url: str) -> None:
    db, audit, _ = _setup(db_url)
    holds = Holds(db, audit, {KIND: "scratch items"}, release_ttl_s=1)
    hold = await holds.place(ANNA, _place(item_id="x"))
    _, released = await holds.release(ANNA, hold.hold_id, "done")
    assert not released
    await asyncio.sleep(1.2)
    current = await holds.get(BORIS, hold.hold_id)
    assert current.pending is None and current.to_proto().state == holds_pb2.HOLD_STATE_ACTIVE
    again, released = await holds.release(BORIS, hold.hold_id, "done")  # a fresh first request
    assert not released and again.pending is not None and again.pending.requested_by == "boris"
    _, released = await holds.release(ANNA, hold.hold_id, "agreed")
    assert released


async def test_who_may_hold_and_what_a_hold_must_say(db_url: str) -> None:
    _, audit, holds = _setup(db_url)
    with pytest.raises(PermissionDenied):
        await holds.place(OLGA, _place(item_id="x"))
    with pytest.raises(InvalidArgument, match="exactly one"):
        await holds.place(ANNA, _place(item_id="x", case_id="c"))
    with pytest.raises(InvalidArgument, match="kind"):
        await holds.place(ANNA, holds_pb2.PlaceHoldRequest(kind="other", item_id="x", reason="r"))
    with pytest.raises(InvalidArgument, match="reason"):
        await holds.place(ANNA, holds_pb2.PlaceHoldRequest(kind=KIND, item_id="x"))
    with pytest.raises(InvalidArgument, match="source_id only"):
        await holds.place(ANNA, _place(item_id="x", from_time=to_timestamp(utcnow())))
    with pytest.raises(PermissionDenied):
        await holds.place(ANNA, _place(item_id="x", agency_id="prison"))
    hold = await holds.place(ANNA, _place(item_id="x"))
    with pytest.raises(NotFound):  # another agency's hold reads as absent
        await holds.get(PRISON, hold.hold_id)
    with pytest.raises(NotFound):
        await holds.release(PRISON, hold.hold_id, "not yours")
    with pytest.raises(PermissionDenied):
        await holds.release(OLGA, hold.hold_id, "no role")
    with pytest.raises(InvalidArgument, match="reason"):
        await holds.release(BORIS, hold.hold_id, "")
    listed, _ = await holds.page(BORIS, holds_pb2.ListHoldsRequest())
    assert [h.hold_id for h in listed] == [hold.hold_id]
    assert (await holds.page(PRISON, holds_pb2.ListHoldsRequest()))[0] == []
    assert [e.action for e in audit.list(action_prefix="hold.")] == ["hold.place"]


async def test_a_second_replica_does_not_run_the_job(db_url: str) -> None:
    db, audit, _ = _setup(db_url)
    runs: dict[str, int] = {"a": 0, "b": 0}
    running = {"now": 0, "most": 0}
    first_run, tenth_run = asyncio.Event(), asyncio.Event()

    def job(name: str) -> RetentionJob:
        async def sweep(now: datetime, cursor: Any, limit: int) -> Batch:
            runs[name] += 1
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
            await asyncio.sleep(0.05)
            running["now"] -= 1
            if runs["a"] >= 1:
                first_run.set()
            if runs["a"] >= 10:
                tenth_run.set()
            return Batch()

        return RetentionJob(KIND, sweep)

    def runner(name: str) -> Retention:
        return Retention(
            "test",
            [job(name)],
            database=db,
            audit=audit,
            interval_s=0.1,
            batch_size=10,
            identity=f"replica-{name}",
            lease_duration_s=3,
        )

    a, b = runner("a"), runner("b")
    stop = asyncio.Event()
    task_a = asyncio.create_task(a.run(stop))
    await asyncio.wait_for(first_run.wait(), 20)
    task_b = asyncio.create_task(b.run(stop))
    await asyncio.wait_for(tenth_run.wait(), 30)
    assert runs["b"] == 0 and not b.running_here and a.running_here
    assert await b.run_once() is None  # not the leaseholder: refuses to run
    assert running["most"] == 1
    stop.set()
    await asyncio.gather(task_a, task_b)
    db.dispose()


def test_policy_refuses_non_positive_days() -> None:
    with pytest.raises(ValueError, match="police"):
        RetentionPolicy(days=30, agency_days={"police": 0})
    policy = RetentionPolicy(days=30, agency_days={"prison": 7})
    now = utcnow()
    assert policy.cutoff("prison", now) == now - timedelta(days=7)
    assert policy.cutoff("police", now) == now - timedelta(days=30)
    assert policy.earliest_cutoff(now) == now - timedelta(days=7)


async def test_a_failed_run_shows_in_status_and_health(db_url: str) -> None:
    from grpc_health.v1 import health, health_pb2

    from kuzet.common.retention import HEALTH_NAME

    db, audit, _ = _setup(db_url)
    failing = {"now": True}

    async def sweep(now: datetime, cursor: Any, limit: int) -> Batch:
        if failing["now"]:
            raise ConnectionError("object store unreachable")
        return Batch()

    runner = Retention(
        "test", [RetentionJob(KIND, sweep)], database=db, audit=audit, interval_s=3600, batch_size=5
    )
    servicer = health.aio.HealthServicer()
    await runner.report_to(servicer)
    assert await runner.lock.try_acquire_or_renew()

    async def status() -> int:
        reply = await servicer.Check(health_pb2.HealthCheckRequest(service=HEALTH_NAME), None)
        return int(reply.status)

    assert await status() == health_pb2.HealthCheckResponse.SERVING
    await runner.run_once()
    (run,) = runner.to_proto()
    assert "object store unreachable" in run.error and not runner.healthy
    assert await status() == health_pb2.HealthCheckResponse.NOT_SERVING
    failing["now"] = False
    await runner.run_once()
    assert runner.healthy and await status() == health_pb2.HealthCheckResponse.SERVING
    db.dispose()
