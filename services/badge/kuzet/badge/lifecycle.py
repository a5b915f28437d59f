"""A citation's life cycle: which transitions exist, who may make them, what they need, and the
Citation message assembled from its row, its history and its standing with the register."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.badge.models import CitationHistoryRow, CitationRow
from kuzet.badge.v1 import badge_pb2
from kuzet.common.caller import Caller
from kuzet.common.errors import FailedPrecondition, InvalidArgument
from kuzet.common.timeutil import to_timestamp

A = badge_pb2
S = badge_pb2.CitationStatus
ISSUED = A.CITATION_STATUS_ISSUED
PAID = A.CITATION_STATUS_PAID
CONTESTED = A.CITATION_STATUS_CONTESTED
UPHELD = A.CITATION_STATUS_UPHELD
VOIDED = A.CITATION_STATUS_VOIDED
MAX_REASON = 2000

# PAID and VOIDED are final: a refund or a reopened case is another procedure, not this record.
NEXT: dict[int, frozenset[int]] = {
    ISSUED: frozenset({PAID, CONTESTED, VOIDED}),
    CONTESTED: frozenset({UPHELD, VOIDED}),
    UPHELD: frozenset({PAID, VOIDED}),
}
# Deciding a contest and voiding are a supervisor's (the admin role); payments may also come from
# a payment system calling as a service.
ROLES: dict[int, tuple[str, ...]] = {
    PAID: ("operator", "admin", "service"),
    CONTESTED: ("operator", "admin"),
    UPHELD: ("admin",),
    VOIDED: ("admin",),
}
NEEDS_REASON: dict[int, str] = {
    CONTESTED: "contesting a citation needs the person's grounds",
    UPHELD: "upholding a contested citation needs the decision's reason",
    VOIDED: "voiding a citation needs a reason",
}


def name(status: int) -> str:
    return A.CitationStatus.Name(cast(S, status)).removeprefix("CITATION_STATUS_")


def check_request(caller: Caller, target: int, reason: str) -> str:
    """The reason, trimmed; INVALID_ARGUMENT or PERMISSION_DENIED before anything is read."""
    if target not in ROLES:
        allowed = ", ".join(name(s) for s in ROLES)
        raise InvalidArgument(f"status must be one of {allowed} (got {target})")
    caller.require_role(*ROLES[target])
    reason = reason.strip()
    if not reason and target in NEEDS_REASON:
        raise InvalidArgument(NEEDS_REASON[target])
    if len(reason) > MAX_REASON:
        raise InvalidArgument(f"reason is longer than {MAX_REASON} characters")
    return reason


def check_transition(row: CitationRow, target: int) -> None:
    if target not in NEXT.get(row.status, frozenset()):
        possible = ", ".join(sorted(name(s) for s in NEXT.get(row.status, ()))) or "none: it is final"
        raise FailedPrecondition(
            f"citation {row.citation_id} is {name(row.status)} and cannot become {name(target)} "
            f"(possible: {possible})"
        )


def record_transition(
    session: Session, row: CitationRow, target: int, actor: str, at: datetime, reason: str
) -> None:
    """Move the row to ``target`` and keep the step; a new version is pending export again."""
    previous = row.status
    row.version += 1
    row.status = target
    row.export_pending = True
    row.export_rejected = False
    session.add(
        CitationHistoryRow(
            citation_id=row.citation_id,
            seq=row.version,
            agency_id=row.agency_id,
            unit_id=row.unit_id,
            offence_code=row.offence_code,
            from_status=previous,
            to_status=target,
            actor=actor,
            at=at,
            reason=reason,
        )
    )


def messages(session: Session, rows: Sequence[CitationRow]) -> list[badge_pb2.Citation]:
    """The rows as Citations, with their histories read in one query."""
    history: dict[str, list[CitationHistoryRow]] = {}
    if rows:
        steps = session.scalars(
            select(CitationHistoryRow)
            .where(CitationHistoryRow.citation_id.in_([r.citation_id for r in rows]))
            .order_by(CitationHistoryRow.citation_id, CitationHistoryRow.seq)
        )
        for step in steps:
            history.setdefault(step.citation_id, []).append(step)
    return [message(row, history.get(row.citation_id, [])) for row in rows]


def message(row: CitationRow, history: Sequence[CitationHistoryRow]) -> badge_pb2.Citation:
    citation = A.Citation.FromString(row.payload)
    citation.status = cast(S, row.status)
    # Callers offer only these moves (the gateway's buttons): the table stays this module's alone.
    citation.next_statuses[:] = [cast(S, s) for s in sorted(NEXT.get(row.status, ()))]
    citation.unit_id = row.unit_id
    citation.history.extend(
        A.CitationTransition(
            from_status=cast(S, step.from_status),
            to_status=cast(S, step.to_status),
            actor=step.actor,
            at=to_timestamp(step.at),
            reason=step.reason,
        )
        for step in history
    )
    register = citation.register
    register.register_id = row.register_id
    register.exported_version = row.exported_version
    register.last_error = row.export_error
    register.rejected = row.export_rejected
    if row.exported_at is not None:
        register.exported_at.CopyFrom(to_timestamp(row.exported_at))
    return citation
