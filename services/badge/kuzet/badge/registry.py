"""Badge registry, officer shifts and incident assignments (the database side; the hub mirrors them)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.badge import convert, credentials
from kuzet.badge.models import BadgeRow, IncidentBadgeRow, IncidentRow, ShiftRow
from kuzet.badge.telemetry.hub import TelemetryHub
from kuzet.badge.v1 import badge_pb2
from kuzet.common.audit import AuditLog
from kuzet.common.caller import Caller
from kuzet.common.db import Database
from kuzet.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from kuzet.common.paging import Keyset, Paging
from kuzet.common.timeutil import as_utc, from_timestamp, utcnow

A = badge_pb2
# Page sizes beyond the maximum get the maximum (badge listings always did).
BADGE_PAGING = Paging(default=100, maximum=1000, clamp=True)
BADGE_KEYS = Keyset("badge.badges", BadgeRow.badge_id)
UPDATABLE = {"unit_id", "serial_number", "firmware_version", "status"}


class Registry:
    def __init__(self, database: Database, hub: TelemetryHub, audit: AuditLog) -> None:
        self.database = database
        self.hub = hub
        self.audit = audit

    @staticmethod
    def _badge(session: Session, caller: Caller, badge_id: str) -> BadgeRow:
        convert.check_id(badge_id, "badge_id")
        row = session.get(BadgeRow, badge_id)
        if row is None:
            raise NotFound(f"badge {badge_id} is not registered")
        caller.require_agency(row.agency_id)
        if not caller.sees_site(row.agency_id, row.unit_id):
            raise NotFound(f"badge {badge_id} is not registered")
        return row

    async def register(
        self, caller: Caller, request: badge_pb2.RegisterBadgeRequest
    ) -> badge_pb2.RegisterBadgeResponse:
        """The badge, with its first device token (the only time the token is shown)."""
        caller.require_role("admin")
        convert.check_id(request.badge_id, "badge_id")
        agency = request.agency_id or caller.agency
        convert.check_id(agency, "agency_id")
        caller.require_agency(agency)
        caller.require_site(agency, request.unit_id, f"badge {request.badge_id}")

        token, token_hash = credentials.new_token(request.badge_id)

        def work(session: Session) -> BadgeRow:
            if session.get(BadgeRow, request.badge_id) is not None:
                raise AlreadyExists(f"badge {request.badge_id} is already registered")
            now = utcnow()
            row = BadgeRow(
                badge_id=request.badge_id,
                agency_id=agency,
                unit_id=request.unit_id,
                serial_number=request.serial_number,
                firmware_version=request.firmware_version,
                status=A.BADGE_STATUS_ACTIVE,
                officer_id="",
                registered_at=now,
                updated_at=now,
                device_credential_hash=token_hash,
            )
            session.add(row)
            return row

        row = await self.database.run(work)
        self.hub.update_badge(row)
        await self.audit.record("badge.register", row.badge_id, agency=agency)
        return A.RegisterBadgeResponse(badge=convert.badge_to_proto(row), device_token=token)

    # -- device credentials ------------------------------------------------------------------

    async def issue_credential(
        self, caller: Caller, badge_id: str
    ) -> badge_pb2.IssueDeviceCredentialResponse:
        """A new device token; the old one stops working and the stream it opened ends."""
        caller.require_role("admin")
        convert.check_id(badge_id, "badge_id")
        token, token_hash = credentials.new_token(badge_id)

        def work(session: Session) -> BadgeRow:
            row = self._badge(session, caller, badge_id)
            if row.status == A.BADGE_STATUS_RETIRED:
                raise FailedPrecondition(f"badge {badge_id} is retired")
            row.device_credential_hash = token_hash
            row.updated_at = utcnow()
            return row

        row = await self.database.run(work)
        self.hub.update_badge(row)
        # The token itself is never recorded: the audit says who issued one, not what it was.
        await self.audit.record("badge.credential.issue", row.badge_id, agency=row.agency_id)
        return A.IssueDeviceCredentialResponse(badge=convert.badge_to_proto(row), device_token=token)

    async def revoke_credential(
        self, caller: Caller, badge_id: str
    ) -> badge_pb2.RevokeDeviceCredentialResponse:
        caller.require_role("admin")

        def work(session: Session) -> tuple[BadgeRow, bool]:
            row = self._badge(session, caller, badge_id)
            had = bool(row.device_credential_hash)
            if had:
                row.device_credential_hash = ""
                row.updated_at = utcnow()
            return row, had

        row, revoked = await self.database.run(work)
        self.hub.update_badge(row)
        await self.audit.record(
            "badge.credential.revoke", row.badge_id, details={"revoked": revoked}, agency=row.agency_id
        )
        return A.RevokeDeviceCredentialResponse(badge=convert.badge_to_proto(row), revoked=revoked)

    async def get(self, caller: Caller, badge_id: str) -> badge_pb2.GetBadgeResponse:
        def read(session: Session) -> badge_pb2.GetBadgeResponse:
            row = self._badge(session, caller, badge_id)
            shifts = session.scalars(
                select(ShiftRow)
                .where(ShiftRow.badge_id == badge_id)
                .order_by(ShiftRow.started_at.desc())
                .limit(100)
            )
            return A.GetBadgeResponse(
                badge=convert.badge_to_proto(row), assignments=[convert.shift_to_proto(s) for s in shifts]
            )

        return await self.database.run(read)

    async def list_badges(
        self, caller: Caller, request: badge_pb2.ListBadgesRequest
    ) -> badge_pb2.ListBadgesResponse:
        agency = request.agency_id or caller.agency
        caller.require_agency(agency)
        size = BADGE_PAGING.size(request.page)
        after = BADGE_KEYS.after(request.page.page_token)

        def read(session: Session) -> badge_pb2.ListBadgesResponse:
            query = select(BadgeRow).where(BadgeRow.agency_id == agency)
            if (allowed := caller.site_limit(agency)) is not None:
                query = query.where(BadgeRow.unit_id.in_(allowed))
            if request.unit_id:
                query = query.where(BadgeRow.unit_id == request.unit_id)
            if request.status:
                query = query.where(BadgeRow.status == request.status)
            rows, token = BADGE_KEYS.page(session.scalars(BADGE_KEYS.query(query, after, size)).all(), size)
            response = A.ListBadgesResponse(badges=[convert.badge_to_proto(r) for r in rows])
            response.page.next_page_token = token
            return response

        return await self.database.run(read)

    async def assign_officer(
        self, caller: Caller, request: badge_pb2.AssignOfficerRequest
    ) -> badge_pb2.AssignOfficerResponse:
        caller.require_role("admin", "operator")
        if request.officer_id:
            convert.check_id(request.officer_id, "officer_id")
        when = from_timestamp(request.started_at) or utcnow()

        def work(session: Session) -> tuple[BadgeRow, ShiftRow | None]:
            row = self._badge(session, caller, request.badge_id)
            if row.status == A.BADGE_STATUS_RETIRED:
                raise FailedPrecondition(f"badge {row.badge_id} is retired")
            open_shift = session.scalar(
                select(ShiftRow).where(ShiftRow.badge_id == row.badge_id, ShiftRow.ended_at.is_(None))
            )
            if open_shift is not None:
                if as_utc(open_shift.started_at) > when:
                    raise InvalidArgument("started_at is before the start of the open shift")
                open_shift.ended_at = when
            result = open_shift
            if request.officer_id:
                result = ShiftRow(
                    badge_id=row.badge_id,
                    officer_id=request.officer_id,
                    started_at=when,
                    assigned_by=caller.subject,
                )
                session.add(result)
            elif open_shift is None:
                raise FailedPrecondition(f"badge {row.badge_id} has no open shift to end")
            row.officer_id = request.officer_id
            row.updated_at = utcnow()
            session.flush()
            return row, result

        row, shift = await self.database.run(work)
        self.hub.update_badge(row)
        await self.audit.record(
            "badge.assign_officer",
            row.badge_id,
            details={"officer_id": request.officer_id},
            agency=row.agency_id,
        )
        response = A.AssignOfficerResponse(badge=convert.badge_to_proto(row))
        if shift is not None:
            response.assignment.CopyFrom(convert.shift_to_proto(shift))
        return response

    async def update(self, caller: Caller, request: badge_pb2.UpdateBadgeRequest) -> badge_pb2.Badge:
        caller.require_role("admin")
        paths = list(request.update_mask.paths)
        if not paths:
            raise InvalidArgument("update_mask names no field")
        unknown = set(paths) - UPDATABLE
        if unknown:
            raise InvalidArgument(
                f"cannot update {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(UPDATABLE))}"
            )
        if "status" in paths and request.badge.status == A.BADGE_STATUS_UNSPECIFIED:
            raise InvalidArgument("status must be set when it is in update_mask")

        def work(session: Session) -> BadgeRow:
            row = self._badge(session, caller, request.badge.badge_id)
            if "unit_id" in paths:
                # Moving a badge out of the caller's units would hand it to units it cannot manage.
                caller.require_site(row.agency_id, request.badge.unit_id, f"badge {row.badge_id}")
            for path in paths:
                setattr(row, path, getattr(request.badge, path))
            row.updated_at = utcnow()
            return row

        row = await self.database.run(work)
        self.hub.update_badge(row)
        await self.audit.record("badge.update", row.badge_id, details={"fields": paths}, agency=row.agency_id)
        return convert.badge_to_proto(row)

    # -- incidents ---------------------------------------------------------------------------

    async def assign_incident(self, caller: Caller, request: badge_pb2.AssignIncidentRequest) -> list[str]:
        caller.require_role("operator", "admin", "service")
        convert.check_id(request.incident_id, "incident_id")
        agency = request.agency_id or caller.agency
        caller.require_agency(agency)
        if not request.badge_ids:
            raise InvalidArgument("badge_ids is empty")
        if request.HasField("location"):
            convert.check_position(request.location, "location")
        now = utcnow()

        def work(session: Session) -> list[str]:
            incident = session.get(IncidentRow, request.incident_id)
            if incident is None:
                incident = IncidentRow(
                    incident_id=request.incident_id,
                    agency_id=agency,
                    summary=request.summary,
                    latitude=request.location.latitude,
                    longitude=request.location.longitude,
                    active=True,
                    created_at=now,
                )
                session.add(incident)
                session.flush()
            elif incident.agency_id != agency:
                raise AlreadyExists(f"incident {request.incident_id} belongs to another agency")
            elif not incident.active:
                raise FailedPrecondition(f"incident {request.incident_id} is closed")
            assigned = []
            for badge_id in dict.fromkeys(request.badge_ids):
                badge = self._badge(session, caller, badge_id)
                if badge.agency_id != agency:
                    raise InvalidArgument(f"badge {badge_id} is not in agency {agency}")
                # A badge works one incident at a time: release it from any other.
                for other in session.scalars(
                    select(IncidentBadgeRow).where(
                        IncidentBadgeRow.badge_id == badge_id, IncidentBadgeRow.released_at.is_(None)
                    )
                ):
                    if other.incident_id != request.incident_id:
                        other.released_at = now
                existing = session.get(IncidentBadgeRow, (request.incident_id, badge_id))
                if existing is None:
                    session.add(
                        IncidentBadgeRow(incident_id=request.incident_id, badge_id=badge_id, assigned_at=now)
                    )
                elif existing.released_at is not None:
                    existing.released_at, existing.assigned_at = None, now
                assigned.append(badge_id)
            return assigned

        assigned = await self.database.run(work)
        for badge_id in assigned:
            self.hub.set_incident(badge_id, request.incident_id, now.timestamp())
            live = self.hub.badges.get(badge_id)
            if request.command_recording and live is not None:
                # Stored and sent by whichever replica holds the badge's stream (telemetry/commands.py).
                await self.hub.send_command(
                    live,
                    A.BadgeCommand(
                        command_id=f"rec-{uuid.uuid4().hex}",
                        start_recording=A.StartRecordingCommand(
                            reason=request.summary or "assigned to an incident",
                            incident_id=request.incident_id,
                        ),
                    ),
                )
        await self.audit.record(
            "badge.assign_incident", request.incident_id, details={"badge_ids": assigned}, agency=agency
        )
        return assigned

    async def close_incident(self, caller: Caller, incident_id: str) -> list[str]:
        caller.require_role("operator", "admin", "service")
        convert.check_id(incident_id, "incident_id")
        now = utcnow()

        def work(session: Session) -> list[str]:
            incident = session.get(IncidentRow, incident_id)
            if incident is None:
                raise NotFound(f"incident {incident_id} not found")
            caller.require_agency(incident.agency_id)
            incident.active, incident.closed_at = False, incident.closed_at or now
            released = []
            for link in session.scalars(
                select(IncidentBadgeRow).where(
                    IncidentBadgeRow.incident_id == incident_id, IncidentBadgeRow.released_at.is_(None)
                )
            ):
                link.released_at = now
                released.append(link.badge_id)
            return released

        released = await self.database.run(work)
        for badge_id in released:
            live = self.hub.badges.get(badge_id)
            if live is not None and live.incident_id == incident_id:
                self.hub.set_incident(badge_id, "", 0.0)
        await self.audit.record("badge.close_incident", incident_id, details={"badge_ids": released})
        return released
