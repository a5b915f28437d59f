"""Verification: stored objects re-hashed against the SHA-256 recorded when they were committed."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.badge import sites
from kuzet.badge.custody import append_custody
from kuzet.badge.evidence.base import EvidenceBase, actor_of
from kuzet.badge.models import EvidenceRow
from kuzet.badge.v1 import badge_pb2
from kuzet.common.caller import Caller
from kuzet.common.errors import NotFound
from kuzet.common.objectstore import sha256_hex

log = logging.getLogger(__name__)

A = badge_pb2


class Verification(EvidenceBase):
    """VerifyEvidence and the periodic verification job."""

    async def verify(
        self, caller: Caller | None, evidence_id: str = "", agency_id: str = ""
    ) -> list[badge_pb2.VerificationResult]:
        """Re-hash stored objects; a mismatch marks the item CORRUPTED with a custody step."""

        def targets(session: Session) -> list[tuple[str, str, str, str]]:
            if evidence_id:
                row = (
                    self._readable(session, caller, evidence_id)
                    if caller
                    else session.get(EvidenceRow, evidence_id)
                )
                if row is None:
                    raise NotFound(f"evidence {evidence_id} not found")
                rows = [row]
            else:
                query = select(EvidenceRow).where(
                    EvidenceRow.status.in_([A.EVIDENCE_STATUS_STORED, A.EVIDENCE_STATUS_CORRUPTED])
                )
                if agency_id:
                    query = query.where(EvidenceRow.agency_id == agency_id)
                    allowed = caller.site_limit(agency_id) if caller else None
                    if allowed is not None:
                        query = query.where(sites.evidence_in(allowed, agency_id))
                rows = list(session.scalars(query))
            return [(r.evidence_id, r.object_key, r.sha256, r.agency_id) for r in rows]

        results = []
        for item_id, key, expected, agency in await self.database.run(targets):
            try:
                data = await self.objects.get(key)
                actual = await asyncio.to_thread(sha256_hex, data)
                reason = "" if actual == expected else "stored bytes do not match the recorded SHA-256"
            except NotFound:
                actual, reason = "", "object is missing from the store"
            ok = not reason
            results.append(
                A.VerificationResult(
                    evidence_id=item_id, ok=ok, expected_sha256=expected, actual_sha256=actual, reason=reason
                )
            )
            await self._with_retry(self._record_verification, item_id, ok, expected, actual, reason, caller)
            if not ok:
                log.error("evidence %s failed verification: %s", item_id, reason, extra={"agency": agency})
                await self.audit.record(
                    "evidence.verification_failed",
                    item_id,
                    outcome="error: " + reason,
                    agency=agency,
                    actor=actor_of(caller) if caller else "system:verification",
                    details={"expected": expected, "actual": actual},
                )
        return results

    def _record_verification(
        self,
        session: Session,
        evidence_id: str,
        ok: bool,
        expected: str,
        actual: str,
        reason: str,
        caller: Caller | None,
    ) -> None:
        row = session.get(EvidenceRow, evidence_id)
        if row is None:
            return
        if ok and caller is None:
            return  # the periodic job only records findings, not a step per item per run
        row.status = A.EVIDENCE_STATUS_STORED if ok else A.EVIDENCE_STATUS_CORRUPTED
        append_custody(
            session,
            evidence_id,
            A.CUSTODY_ACTION_VERIFIED if ok else A.CUSTODY_ACTION_VERIFICATION_FAILED,
            actor=actor_of(caller) if caller else "system:verification",
            actor_agency_id=caller.agency if caller else row.agency_id,
            object_sha256=actual,
            details={"expected_sha256": expected, "reason": reason},
        )
