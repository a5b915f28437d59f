"""Retention: policies, each item's retain-until date, legal holds, cases, and the deletion sweep.

An item is kept until its policy's date (from capture, or from its case closing), and for ever
while under a legal hold; the retention job deletes what is due, one re-checked item at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.badge import convert
from kuzet.badge.config import BadgeSettings
from kuzet.badge.custody import append_custody
from kuzet.badge.evidence.base import CATEGORY, EvidenceBase, actor_of
from kuzet.badge.models import EvidenceRow, RetentionPolicyRow
from kuzet.badge.v1 import badge_pb2
from kuzet.common.caller import Caller
from kuzet.common.errors import FailedPrecondition, InvalidArgument, KuzetError, NotFound
from kuzet.common.holds import HOLD_ROLES, pending_release, release_step
from kuzet.common.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

A = badge_pb2
NON_EVIDENTIAL = "non_evidential"


class Retention(EvidenceBase):
    """SetLegalHold, LinkCase, CloseCase, the retention policies and RunRetention."""

    async def set_legal_hold(
        self, caller: Caller, request: badge_pb2.SetLegalHoldRequest
    ) -> badge_pb2.Evidence:
        """Place a hold, or take one step of its two-person release (kuzet.common.holds): the
        first release call records a request and the item stays held; a second call by another
        person completes it. Each step is audited in the same transaction."""
        caller.require_role(*HOLD_ROLES)
        if not request.reason:
            raise InvalidArgument("reason is required for a legal hold change")
        actor = actor_of(caller)

        def work(session: Session) -> badge_pb2.Evidence:
            row = self._readable(session, caller, request.evidence_id)
            caller.require_agency(row.agency_id)
            if row.status == A.EVIDENCE_STATUS_DELETED:
                raise FailedPrecondition(f"evidence {row.evidence_id} was already deleted by retention")
            details: dict[str, object] = {"hold": request.hold, "reason": request.reason}
            if not request.hold:
                if not row.legal_hold:
                    raise FailedPrecondition(f"evidence {row.evidence_id} is not under a legal hold")
                first = pending_release(session, _release_target(row.evidence_id))
                asked = release_step(
                    session,
                    _release_target(row.evidence_id),
                    agency=row.agency_id,
                    actor=actor,
                    reason=request.reason,
                    ttl_s=self.settings.hold_release_ttl_s,
                )
                if asked is not None:
                    self.audit.append(
                        "evidence.legal_hold_release_request",
                        row.evidence_id,
                        details={**details, "expires_at": asked.expires_at.isoformat()},
                        agency=row.agency_id,
                        actor=actor,
                        session=session,
                    )
                    return convert.evidence_to_proto(row)
                details["requested_by"] = first.requested_by if first else ""
            row.legal_hold = request.hold
            refresh_retention(session, self.settings, row)
            action = A.CUSTODY_ACTION_LEGAL_HOLD_SET if request.hold else A.CUSTODY_ACTION_LEGAL_HOLD_RELEASED
            append_custody(
                session,
                row.evidence_id,
                action,
                actor=actor,
                actor_agency_id=caller.agency,
                object_sha256=row.sha256,
                details={k: v for k, v in details.items() if k != "hold"},
            )
            self.audit.append(
                "evidence.legal_hold",
                row.evidence_id,
                details=details,
                agency=row.agency_id,
                actor=actor,
                session=session,
            )
            return convert.evidence_to_proto(row)

        evidence: badge_pb2.Evidence = await self._with_retry(work)
        return evidence

    async def link_case(self, caller: Caller, evidence_id: str, case_id: str) -> badge_pb2.Evidence:
        convert.check_id(case_id, "case_id")
        caller.require_role("investigator", "admin", "operator")

        def work(session: Session) -> badge_pb2.Evidence:
            row = self._readable(session, caller, evidence_id)
            caller.require_agency(row.agency_id)
            row.case_id, row.case_closed_at = case_id, None
            refresh_retention(session, self.settings, row)
            append_custody(
                session,
                evidence_id,
                A.CUSTODY_ACTION_CASE_LINKED,
                actor=actor_of(caller),
                actor_agency_id=caller.agency,
                object_sha256=row.sha256,
                details={"case_id": case_id},
            )
            return convert.evidence_to_proto(row)

        evidence: badge_pb2.Evidence = await self._with_retry(work)
        await self.audit.record("evidence.link_case", evidence_id, details={"case_id": case_id})
        return evidence

    async def close_case(self, caller: Caller, agency_id: str, case_id: str) -> int:
        agency = agency_id or caller.agency
        caller.require_agency(agency)
        caller.require_role("investigator", "admin")
        convert.check_id(case_id, "case_id")

        def work(session: Session) -> int:
            now = utcnow()
            rows = list(
                session.scalars(
                    select(EvidenceRow).where(
                        EvidenceRow.agency_id == agency,
                        EvidenceRow.case_id == case_id,
                        EvidenceRow.case_closed_at.is_(None),
                    )
                )
            )
            for row in rows:
                row.case_closed_at = now
                refresh_retention(session, self.settings, row)
            return len(rows)

        count = await self.database.run(work)
        await self.audit.record("evidence.close_case", case_id, details={"evidence": count}, agency=agency)
        return count

    async def set_policy(
        self, caller: Caller, policy: badge_pb2.RetentionPolicy
    ) -> badge_pb2.RetentionPolicy:
        agency = policy.agency_id or caller.agency
        caller.require_agency(agency)
        caller.require_role("admin")
        if not CATEGORY.fullmatch(policy.category):
            raise InvalidArgument(f"category must be lower_snake_case (got {policy.category!r})")
        if policy.retention_days < 0 or policy.days_after_case_closed < 0:
            raise InvalidArgument("retention days cannot be negative")
        if not policy.until_case_closed and policy.retention_days == 0:
            raise InvalidArgument("retention_days must be set unless until_case_closed")
        if policy.category == NON_EVIDENTIAL and not 31 <= policy.retention_days <= 90:
            raise InvalidArgument("non_evidential recordings are kept 31 to 90 days")

        def work(session: Session) -> badge_pb2.RetentionPolicy:
            row = session.get(RetentionPolicyRow, (agency, policy.category))
            if row is None:
                row = RetentionPolicyRow(agency_id=agency, category=policy.category)
                session.add(row)
            row.retention_days = policy.retention_days
            row.until_case_closed = policy.until_case_closed
            row.days_after_case_closed = policy.days_after_case_closed
            session.flush()
            for item in session.scalars(
                select(EvidenceRow).where(
                    EvidenceRow.agency_id == agency,
                    EvidenceRow.category == policy.category,
                    EvidenceRow.status != A.EVIDENCE_STATUS_DELETED,
                )
            ):
                refresh_retention(session, self.settings, item)
            return convert.policy_to_proto(row)

        result = await self.database.run(work)
        await self.audit.record(
            "evidence.retention_policy",
            policy.category,
            agency=agency,
            details={
                "retention_days": policy.retention_days,
                "until_case_closed": policy.until_case_closed,
                "days_after_case_closed": policy.days_after_case_closed,
            },
        )
        return result

    async def list_policies(self, caller: Caller, agency_id: str) -> list[badge_pb2.RetentionPolicy]:
        agency = agency_id or caller.agency
        caller.require_agency(agency)
        rows = await self.database.run(
            lambda s: list(
                s.scalars(select(RetentionPolicyRow).where(RetentionPolicyRow.agency_id == agency))
            )
        )
        return [convert.policy_to_proto(r) for r in rows]

    async def run_retention(self, agency_id: str | None = None, now: datetime | None = None) -> list[str]:
        """Delete every item whose retention date passed and that is not held; record each deletion."""
        moment = now or utcnow()

        def due(session: Session) -> list[tuple[str, str, str]]:
            query = select(EvidenceRow.evidence_id, EvidenceRow.object_key, EvidenceRow.agency_id).where(
                EvidenceRow.status.in_([A.EVIDENCE_STATUS_STORED, A.EVIDENCE_STATUS_CORRUPTED]),
                EvidenceRow.legal_hold.is_(False),
                EvidenceRow.retain_until.is_not(None),
                EvidenceRow.retain_until <= moment,
            )
            if agency_id is not None:
                query = query.where(EvidenceRow.agency_id == agency_id)
            return [tuple(r) for r in session.execute(query)]  # type: ignore[misc]

        loop = asyncio.get_running_loop()
        deleted: list[str] = []
        for evidence_id, key, agency in await self.database.run(due):
            # One transaction per item that re-checks it, marks it and deletes the object before
            # committing: a legal hold placed meanwhile waits on the row and then finds it deleted
            # (or wins and the item is kept); a failed object delete rolls the mark back.
            def remove(session: Session, evidence_id: str = evidence_id, key: str = key) -> bool:
                row = session.get(EvidenceRow, evidence_id, with_for_update=True)
                if (
                    row is None
                    or row.legal_hold
                    or row.retain_until is None
                    or as_utc(row.retain_until) > moment
                ):
                    return False
                row.status = A.EVIDENCE_STATUS_DELETED
                append_custody(
                    session,
                    evidence_id,
                    A.CUSTODY_ACTION_DELETED_BY_RETENTION,
                    actor="system:retention",
                    actor_agency_id=row.agency_id,
                    object_sha256=row.sha256,
                    details={"retain_until": as_utc(row.retain_until).isoformat(), "key": key},
                )
                session.flush()
                with contextlib.suppress(NotFound):
                    asyncio.run_coroutine_threadsafe(self.objects.delete(key), loop).result(timeout=120)
                return True

            try:
                removed = await self._with_retry(remove)
            except KuzetError as exc:
                log.error(
                    "retention could not delete evidence %s: %s",
                    evidence_id,
                    exc.message,
                    extra={"agency": agency},
                )
                continue
            if not removed:
                continue
            deleted.append(evidence_id)
            await self.audit.record(
                "evidence.retention_delete",
                evidence_id,
                agency=agency,
                actor="system:retention",
                details={"key": key},
            )
        if deleted:
            log.info("retention deleted %d evidence items", len(deleted))
        return deleted


def retention_policy(
    session: Session, settings: BadgeSettings, agency_id: str, category: str
) -> RetentionPolicyRow:
    """The agency's policy for the category, or the default one (not stored) when it set none."""
    row = session.get(RetentionPolicyRow, (agency_id, category))
    if row is not None:
        return row
    if category == NON_EVIDENTIAL:
        return RetentionPolicyRow(
            agency_id=agency_id,
            category=category,
            retention_days=settings.default_non_evidential_days,
            until_case_closed=False,
            days_after_case_closed=0,
        )
    return RetentionPolicyRow(
        agency_id=agency_id,
        category=category,
        retention_days=0,
        until_case_closed=True,
        days_after_case_closed=settings.default_days_after_case_closed,
    )


def refresh_retention(session: Session, settings: BadgeSettings, row: EvidenceRow) -> None:
    """Set the item's retain-until date by its policy as it is now."""
    policy = retention_policy(session, settings, row.agency_id, row.category)
    row.retain_until = compute_retain_until(
        policy,
        as_utc(row.captured_at),
        as_utc(row.case_closed_at) if row.case_closed_at else None,
        legal_hold=row.legal_hold,
    )


def compute_retain_until(
    policy: RetentionPolicyRow, captured_at: datetime, case_closed_at: datetime | None, *, legal_hold: bool
) -> datetime | None:
    """None means "keep": held, or waiting for its case to close."""
    if legal_hold:
        return None
    if not policy.until_case_closed:
        return as_utc(captured_at) + timedelta(days=policy.retention_days)
    if case_closed_at is None:
        return None
    return as_utc(case_closed_at) + timedelta(days=policy.days_after_case_closed)


def _release_target(evidence_id: str) -> str:
    return f"badge.evidence:{evidence_id}"
