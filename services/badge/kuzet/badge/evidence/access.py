"""Reading evidence: an item with its download link, its custody chain, listings, shares and exports.

Every read is a custody step (viewed, shared, exported) written with the read; two writers on one
item collide on the chain's sequence and the loser tries again (EvidenceBase._with_retry).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.badge import convert, sites
from kuzet.badge.custody import append_custody, chain_ok, load_chain
from kuzet.badge.evidence.base import EvidenceBase, actor_of
from kuzet.badge.models import EvidenceRow, EvidenceShareRow
from kuzet.badge.v1 import badge_pb2
from kuzet.common.caller import Caller
from kuzet.common.errors import FailedPrecondition, InvalidArgument
from kuzet.common.paging import Keyset, Paging
from kuzet.common.timeutil import from_timestamp, utcnow

A = badge_pb2
EVIDENCE_PAGING = Paging(default=100, maximum=500, clamp=True)
EVIDENCE_KEYS = Keyset("badge.evidence", EvidenceRow.captured_at, EvidenceRow.evidence_id)


class Access(EvidenceBase):
    """GetEvidence, GetCustody, ListEvidence, ShareEvidence and ExportEvidence."""

    async def get(
        self, caller: Caller, evidence_id: str, with_url: bool, reason: str
    ) -> badge_pb2.GetEvidenceResponse:
        def work(session: Session) -> EvidenceRow:
            row = self._readable(session, caller, evidence_id)
            append_custody(
                session,
                evidence_id,
                A.CUSTODY_ACTION_VIEWED,
                actor=actor_of(caller),
                actor_agency_id=caller.agency,
                object_sha256=row.sha256,
                details={"reason": reason, "download_url": with_url},
            )
            return row

        row = await self._with_retry(work)
        url = ""
        if with_url and row.status == A.EVIDENCE_STATUS_STORED:
            url = await self.objects.presigned_get_url(
                row.object_key, timedelta(seconds=self.settings.download_url_ttl_s)
            )
        await self.audit.record("evidence.view", evidence_id, details={"reason": reason, "url": with_url})
        return A.GetEvidenceResponse(evidence=convert.evidence_to_proto(row), download_url=url)

    async def custody(self, caller: Caller, evidence_id: str) -> badge_pb2.GetCustodyResponse:
        def read(session: Session) -> badge_pb2.GetCustodyResponse:
            self._readable(session, caller, evidence_id)
            rows = load_chain(session, evidence_id)
            return A.GetCustodyResponse(
                records=[convert.custody_to_proto(r) for r in rows], chain_ok=chain_ok(rows)
            )

        response = await self.database.run(read)
        await self.audit.record("evidence.custody", evidence_id)
        return response

    async def list_evidence(
        self, caller: Caller, request: badge_pb2.ListEvidenceRequest
    ) -> badge_pb2.ListEvidenceResponse:
        agency = request.agency_id or caller.agency
        caller.require_agency(agency)
        size = EVIDENCE_PAGING.size(request.page)
        after = EVIDENCE_KEYS.after(request.page.page_token)

        def read(session: Session) -> badge_pb2.ListEvidenceResponse:
            query = select(EvidenceRow).where(EvidenceRow.agency_id == agency)
            if (allowed := caller.site_limit(agency)) is not None:
                query = query.where(sites.evidence_in(allowed, agency))
            if request.badge_id:
                query = query.where(EvidenceRow.badge_id == request.badge_id)
            if request.category:
                query = query.where(EvidenceRow.category == request.category)
            if request.case_id:
                query = query.where(EvidenceRow.case_id == request.case_id)
            if request.incident_id:
                query = query.where(EvidenceRow.incident_id == request.incident_id)
            if since := from_timestamp(request.since):
                query = query.where(EvidenceRow.captured_at >= since)
            if until := from_timestamp(request.until):
                query = query.where(EvidenceRow.captured_at < until)
            rows, token = EVIDENCE_KEYS.page(
                session.scalars(EVIDENCE_KEYS.query(query, after, size)).all(), size
            )
            response = A.ListEvidenceResponse(evidence=[convert.evidence_to_proto(r) for r in rows])
            response.page.next_page_token = token
            return response

        return await self.database.run(read)

    async def share(self, caller: Caller, request: badge_pb2.ShareEvidenceRequest) -> badge_pb2.Evidence:
        convert.check_id(request.recipient_agency_id, "recipient_agency_id")
        caller.require_role("investigator", "admin")

        def work(session: Session) -> badge_pb2.Evidence:
            row = self._readable(session, caller, request.evidence_id)
            caller.require_agency(row.agency_id)
            if session.get(EvidenceShareRow, (row.evidence_id, request.recipient_agency_id)) is None:
                session.add(
                    EvidenceShareRow(
                        evidence_id=row.evidence_id,
                        agency_id=request.recipient_agency_id,
                        shared_at=utcnow(),
                        shared_by=actor_of(caller),
                    )
                )
            append_custody(
                session,
                row.evidence_id,
                A.CUSTODY_ACTION_SHARED,
                actor=actor_of(caller),
                actor_agency_id=caller.agency,
                object_sha256=row.sha256,
                details={"recipient_agency_id": request.recipient_agency_id, "reason": request.reason},
            )
            return convert.evidence_to_proto(row)

        evidence: badge_pb2.Evidence = await self._with_retry(work)
        await self.audit.record(
            "evidence.share",
            request.evidence_id,
            details={"recipient_agency_id": request.recipient_agency_id, "reason": request.reason},
        )
        return evidence

    async def export(
        self, caller: Caller, request: badge_pb2.ExportEvidenceRequest
    ) -> badge_pb2.ExportEvidenceResponse:
        caller.require_role("investigator", "admin")
        if not request.evidence_ids:
            raise InvalidArgument("evidence_ids is empty")
        if not request.recipient:
            raise InvalidArgument("recipient is required (who receives the export)")
        export_id = uuid.uuid4().hex
        exported_at = utcnow()
        ttl = timedelta(seconds=request.url_ttl_s or self.settings.download_url_ttl_s)

        def work(session: Session) -> list[tuple[EvidenceRow, list[Any]]]:
            items = []
            for evidence_id in dict.fromkeys(request.evidence_ids):
                row = self._readable(session, caller, evidence_id)
                if row.status != A.EVIDENCE_STATUS_STORED:
                    raise FailedPrecondition(
                        f"evidence {evidence_id} is {A.EvidenceStatus.Name(row.status)}, not exportable"
                    )
                append_custody(
                    session,
                    evidence_id,
                    A.CUSTODY_ACTION_EXPORTED,
                    actor=actor_of(caller),
                    actor_agency_id=caller.agency,
                    object_sha256=row.sha256,
                    at=exported_at,
                    details={
                        "export_id": export_id,
                        "recipient": request.recipient,
                        "reason": request.reason,
                    },
                )
                items.append((row, load_chain(session, evidence_id)))
            return items

        items = await self._with_retry(work)
        response = A.ExportEvidenceResponse(export_id=export_id)
        response.exported_at.FromDatetime(exported_at)
        lines = [f"kuzet-evidence-export v1\t{export_id}\t{exported_at.isoformat()}\t{request.recipient}"]
        for row, chain in items:
            url = await self.objects.presigned_get_url(row.object_key, ttl)
            response.items.append(
                A.ExportItem(
                    evidence=convert.evidence_to_proto(row),
                    download_url=url,
                    custody=[convert.custody_to_proto(c) for c in chain],
                )
            )
            lines.append(f"{row.evidence_id}\t{row.sha256}\t{row.size}\t{chain[-1].hash}")
        response.manifest = "\n".join(lines) + "\n"
        response.manifest_sha256 = hashlib.sha256(response.manifest.encode()).hexdigest()
        await self.audit.record(
            "evidence.export",
            export_id,
            details={
                "evidence_ids": list(request.evidence_ids),
                "recipient": request.recipient,
                "manifest_sha256": response.manifest_sha256,
            },
        )
        return response
