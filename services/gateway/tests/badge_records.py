"""Records a real badge service holds, made as badges and officers make them: registered badges,
uploaded recordings, citations, integrity reports."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kuzet.badge.sim import register_badges
from kuzet.badge.v1 import badge_pb2 as A
from kuzet.badge.v1 import badge_pb2_grpc
from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.grpcclient import open_channel
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import common_pb2

CHUNK = 64 * 1024


HERE = common_pb2.GeoPoint(latitude=43.2389, longitude=76.8897)


@dataclass
class BadgeRecords:
    address: str
    agency: str = "prison"

    @property
    def caller(self) -> Caller:
        # An officer who is also a supervisor: enough to make every record these tests need.
        return Caller(f"{self.agency}-officer", self.agency, frozenset({"admin", "operator", "investigator"}))

    async def _call(self, method: str, request: Any) -> Any:
        async with open_channel(self.address, audience="badge", caller=self.caller) as channel:
            stub = badge_pb2_grpc.BadgeServiceStub(channel)
            return await getattr(stub, method)(
                request, metadata=caller_metadata(self.caller, audience="badge")
            )

    async def badges(self, *ids: str, unit: str = "unit-1") -> None:
        async with open_channel(self.address, audience="badge", caller=self.caller) as channel:
            await register_badges(badge_pb2_grpc.BadgeServiceStub(channel), self.agency, list(ids), unit=unit)

    async def citation(self, *, badge_id: str = "", plate: str = "123ABC02", **fields: Any) -> A.Citation:
        citation = A.Citation(
            officer_id=f"officer-{badge_id or 'x'}",
            badge_id=badge_id,
            occurred_at=to_timestamp(utcnow() - timedelta(minutes=5)),
            location=HERE,
            offence_code="TR-201",
            vehicle=A.CitedVehicle(plate=plate, country="KZ"),
            person=A.CitedPerson(full_name="A. Driver"),
            **fields,
        )
        resp = await self._call("CreateCitation", A.CreateCitationRequest(citation=citation))
        return resp.citation

    async def move(self, citation_id: str, status: int, reason: str) -> A.Citation:
        request = A.UpdateCitationStatusRequest(citation_id=citation_id, status=status, reason=reason)  # type: ignore[arg-type]
        return (await self._call("UpdateCitationStatus", request)).citation

    async def integrity_report(self, badge_id: str, occurred_at: datetime) -> str:
        report = A.IntegrityReport(
            officer_id=f"officer-{badge_id}",
            badge_id=badge_id,
            occurred_at=to_timestamp(occurred_at),
            location=HERE,
            description="offered money to drop a citation",
        )
        return str((await self._call("ReportIntegrity", A.ReportIntegrityRequest(report=report))).report_id)

    async def recording(
        self, badge_id: str, *, incident_id: str = "", size: int = 2 * CHUNK + 10
    ) -> A.Evidence:
        data = hashlib.sha256(uuid.uuid4().bytes).digest() * (size // 32)
        captured = utcnow() - timedelta(minutes=10)
        meta = A.EvidenceMetadata(
            upload_id=uuid.uuid4().hex,
            badge_id=badge_id,
            captured_at=to_timestamp(captured),
            captured_until=to_timestamp(captured + timedelta(minutes=2)),
            category="evidential",
            content_type="video/mp4",
            total_size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            chunk_size=CHUNK,
            incident_id=incident_id,
            location=HERE,
        )

        async def requests() -> AsyncIterator[A.UploadEvidenceRequest]:
            yield A.UploadEvidenceRequest(metadata=meta)
            for i in range(0, len(data), CHUNK):
                part = data[i : i + CHUNK]
                chunk = A.EvidenceChunk(index=i // CHUNK, data=part, sha256=hashlib.sha256(part).hexdigest())
                yield A.UploadEvidenceRequest(chunk=chunk)

        async with open_channel(self.address, audience="badge", caller=self.caller) as channel:
            stub = badge_pb2_grpc.BadgeServiceStub(channel)
            resp = await stub.UploadEvidence(
                requests(), metadata=caller_metadata(self.caller, audience="badge")
            )
        assert resp.complete, resp
        return resp.evidence
