"""One export run: an agency's citations whose current version the register has not acknowledged
(newly issued, or changed since), in batches, each citation under the idempotency key
``<citation_id>:<version>`` until the register acknowledges that version.

Per citation the database keeps what the register last said: its number and when it
acknowledged (register_id, exported_at, exported_version), or why it refused or could not be
reached (export_error). A rejected version is not sent again until the citation changes or a run
is asked to retry rejections. When the register cannot be reached the run stops at once: the
batches after it wait for the next run rather than being thrown at a register that is down."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from google.protobuf.json_format import MessageToDict
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kuzet.badge import lifecycle
from kuzet.badge.export.register import Outcome, RegisterClient, RegisterUnavailable
from kuzet.badge.models import CitationRow
from kuzet.common.audit import AuditLog
from kuzet.common.db import Database
from kuzet.common.timeutil import utcnow

ACTION = "citation.export"
# The audit record names the citations the register rejected, up to this many.
AUDIT_LIST_LIMIT = 1000
NOT_ACKNOWLEDGED = "sent, not acknowledged by the register (sent again by the next run)"


@dataclass(frozen=True)
class Rejected:
    citation_id: str
    reason: str


@dataclass
class ExportReport:
    agency: str
    register: str
    run_id: str
    outcome: str = "exported"  # exported, or failed (the register could not be reached)
    sent: int = 0
    acknowledged: int = 0
    unacknowledged: int = 0
    batches: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    error: str = ""

    def counts(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "acknowledged": self.acknowledged,
            "rejected": len(self.rejected),
            "unacknowledged": self.unacknowledged,
            "batches": self.batches,
        }

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "counts": self.counts()}


@dataclass(frozen=True)
class _Pending:
    citation_id: str
    key: str
    version: int
    body: dict[str, Any]


class CitationExporter:
    def __init__(
        self, database: Database, audit: AuditLog, register: RegisterClient, *, batch_size: int = 100
    ) -> None:
        if batch_size < 1:
            raise ValueError("the batch size is at least 1")
        self.database = database
        self.audit = audit
        self.register = register
        self.batch_size = batch_size

    async def run(self, agency: str, operator: str, *, retry_rejected: bool = False) -> ExportReport:
        report = ExportReport(agency, self.register.url, uuid.uuid4().hex)
        if retry_rejected:
            await self.database.run(_reopen_rejected, agency)
        after = ""
        async with self.register:
            while batch := await self.database.run(_pending, agency, after, self.batch_size):
                after = batch[-1].citation_id
                report.batches += 1
                report.sent += len(batch)
                try:
                    outcomes = await self.register.send({p.key: p.body for p in batch})
                except RegisterUnavailable as exc:
                    report.outcome, report.error = "failed", f"{self.register.url}: {exc}"
                    report.unacknowledged += len(batch)
                    await self.database.run(_unanswered, batch, report.error)
                    break
                await self.database.run(_settle, batch, outcomes)
                for p in batch:
                    outcome = outcomes.get(p.key)
                    if outcome is None:
                        report.unacknowledged += 1
                    elif outcome.accepted:
                        report.acknowledged += 1
                    else:
                        report.rejected.append(Rejected(p.citation_id, outcome.reason))
        await self.audit.record(
            ACTION,
            self.register.url,
            outcome="ok" if report.outcome == "exported" else "failed",
            details={
                "run_id": report.run_id,
                **report.counts(),
                "error": report.error,
                "rejections": [asdict(r) for r in report.rejected[:AUDIT_LIST_LIMIT]],
            },
            agency=agency,
            actor=operator,
        )
        return report


def _reopen_rejected(session: Session, agency: str) -> None:
    session.execute(
        update(CitationRow)
        .where(CitationRow.agency_id == agency, CitationRow.export_rejected.is_(True))
        .values(export_pending=True, export_rejected=False)
    )


def _pending(session: Session, agency: str, after: str, limit: int) -> list[_Pending]:
    rows = session.scalars(
        select(CitationRow)
        .where(
            CitationRow.agency_id == agency,
            CitationRow.export_pending.is_(True),
            CitationRow.citation_id > after,
        )
        .order_by(CitationRow.citation_id)
        .limit(limit)
    ).all()
    return [
        _Pending(row.citation_id, f"{row.citation_id}:{row.version}", row.version, _body(citation))
        for row, citation in zip(rows, lifecycle.messages(session, rows), strict=True)
    ]


def _body(citation: Any) -> dict[str, Any]:
    """The citation as the register reads it: its own register number instead of our export state."""
    register_id = citation.register.register_id
    citation.ClearField("register")
    # Our life cycle's offer to callers: the register keeps its own procedure.
    citation.ClearField("next_statuses")
    body = MessageToDict(citation, preserving_proto_field_name=True)
    if register_id:
        body["register_id"] = register_id
    return body


def _unanswered(session: Session, batch: Sequence[_Pending], error: str) -> None:
    session.execute(
        update(CitationRow)
        .where(CitationRow.citation_id.in_([p.citation_id for p in batch]))
        .values(export_error=error)
    )


def _settle(session: Session, batch: Sequence[_Pending], outcomes: dict[str, Outcome]) -> None:
    now = utcnow()
    rows = {
        r.citation_id: r
        for r in session.scalars(
            select(CitationRow)
            .where(CitationRow.citation_id.in_([p.citation_id for p in batch]))
            .with_for_update()
        )
    }
    for p in batch:
        row, outcome = rows[p.citation_id], outcomes.get(p.key)
        # A citation that changed since it was read stays pending: its new version goes next.
        current = row.version == p.version
        if outcome is None:
            row.export_error = NOT_ACKNOWLEDGED
        elif outcome.accepted:
            row.register_id = outcome.register_id
            row.exported_version = p.version
            row.exported_at = now
            row.export_error = ""
            row.export_pending = not current
        else:
            row.export_error = f"rejected by the register: {outcome.reason}"
            row.export_rejected = current
            row.export_pending = not current
