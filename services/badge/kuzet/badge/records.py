"""E-citations and integrity reports."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.badge import convert, lifecycle, sites
from kuzet.badge.config import BadgeSettings
from kuzet.badge.models import BadgeRow, CitationRow, EvidenceRow, IntegrityReportRow, ShiftRow
from kuzet.badge.v1 import badge_pb2
from kuzet.common.audit import AuditLog
from kuzet.common.caller import Caller
from kuzet.common.db import Database
from kuzet.common.errors import ConfigError, FailedPrecondition, InvalidArgument, NotFound
from kuzet.common.events import new_event
from kuzet.common.paging import Keyset, Paging
from kuzet.common.timeutil import from_timestamp, to_timestamp, utcnow
from kuzet.common.v1 import common_pb2

A = badge_pb2
RECORD_PAGING = Paging(default=100, maximum=500, clamp=True)
CITATION_KEYS = Keyset("badge.citations", CitationRow.occurred_at, CitationRow.citation_id)
INTEGRITY_KEYS = Keyset("badge.integrity", IntegrityReportRow.occurred_at, IntegrityReportRow.report_id)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PLATE = re.compile(r"^[A-Z0-9 \-]{1,16}$")

# Used when no offence_codes_file is configured: a small administrative-code sample so a fresh
# install can issue citations; deployments configure their jurisdiction's list.
DEFAULT_OFFENCE_CODES = [
    A.OffenceCode(code="TR-101", description="Speeding up to 20 km/h over the limit", fine_minor_units=50_00),
    A.OffenceCode(
        code="TR-102", description="Speeding more than 20 km/h over the limit", fine_minor_units=150_00
    ),
    A.OffenceCode(code="TR-201", description="Running a red light", fine_minor_units=200_00),
    A.OffenceCode(code="TR-301", description="Parking in a prohibited place", fine_minor_units=30_00),
    A.OffenceCode(code="TR-401", description="Driving without a seat belt", fine_minor_units=40_00),
    A.OffenceCode(code="TR-402", description="Using a phone while driving", fine_minor_units=100_00),
    A.OffenceCode(code="PO-101", description="Disturbing public order", fine_minor_units=80_00),
    A.OffenceCode(code="PO-201", description="Littering in a public place", fine_minor_units=20_00),
]


def load_offence_codes(path: Path) -> dict[str, badge_pb2.OffenceCode]:
    if str(path) in ("", "."):
        return {c.code: c for c in DEFAULT_OFFENCE_CODES}
    try:
        entries = json.loads(path.read_text())
        codes = [
            A.OffenceCode(
                code=str(e["code"]),
                description=str(e["description"]),
                fine_minor_units=int(e.get("fine_minor_units", 0)),
            )
            for e in entries
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"KUZET_BADGE_OFFENCE_CODES_FILE {path}: {exc}") from None
    if not codes:
        raise ConfigError(f"KUZET_BADGE_OFFENCE_CODES_FILE {path} lists no offence codes")
    return {c.code: c for c in codes}


class Records:
    def __init__(
        self,
        settings: BadgeSettings,
        database: Database,
        audit: AuditLog,
        emit: Callable[[common_pb2.Event], None],
    ) -> None:
        self.settings = settings
        self.database = database
        self.audit = audit
        self.emit = emit
        self.offence_codes = load_offence_codes(settings.offence_codes_file)

    # -- citations ---------------------------------------------------------------------------

    def _check_citation(self, citation: badge_pb2.Citation) -> badge_pb2.OffenceCode:
        offence = self.offence_codes.get(citation.offence_code)
        if offence is None:
            raise InvalidArgument(f"unknown offence code {citation.offence_code!r} (see ListOffenceCodes)")
        convert.check_id(citation.officer_id, "officer_id")
        if not citation.HasField("occurred_at"):
            raise InvalidArgument("occurred_at is required")
        if from_timestamp(citation.occurred_at) > utcnow() + timedelta(minutes=5):  # type: ignore[operator]
            raise InvalidArgument("occurred_at is in the future")
        if not citation.HasField("location"):
            raise InvalidArgument("location is required")
        convert.check_position(citation.location, "location")
        person = citation.person
        if not person.full_name.strip() and not citation.vehicle.plate:
            raise InvalidArgument("a citation needs the person's name or the vehicle's plate")
        if person.date_of_birth and not _DATE.match(person.date_of_birth):
            raise InvalidArgument("person.date_of_birth must be YYYY-MM-DD")
        if citation.vehicle.plate and not _PLATE.match(citation.vehicle.plate.upper()):
            raise InvalidArgument("vehicle.plate must be 1-16 letters, digits, spaces or dashes")
        return offence

    async def create_citation(self, caller: Caller, citation: badge_pb2.Citation) -> badge_pb2.Citation:
        caller.require_role("operator", "admin", "investigator")
        offence = self._check_citation(citation)
        stored = A.Citation()
        stored.CopyFrom(citation)
        stored.citation_id = uuid.uuid4().hex
        stored.agency_id = caller.agency
        stored.offence_description = offence.description
        stored.vehicle.plate = citation.vehicle.plate.upper()
        created = utcnow()
        stored.created_at.CopyFrom(to_timestamp(created))
        occurred = from_timestamp(citation.occurred_at)

        # What the record keeps as issued; status, history and the register's side are columns
        # (the next statuses follow from the status).
        for field in ("status", "history", "unit_id", "register", "next_statuses"):
            stored.ClearField(field)

        def work(session: Session) -> badge_pb2.Citation:
            unit = ""
            if citation.badge_id:
                badge = session.get(BadgeRow, citation.badge_id)
                if badge is None or not caller.sees_site(badge.agency_id, badge.unit_id):
                    raise NotFound(f"badge {citation.badge_id} is not registered")
                caller.require_agency(badge.agency_id)
                unit = badge.unit_id
            # Without a badge the citation has no unit, which only an unlimited caller may see.
            caller.require_site(caller.agency, unit, "citation")
            _check_evidence(session, caller, stored.evidence_ids)
            row = CitationRow(
                citation_id=stored.citation_id,
                agency_id=caller.agency,
                officer_id=stored.officer_id,
                offence_code=stored.offence_code,
                vehicle_plate=stored.vehicle.plate,
                occurred_at=occurred,
                payload=stored.SerializeToString(),
                unit_id=unit,
                # Before its first step: record_transition makes it ISSUED, version 1.
                status=A.CITATION_STATUS_UNSPECIFIED,
                version=0,
            )
            session.add(row)
            session.flush()  # the history row's foreign key needs the citation first
            lifecycle.record_transition(session, row, lifecycle.ISSUED, caller.subject, created, "")
            session.flush()
            return lifecycle.messages(session, [row])[0]

        issued = await self.database.run(work)
        await self.audit.record(
            "citation.create", stored.citation_id, details={"offence_code": stored.offence_code}
        )
        return issued

    async def get_citation(self, caller: Caller, citation_id: str) -> badge_pb2.Citation:
        convert.check_id(citation_id, "citation_id")

        def read(session: Session) -> badge_pb2.Citation:
            row = session.get(CitationRow, citation_id)
            if row is None:
                raise NotFound(f"citation {citation_id} not found")
            caller.require_agency(row.agency_id)
            if not caller.sees_site(row.agency_id, row.unit_id):
                raise NotFound(f"citation {citation_id} not found")
            return lifecycle.messages(session, [row])[0]

        found = await self.database.run(read)
        await self.audit.record("citation.view", citation_id)
        return found

    async def update_citation_status(
        self, caller: Caller, request: badge_pb2.UpdateCitationStatusRequest
    ) -> badge_pb2.Citation:
        convert.check_id(request.citation_id, "citation_id")
        reason = lifecycle.check_request(caller, request.status, request.reason)
        now = utcnow()

        def work(session: Session) -> tuple[badge_pb2.Citation, int]:
            row = session.get(CitationRow, request.citation_id, with_for_update=True)
            if row is None:
                raise NotFound(f"citation {request.citation_id} not found")
            caller.require_agency(row.agency_id)
            if not caller.sees_site(row.agency_id, row.unit_id):
                raise NotFound(f"citation {request.citation_id} not found")
            previous = row.status
            lifecycle.check_transition(row, request.status)
            lifecycle.record_transition(session, row, request.status, caller.subject, now, reason)
            session.flush()
            return lifecycle.messages(session, [row])[0], previous

        try:
            updated, previous = await self.database.run(work)
        except FailedPrecondition as exc:
            await self.audit.record(
                "citation.status",
                request.citation_id,
                outcome="refused",
                details={"to": lifecycle.name(request.status), "error": str(exc)},
            )
            raise
        await self.audit.record(
            "citation.status",
            request.citation_id,
            details={
                "from": lifecycle.name(previous),
                "to": lifecycle.name(updated.status),
                "reason": reason,
            },
        )
        return updated

    async def list_citations(
        self, caller: Caller, request: badge_pb2.ListCitationsRequest
    ) -> badge_pb2.ListCitationsResponse:
        agency = request.agency_id or caller.agency
        caller.require_agency(agency)
        size = RECORD_PAGING.size(request.page)
        after = CITATION_KEYS.after(request.page.page_token)

        def read(session: Session) -> badge_pb2.ListCitationsResponse:
            query = select(CitationRow).where(CitationRow.agency_id == agency)
            if (allowed := caller.site_limit(agency)) is not None:
                query = query.where(CitationRow.unit_id.in_(allowed))
            if request.officer_id:
                query = query.where(CitationRow.officer_id == request.officer_id)
            if request.offence_code:
                query = query.where(CitationRow.offence_code == request.offence_code)
            if request.status:
                query = query.where(CitationRow.status == request.status)
            if request.vehicle_plate:
                query = query.where(CitationRow.vehicle_plate == request.vehicle_plate.upper())
            if since := from_timestamp(request.since):
                query = query.where(CitationRow.occurred_at >= since)
            if until := from_timestamp(request.until):
                query = query.where(CitationRow.occurred_at < until)
            rows, token = CITATION_KEYS.page(
                session.scalars(CITATION_KEYS.query(query, after, size)).all(), size
            )
            response = A.ListCitationsResponse(citations=lifecycle.messages(session, rows))
            response.page.next_page_token = token
            return response

        result = await self.database.run(read)
        await self.audit.record("citation.list", agency, details={"count": len(result.citations)})
        return result

    # -- integrity reports -------------------------------------------------------------------

    async def report_integrity(
        self, caller: Caller, report: badge_pb2.IntegrityReport
    ) -> badge_pb2.ReportIntegrityResponse:
        if caller.is_anonymous:
            raise InvalidArgument("an integrity report needs an identified reporter")
        if not report.description.strip():
            raise InvalidArgument("description is required")
        if not report.HasField("occurred_at"):
            raise InvalidArgument("occurred_at is required")
        if report.HasField("location"):
            convert.check_position(report.location, "location")
        stored = A.IntegrityReport()
        stored.CopyFrom(report)
        stored.report_id = uuid.uuid4().hex
        stored.agency_id = caller.agency
        stored.reported_by = caller.subject
        if stored.source == A.INTEGRITY_REPORT_SOURCE_UNSPECIFIED:
            stored.source = (
                A.INTEGRITY_REPORT_SOURCE_SYSTEM
                if "service" in caller.roles
                else A.INTEGRITY_REPORT_SOURCE_OFFICER
            )
        stored.created_at.CopyFrom(to_timestamp(utcnow()))
        occurred = from_timestamp(report.occurred_at)
        assert occurred is not None
        window = timedelta(seconds=self.settings.integrity_link_window_s)

        def work(session: Session) -> int:
            if stored.badge_id:
                badge = session.get(BadgeRow, stored.badge_id)
                if badge is None:
                    raise NotFound(f"badge {stored.badge_id} is not registered")
                caller.require_agency(badge.agency_id)
                if not stored.officer_id:
                    stored.officer_id = (
                        session.scalar(
                            select(ShiftRow.officer_id)
                            .where(ShiftRow.badge_id == stored.badge_id, ShiftRow.started_at <= occurred)
                            .order_by(ShiftRow.started_at.desc())
                            .limit(1)
                        )
                        or ""
                    )
                # The recordings around the moment: started before its end and ended after its start.
                nearby = session.scalars(
                    select(EvidenceRow.evidence_id).where(
                        EvidenceRow.badge_id == stored.badge_id,
                        EvidenceRow.captured_at <= occurred + window,
                        (
                            EvidenceRow.captured_until.is_(None)
                            & (EvidenceRow.captured_at >= occurred - window)
                        )
                        | (EvidenceRow.captured_until >= occurred - window),
                    )
                )
                for evidence_id in nearby:
                    if evidence_id not in stored.evidence_ids:
                        stored.evidence_ids.append(evidence_id)
            # Not limited to the reporter's units: a report may concern any unit's officers and the
            # recordings around it, and only internal affairs reads it.
            _check_evidence(session, caller, stored.evidence_ids, by_unit=False)
            session.add(
                IntegrityReportRow(
                    report_id=stored.report_id,
                    agency_id=caller.agency,
                    officer_id=stored.officer_id,
                    occurred_at=occurred,
                    payload=stored.SerializeToString(),
                )
            )
            return len(stored.evidence_ids)

        linked = await self.database.run(work)
        await self.audit.record("integrity.report", stored.report_id, details={"linked_evidence": linked})
        # Whistleblower protection: the alert names neither the badge nor the officer (its source
        # is the report itself) and alerting shows it to internal affairs only, who read the
        # report with its reporter through ListIntegrityReports.
        self.emit(
            new_event(
                caller.agency,
                "integrity_report",
                common_pb2.Source(
                    kind=common_pb2.SOURCE_KIND_BADGE,
                    id=f"integrity:{stored.report_id}",
                    name="integrity report",
                ),
                occurred_at=occurred,
                attributes={"report_id": stored.report_id, "audience": "internal_affairs"},
                rule_id="integrity_report",
                subject=stored.report_id,
                summary="integrity report filed (details for internal affairs)",
            )
        )
        return A.ReportIntegrityResponse(report_id=stored.report_id, linked_evidence=linked)

    async def list_integrity(
        self, caller: Caller, request: badge_pb2.ListIntegrityReportsRequest
    ) -> badge_pb2.ListIntegrityReportsResponse:
        caller.require_role("internal_affairs")
        agency = request.agency_id or caller.agency
        caller.require_agency(agency)
        size = RECORD_PAGING.size(request.page)
        after = INTEGRITY_KEYS.after(request.page.page_token)

        def read(session: Session) -> badge_pb2.ListIntegrityReportsResponse:
            query = select(IntegrityReportRow).where(IntegrityReportRow.agency_id == agency)
            if request.officer_id:
                query = query.where(IntegrityReportRow.officer_id == request.officer_id)
            if since := from_timestamp(request.since):
                query = query.where(IntegrityReportRow.occurred_at >= since)
            if until := from_timestamp(request.until):
                query = query.where(IntegrityReportRow.occurred_at < until)
            rows, token = INTEGRITY_KEYS.page(
                session.scalars(INTEGRITY_KEYS.query(query, after, size)).all(), size
            )
            response = A.ListIntegrityReportsResponse(
                reports=[A.IntegrityReport.FromString(r.payload) for r in rows]
            )
            response.page.next_page_token = token
            return response

        result = await self.database.run(read)
        await self.audit.record("integrity.list", agency, details={"count": len(result.reports)})
        return result


def _check_evidence(
    session: Session, caller: Caller, evidence_ids: Iterable[str], *, by_unit: bool = True
) -> None:
    agency = caller.agency
    for evidence_id in evidence_ids:
        row = session.get(EvidenceRow, evidence_id)
        # An item of a unit outside the caller's sites reads as missing, as it does everywhere else.
        hidden = by_unit and row is not None and not sites.sees_evidence(session, caller, row)
        if row is None or row.agency_id != agency or hidden:
            raise InvalidArgument(f"linked evidence {evidence_id} does not exist in agency {agency}")
