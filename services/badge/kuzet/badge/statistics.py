"""The figures an agency reports from its badges: citations per month, unit and offence code, and
integrity (bribery) reports per month.

A citation counts as issued in the month its offence occurred and as paid, contested, upheld or
voided in the month that transition was recorded. The database counts, grouped by month
(periods.py), unit, offence code and status."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from kuzet.badge import lifecycle
from kuzet.badge.models import CitationHistoryRow, CitationRow, IntegrityReportRow
from kuzet.badge.v1 import badge_pb2
from kuzet.common.audit import AuditLog
from kuzet.common.caller import Caller
from kuzet.common.db import Database
from kuzet.common.periods import Period, period_of

A = badge_pb2
READERS = ("operator", "admin", "auditor", "investigator", "internal_affairs")
COUNTED: dict[int, str] = {
    lifecycle.ISSUED: "issued",
    lifecycle.PAID: "paid",
    lifecycle.CONTESTED: "contested",
    lifecycle.UPHELD: "upheld",
    lifecycle.VOIDED: "voided",
}
Key = tuple[str, str, str]  # month, unit, offence code


class Statistics:
    def __init__(self, database: Database, audit: AuditLog) -> None:
        self.database = database
        self.audit = audit

    async def figures(
        self, caller: Caller, request: badge_pb2.GetBadgeStatisticsRequest
    ) -> badge_pb2.GetBadgeStatisticsResponse:
        caller.require_role(*READERS)
        agency = request.agency_id or caller.agency
        caller.require_agency(agency)
        period = period_of(request.since, request.until, request.time_zone)
        response = await self.database.run(_count, agency, period, caller.site_limit(agency))
        await self.audit.record(
            "statistics.view",
            agency,
            agency=agency,
            details={
                "since": period.since.isoformat(),
                "until": period.until.isoformat(),
                "time_zone": str(period.zone),
            },
        )
        return response


def _count(
    session: Session, agency: str, period: Period, units: frozenset[str] | None
) -> badge_pb2.GetBadgeStatisticsResponse:
    counts: dict[Key, Counter[str]] = {}
    issued = select(
        period.month_of(CitationRow.occurred_at).label("month"),
        CitationRow.unit_id,
        CitationRow.offence_code,
        literal(lifecycle.ISSUED).label("status"),
    ).where(CitationRow.agency_id == agency, period.contains(CitationRow.occurred_at))
    changes = select(
        period.month_of(CitationHistoryRow.at).label("month"),
        CitationHistoryRow.unit_id,
        CitationHistoryRow.offence_code,
        CitationHistoryRow.to_status.label("status"),
    ).where(
        CitationHistoryRow.agency_id == agency,
        period.contains(CitationHistoryRow.at),
        CitationHistoryRow.to_status != lifecycle.ISSUED,
    )
    if units is not None:
        issued = issued.where(CitationRow.unit_id.in_(units))
        changes = changes.where(CitationHistoryRow.unit_id.in_(units))
    for query in (issued, changes):
        rows = query.subquery()
        grouped = select(
            rows.c.month, rows.c.unit_id, rows.c.offence_code, rows.c.status, func.count()
        ).group_by(rows.c.month, rows.c.unit_id, rows.c.offence_code, rows.c.status)
        for month, unit, code, status, n in session.execute(grouped):
            counts.setdefault((month, unit, code), Counter())[COUNTED[status]] += n
    reports = (
        select(period.month_of(IntegrityReportRow.occurred_at).label("month"))
        .where(IntegrityReportRow.agency_id == agency, period.contains(IntegrityReportRow.occurred_at))
        .subquery()
    )
    per_month = session.execute(select(reports.c.month, func.count()).group_by(reports.c.month)).all()
    return A.GetBadgeStatisticsResponse(
        citations=[
            A.CitationFigures(month=month, unit_id=unit, offence_code=code, **counts[month, unit, code])
            for month, unit, code in sorted(counts)
        ],
        integrity_reports=[A.IntegrityFigures(month=m, reports=n) for m, n in sorted(per_month)],
    )
