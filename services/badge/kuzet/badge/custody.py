"""Chain of custody: one hash-chained list of steps per evidence item.

Each step's hash covers its content and the previous step's hash, so an edited or removed step
breaks the chain at that step; exports carry the last hash so a receiver can anchor it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.badge.models import CustodyRow
from kuzet.badge.v1 import badge_pb2
from kuzet.common.timeutil import as_utc, utcnow

GENESIS = "0" * 64


def custody_hash(
    evidence_id: str,
    seq: int,
    action: int,
    actor: str,
    actor_agency_id: str,
    at: datetime,
    object_sha256: str,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    body = json.dumps(
        [
            evidence_id,
            seq,
            badge_pb2.CustodyAction.Name(action),
            actor,
            actor_agency_id,
            as_utc(at).isoformat(),
            object_sha256,
            details,
            prev_hash,
        ],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def append_custody(
    session: Session,
    evidence_id: str,
    action: int,
    *,
    actor: str,
    actor_agency_id: str,
    object_sha256: str,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
    after: CustodyRow | None = None,
) -> CustodyRow:
    """Add a step in the caller's transaction (two writers of one item collide on the key: retry).

    ``after``: the step this transaction has just added to the item; the new one is chained to it
    without reading the end of the chain back, and is flushed with the transaction.
    """
    if after is not None:
        seq, prev = after.seq + 1, after.hash
    else:
        last = session.execute(
            select(CustodyRow.seq, CustodyRow.hash)
            .where(CustodyRow.evidence_id == evidence_id)
            .order_by(CustodyRow.seq.desc())
            .limit(1)
        ).first()
        seq = (last.seq if last else 0) + 1
        prev = last.hash if last else GENESIS
    when = at or utcnow()
    clean = json.loads(json.dumps(details or {}, default=str))
    row = CustodyRow(
        evidence_id=evidence_id,
        seq=seq,
        action=action,
        actor=actor,
        actor_agency_id=actor_agency_id,
        at=when,
        object_sha256=object_sha256,
        details=clean,
        prev_hash=prev,
        hash=custody_hash(evidence_id, seq, action, actor, actor_agency_id, when, object_sha256, clean, prev),
    )
    session.add(row)
    if after is None:
        session.flush()
    return row


def chain_ok(rows: Sequence[CustodyRow]) -> bool:
    prev, expected = GENESIS, 1
    for row in rows:
        recomputed = custody_hash(
            row.evidence_id,
            row.seq,
            row.action,
            row.actor,
            row.actor_agency_id,
            row.at,
            row.object_sha256,
            dict(row.details or {}),
            row.prev_hash,
        )
        if row.seq != expected or row.prev_hash != prev or recomputed != row.hash:
            return False
        prev, expected = row.hash, expected + 1
    return True


def load_chain(session: Session, evidence_id: str) -> list[CustodyRow]:
    return list(
        session.scalars(
            select(CustodyRow).where(CustodyRow.evidence_id == evidence_id).order_by(CustodyRow.seq)
        )
    )
