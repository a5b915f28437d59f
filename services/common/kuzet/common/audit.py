"""Append-only, keyed, hash-chained audit log that an auditor can verify.

Each record's MAC (HMAC-SHA256 under a key that is not in the database, named by the record's
key id) covers its content and the previous record's MAC, and sequence numbers have no gaps, so
editing or deleting any record breaks verification at that exact record even for someone who
can write the database and recompute hashes. The chain head is anchored periodically outside the
database (``kuzet.common.auditanchor``, S3 object lock), so truncating the newest records, or
rewriting the chain with the key, fails verification behind the latest anchor.

Records written before keys existed (key id "") verify by their plain SHA-256 as "legacy,
unkeyed"; they may only precede the first keyed record. On PostgreSQL a trigger refuses UPDATE,
DELETE and TRUNCATE on the table (migrations in ``kuzet.common.auditmigrations``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
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

from kuzet.common.auditanchor import Anchor, AnchorStore, anchor_store_for
from kuzet.common.auditkeys import AuditKey, AuditKeyring, load_keyring
from kuzet.common.caller import current_caller
from kuzet.common.config import AuditSettings, ServiceSettings, load_settings
from kuzet.common.db import Database, migrate
from kuzet.common.timeutil import as_utc, utcnow
from kuzet.common.waiting import within

log = logging.getLogger(__name__)

GENESIS = "0" * 64
_LOCK_KEY = 0x6B757A6574  # "kuzet": PostgreSQL advisory lock serialising appends across replicas
# Another advisory lock: one replica at a time anchors the head (the others skip that round).
_ANCHOR_LOCK_KEY = 0x6B757A65742D61  # "kuzet-a"
LEGACY_KEY_ID = ""  # records written before keys: plain SHA-256
MIGRATIONS = "kuzet.common.auditmigrations"
VERSION_TABLE = "alembic_version_audit"

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
    Column("key_id", String(32), nullable=False, server_default=LEGACY_KEY_ID),
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
    # The key whose HMAC ``hash`` is; "" for a legacy record, whose ``hash`` is plain SHA-256.
    key_id: str = LEGACY_KEY_ID


@dataclass(frozen=True)
class Verification:
    ok: bool
    records_checked: int
    first_bad_seq: int = 0
    reason: str = ""
    # Records before the first keyed one (verified by plain SHA-256 only).
    legacy_records: int = 0
    # The latest anchor the chain was checked against (None: none written yet or no store).
    anchor: Anchor | None = None
    anchor_store: str = ""


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
    """The plain SHA-256 of a legacy (unkeyed) record."""
    body = _body(
        [seq, as_utc(recorded_at).isoformat(), agency, actor, action, target, outcome, details, prev_hash]
    )
    return hashlib.sha256(body).hexdigest()


def record_mac(
    key: AuditKey,
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
    """HMAC-SHA256 of a keyed record; the key id is inside, so a record cannot change keys."""
    fields = [
        seq,
        as_utc(recorded_at).isoformat(),
        agency,
        actor,
        action,
        target,
        outcome,
        details,
        prev_hash,
    ]
    return hmac.new(key.secret, _body([*fields, key.key_id]), hashlib.sha256).hexdigest()


def _body(fields: list[Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()


class AuditLog:
    """The trail in ``database``; without ``keys`` they come from KUZET_AUDIT_* (ConfigError if none).

    With ``anchors``, ``start()`` anchors the head every ``anchor_interval_s`` while it moves.
    """

    def __init__(
        self,
        database: Database,
        keys: AuditKeyring | None = None,
        *,
        anchors: AnchorStore | None = None,
        anchor_interval_s: float = 60.0,
    ) -> None:
        self.database = database
        self.keys = keys or load_keyring()
        self.anchors = anchors
        self.anchor_interval_s = anchor_interval_s
        self._anchored_seq = 0
        self._anchoring: asyncio.Task[None] | None = None
        migrate(database, MIGRATIONS, version_table=VERSION_TABLE)

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
        key = self.keys.current
        digest = record_mac(key, seq, recorded_at, prev_hash=prev, **fields)
        session.execute(
            audit_table.insert().values(
                seq=seq, recorded_at=recorded_at, prev_hash=prev, hash=digest, key_id=key.key_id, **fields
            )
        )
        return AuditEntry(
            seq=seq, recorded_at=recorded_at, prev_hash=prev, hash=digest, key_id=key.key_id, **fields
        )

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

    def head(self) -> AuditEntry | None:
        with self.database.session() as session:
            return self._head(session)

    @staticmethod
    def _head(session: Session) -> AuditEntry | None:
        row = session.execute(select(audit_table).order_by(audit_table.c.seq.desc()).limit(1)).first()
        return _entry(row) if row else None

    async def verify_anchored(self) -> Verification:
        """``verify`` against the latest anchor (read first: every anchor then precedes the walk)."""
        anchor = None
        if self.anchors is not None:
            head = await asyncio.to_thread(self.head)
            try:
                anchor = await self.anchors.latest(head.seq if head else 0)
            except ValueError as exc:  # a store that is down raises Unavailable to the caller
                return Verification(False, 0, 0, f"the latest anchor is unreadable: {exc}")
        return await asyncio.to_thread(self.verify, anchor)

    def verify(self, anchor: Anchor | None = None, batch: int = 5000) -> Verification:
        """Walk the chain: links, MACs (legacy hashes before the first keyed record), the anchor."""
        expected_seq, prev = 1, GENESIS
        checked = legacy = keyed_from = 0
        store = self.anchors.description if self.anchors is not None else ""

        def failed(seq: int, reason: str) -> Verification:
            log.warning("audit chain does not verify", extra={"first_bad_seq": seq, "reason": reason})
            return Verification(False, checked, seq, reason, legacy, anchor, store)

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
                        return failed(expected_seq, f"record {expected_seq} is missing")
                    if entry.prev_hash != prev:
                        return failed(entry.seq, "previous-hash link is broken")
                    problem = self._check_record(entry, keyed_from)
                    if problem:
                        return failed(entry.seq, problem)
                    if entry.key_id == LEGACY_KEY_ID:
                        legacy += 1
                    elif not keyed_from:
                        keyed_from = entry.seq
                    if anchor is not None and entry.seq == anchor.seq and entry.hash != anchor.mac:
                        return failed(
                            entry.seq,
                            f"record {entry.seq} differs from the head anchored in {anchor.object_key} "
                            f"at {anchor.anchored_at.isoformat()}: the chain was rewritten up to here",
                        )
                    prev, expected_seq = entry.hash, entry.seq + 1
                    checked += 1
        if anchor is not None and anchor.seq >= expected_seq:
            return failed(
                expected_seq,
                f"the chain ends at record {expected_seq - 1} but {anchor.object_key} anchored record "
                f"{anchor.seq} at {anchor.anchored_at.isoformat()}: records were removed",
            )
        log.info("audit chain verified", extra={"records": checked, "head_hash": prev, "legacy": legacy})
        reason = ""
        if legacy:
            # The first keyed record's MAC covers the last legacy hash, and so every legacy record.
            reason = f"records 1-{legacy} are legacy, unkeyed (plain SHA-256, written before audit keys)" + (
                "; the keyed records after them cover them"
                if keyed_from
                else ": a database administrator could have rewritten them"
            )
        return Verification(True, checked, 0, reason, legacy, anchor, store)

    def _check_record(self, entry: AuditEntry, keyed_from: int) -> str:
        """Why ``entry`` does not verify, or ""."""
        fields = (
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
        if entry.key_id == LEGACY_KEY_ID:
            if keyed_from:
                return f"unkeyed record after keyed records began at {keyed_from}"
            ok = hmac.compare_digest(record_hash(*fields), entry.hash)
            return "" if ok else "content does not match its hash (legacy, unkeyed record)"
        key = self.keys.get(entry.key_id)
        if key is None:
            return (
                f"record names audit key {entry.key_id!r}, which this service does not hold "
                "(earlier keys belong in KUZET_AUDIT_OLD_KEYS)"
            )
        ok = hmac.compare_digest(record_mac(key, *fields), entry.hash)
        return "" if ok else f"content does not match its keyed hash (HMAC-SHA256, key {entry.key_id!r})"

    # ---------------------------------------------------------------------------- anchoring ---

    async def start(self) -> None:
        """Anchor the head now and every ``anchor_interval_s`` while it moves (no-op without a store)."""
        if self.anchors is None or self._anchoring is not None:
            return
        try:
            head = await asyncio.to_thread(self.head)
            latest = await self.anchors.latest(head.seq if head else 0)
        except Exception as exc:  # the loop retries; a store that is down must not stop the service
            log.warning("audit anchors unreadable at start: %s", exc)
            latest = None
        self._anchored_seq = latest.seq if latest else 0
        if not self.anchors.locked:
            log.warning(
                "audit anchors are plain files (%s): no object lock protects them", self.anchors.description
            )
        self._anchoring = asyncio.create_task(self._anchor_loop(), name="audit-anchor")

    async def stop(self) -> None:
        """Stop anchoring, after a last anchor of the head (best effort)."""
        task, self._anchoring = self._anchoring, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        try:
            await within(10, self.anchor_once())
        except Exception as exc:
            log.warning("last audit anchor failed: %s", exc)

    async def anchor_once(self) -> Anchor | None:
        """Anchor the head if it moved since the last anchor; None when nothing was written here."""
        if self.anchors is None:
            return None
        return await asyncio.to_thread(self._anchor_step)

    async def _anchor_loop(self) -> None:
        failures = 0
        while True:
            try:
                await self.anchor_once()
                failures = 0
                delay = self.anchor_interval_s
            except Exception as exc:
                failures += 1
                delay = min(self.anchor_interval_s, 2.0**failures)
                log.warning("audit anchor failed (attempt %d, next in %.0f s): %s", failures, delay, exc)
            await asyncio.sleep(delay)

    def _anchor_step(self) -> Anchor | None:
        if self.database.is_sqlite:
            # One process per SQLite file; holding its write lock during the upload would stall appends.
            return self._write_anchor(self.head())
        with self.database.session() as session:
            # Held while the anchor is written, so replicas never race; the others skip this round.
            locked = session.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _ANCHOR_LOCK_KEY}
            ).scalar()
            if not locked:
                return None
            return self._write_anchor(self._head(session))

    def _write_anchor(self, head: AuditEntry | None) -> Anchor | None:
        assert self.anchors is not None
        if head is None or head.seq <= self._anchored_seq:
            return None
        # On a loop of this thread's own, not the service's: this worker waiting there for a
        # store call that needs a worker of the same default pool starved the pool, and froze
        # the process for minutes, once several trails anchored at the same moment (services
        # sharing a process, as the tests run them). The stores keep no loop-bound state.
        written = asyncio.run(
            within(120, self.anchors.write(head.seq, head.hash, head.key_id, head.recorded_at))
        )
        if written.mac != head.hash:
            # Another writer anchored a different record at this seq: the chain was rewritten.
            log.error(
                "audit record %d differs from its anchor %s: the chain was rewritten",
                head.seq,
                written.object_key,
            )
        self._anchored_seq = max(self._anchored_seq, written.seq)
        return written


def open_audit_log(
    settings: ServiceSettings, database: Database, audit: AuditSettings | None = None
) -> AuditLog:
    """A service's trail: keys and anchoring from KUZET_AUDIT_* (ConfigError without a key)."""
    audit = audit or load_settings(AuditSettings)
    return AuditLog(
        database,
        load_keyring(audit),
        anchors=anchor_store_for(settings, audit),
        anchor_interval_s=audit.anchor_interval_s,
    )


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
        key_id=m["key_id"] or LEGACY_KEY_ID,
    )
