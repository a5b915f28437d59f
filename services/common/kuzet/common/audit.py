"""Append-only, hash-chained audit log that an auditor can verify.

Each record's hash covers its content and the previous record's hash, and sequence numbers have
no gaps, so editing or deleting any record (other than the newest ones, whose head hash is logged
for anchoring elsewhere) breaks verification at that exact record.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    select,
    text,
)
from sqlalchemy.orm import Session

from kuzet.common.caller import current_caller
from kuzet.common.db import Database
from kuzet.common.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

GENESIS = "0" * 64
_LOCK_KEY = 0x6B757A6574  # "kuzet": PostgreSQL advisory lock serialising appends across replicas

metadata = MetaData()
audit_table = Table(
    "kuzet_audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("agency", String(64), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(128), nullable=False),
    Column("target", String(512), nullable=False),
    Column("outcome", String(256), nullable=False),
    Column("details", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_agency_time", "agency", "recorded_at"),
    Index("ix_audit_action", "action"),
)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    recorded_at: datetime
    agency: str
    actor: str
    action: str
    target: str
    outcome: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Verification:
    ok: bool
    records_checked: int
    first_bad_seq: int = 0
    reason: str = ""


def record_hash(
    seq: int,
    recorded_at: datetime,
    agency: str,
    actor: str,
    action: str,
    target: str,
    outcome: str,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    body = json.dumps(
        [seq, as_utc(recorded_at).isoformat(), agency, actor, action, target, outcome, details, prev_hash],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


class AuditLog:
    def __init__(self, database: Database) -> None:
        self.database = database
        metadata.create_all(database.engine, checkfirst=True)

    def append(
        self,
        action: str,
        target: str,
        outcome: str = "ok",
        details: dict[str, Any] | None = None,
        *,
        agency: str | None = None,
        actor: str | None = None,
        session: Session | None = None,
    ) -> AuditEntry:
        """Append a record; with ``session`` it commits atomically with the caller's own change."""
        caller = current_caller()
        fields = {
            "agency": caller.agency if agency is None else agency,
            "actor": (caller.subject or "anonymous") if actor is None else actor,
            "action": action,
            "target": target,
            "outcome": outcome,
            "details": json.loads(json.dumps(details or {}, default=str)),
        }
        # No lock in this process: appends are serialised by the database itself (SQLite's
        # BEGIN IMMEDIATE, PostgreSQL's advisory lock), across threads and replicas alike. A
        # process lock here would invert the order with a caller that already holds the
        # database's write lock and passes its session in.
        if session is not None:
            return self._append(session, fields)
        with self.database.session() as own:
            return self._append(own, fields)

    def _append(self, session: Session, fields: dict[str, Any]) -> AuditEntry:
        if not self.database.is_sqlite:
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        last = session.execute(
            select(audit_table.c.seq, audit_table.c.hash).order_by(audit_table.c.seq.desc()).limit(1)
        ).first()
        seq = (last.seq if last else 0) + 1
        prev = last.hash if last else GENESIS
        recorded_at = utcnow()
        digest = record_hash(seq, recorded_at, prev_hash=prev, **fields)
        session.execute(
            audit_table.insert().values(
                seq=seq, recorded_at=recorded_at, prev_hash=prev, hash=digest, **fields
            )
        )
        return AuditEntry(seq=seq, recorded_at=recorded_at, prev_hash=prev, hash=digest, **fields)

    async def record(
        self,
        action: str,
        target: str,
        outcome: str = "ok",
        details: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> AuditEntry:
        """``append`` from async code (the caller context is read before leaving the event loop)."""
        import asyncio

        caller = current_caller()
        kwargs.setdefault("agency", caller.agency)
        kwargs.setdefault("actor", caller.subject or "anonymous")
        return await asyncio.to_thread(self.append, action, target, outcome, details, **kwargs)

    def list(
        self,
        *,
        agency: str | None = None,
        action_prefix: str = "",
        actor: str = "",
        target: str = "",
        since: datetime | None = None,
        until: datetime | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> list[AuditEntry]:
        query = select(audit_table).where(audit_table.c.seq > after_seq)
        if agency is not None:
            query = query.where(audit_table.c.agency == agency)
        if action_prefix:
            query = query.where(audit_table.c.action.startswith(action_prefix))
        if actor:
            query = query.where(audit_table.c.actor == actor)
        if target:
            query = query.where(audit_table.c.target == target)
        if since is not None:
            query = query.where(audit_table.c.recorded_at >= since)
        if until is not None:
            query = query.where(audit_table.c.recorded_at < until)
        with self.database.session() as session:
            rows = session.execute(query.order_by(audit_table.c.seq).limit(limit)).all()
        return [_entry(row) for row in rows]

    def verify(self, batch: int = 5000) -> Verification:
        expected_seq, prev = 1, GENESIS
        checked = 0
        with self.database.session() as session:
            while True:
                rows = session.execute(
                    select(audit_table)
                    .where(audit_table.c.seq >= expected_seq)
                    .order_by(audit_table.c.seq)
                    .limit(batch)
                ).all()
                if not rows:
                    break
                for row in rows:
                    entry = _entry(row)
                    if entry.seq != expected_seq:
                        return Verification(False, checked, expected_seq, f"record {expected_seq} is missing")
                    if entry.prev_hash != prev:
                        return Verification(False, checked, entry.seq, "previous-hash link is broken")
                    recomputed = record_hash(
                        entry.seq,
                        entry.recorded_at,
                        entry.agency,
                        entry.actor,
                        entry.action,
                        entry.target,
                        entry.outcome,
                        entry.details,
                        entry.prev_hash,
                    )
                    if recomputed != entry.hash:
                        return Verification(False, checked, entry.seq, "content does not match its hash")
                    prev, expected_seq = entry.hash, entry.seq + 1
                    checked += 1
        log.info("audit chain verified", extra={"records": checked, "head_hash": prev})
        return Verification(True, checked)


def _entry(row: Any) -> AuditEntry:
    m = row._mapping
    return AuditEntry(
        seq=m["seq"],
        recorded_at=as_utc(m["recorded_at"]),
        agency=m["agency"],
        actor=m["actor"],
        action=m["action"],
        target=m["target"],
        outcome=m["outcome"],
        details=dict(m["details"] or {}),
        prev_hash=m["prev_hash"],
        hash=m["hash"],
    )
