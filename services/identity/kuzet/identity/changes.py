"""Writing the change feed: every transaction that changes what a search can find appends a row
to identity_changes, which every replica applies in sequence order (replication.py)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from kuzet.common.timeutil import utcnow
from kuzet.identity.models import ChangeRow

# PostgreSQL NOTIFY channel that wakes the other replicas; polling catches what it misses.
CHANNEL = "kuzet_identity_changes"
# Advisory lock key ("kzidchg"), held from the insert to the commit: see record_change.
_LOCK_KEY = 0x6B7A6964636867


def record_change(
    s: Session, kind: str, gallery_id: str, person_id: str = "", *, external_id: str = "", reason: str = ""
) -> None:
    """Append a change of one person (or, with no person, of a whole gallery) to the feed; an
    erasure also names the person's external id and the reason, which outlive the person's row.

    Call it last in the transaction, after the audit append (which takes the audit lock first,
    so every writer takes the two locks in the same order). Why the lock: a sequence number is
    taken at insert but visible only at commit, so without it seq 11 could commit before seq 10
    and a replica that has read 11 would never apply 10. Holding the lock until commit makes
    sequence order commit order. SQLite needs nothing: BEGIN IMMEDIATE already serialises writers.
    """
    postgres = s.get_bind().dialect.name == "postgresql"
    if postgres:
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    row = ChangeRow(
        gallery_id=gallery_id,
        person_id=person_id,
        kind=kind,
        changed_at=utcnow(),
        external_id=external_id,
        reason=reason,
    )
    s.add(row)
    s.flush()
    if postgres:
        # Delivered by PostgreSQL at commit, never before: a woken replica finds the row.
        s.execute(text("SELECT pg_notify(:channel, :seq)"), {"channel": CHANNEL, "seq": str(row.seq)})
