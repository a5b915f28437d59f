"""The AuditService every auditing service registers, so auditors can list and verify its trail."""

from __future__ import annotations

import asyncio

import grpc
from google.protobuf import struct_pb2

from kuzet.common.audit import AuditEntry, AuditLog, Verification
from kuzet.common.caller import current_caller
from kuzet.common.grpcserver import AddServicer
from kuzet.common.paging import PageToken, Paging
from kuzet.common.timeutil import from_timestamp, to_timestamp
from kuzet.common.v1 import audit_pb2, audit_pb2_grpc, common_pb2

PAGING = Paging(default=100, maximum=500)
# The trail is append-only and numbered: a page resumes after the last sequence number sent.
PAGE_TOKEN = PageToken("audit", int)


def entry_to_proto(entry: AuditEntry) -> audit_pb2.AuditRecord:
    details = struct_pb2.Struct()
    details.update(entry.details)
    return audit_pb2.AuditRecord(
        seq=entry.seq,
        recorded_at=to_timestamp(entry.recorded_at),
        agency_id=entry.agency,
        actor=entry.actor,
        action=entry.action,
        target=entry.target,
        outcome=entry.outcome,
        details=details,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
        key_id=entry.key_id,
    )


def verification_to_proto(result: Verification) -> audit_pb2.VerifyAuditResponse:
    response = audit_pb2.VerifyAuditResponse(
        ok=result.ok,
        records_checked=result.records_checked,
        first_bad_seq=result.first_bad_seq,
        reason=result.reason,
        legacy_records=result.legacy_records,
        anchor_store=result.anchor_store,
    )
    if result.anchor is not None:
        a = result.anchor
        response.latest_anchor.CopyFrom(
            audit_pb2.AuditAnchor(
                seq=a.seq,
                hash=a.mac,
                object_key=a.object_key,
                anchored_at=to_timestamp(a.anchored_at),
                key_id=a.key_id,
                service=a.service,
            )
        )
    return response


async def list_page(
    log: AuditLog, agency: str, request: audit_pb2.ListAuditRequest
) -> audit_pb2.ListAuditResponse:
    """One page of ``agency``'s records in ``log``: what ListAudit answers, and the gateway's own trail."""
    size = PAGING.size(request.page)
    after = PAGE_TOKEN.decode(request.page.page_token)
    entries = await asyncio.to_thread(
        log.list,
        agency=agency,
        action_prefix=request.action_prefix,
        actor=request.actor,
        target=request.target,
        since=from_timestamp(request.since) if request.HasField("since") else None,
        until=from_timestamp(request.until) if request.HasField("until") else None,
        after_seq=after[0] if after else 0,
        limit=size + 1,
    )
    entries, token = PAGE_TOKEN.page(entries, size, lambda e: (e.seq,))
    return audit_pb2.ListAuditResponse(
        records=[entry_to_proto(e) for e in entries], page=common_pb2.PageResponse(next_page_token=token)
    )


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, log: AuditLog) -> None:
        self.log = log

    async def ListAudit(
        self, request: audit_pb2.ListAuditRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.ListAuditResponse:
        caller = current_caller()
        caller.require_role("auditor")
        agency = request.agency_id or caller.agency
        caller.require_agency(agency)
        response = await list_page(self.log, agency, request)
        await self.log.record("audit.list", agency, details={"count": len(response.records)})
        return response

    async def VerifyAudit(
        self, request: audit_pb2.VerifyAuditRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.VerifyAuditResponse:
        current_caller().require_role("auditor")
        result = await self.log.verify_anchored()
        await self.log.record(
            "audit.verify", "chain", "ok" if result.ok else f"broken at {result.first_bad_seq}"
        )
        return verification_to_proto(result)


SERVICE_NAME = audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name


def add_audit_service(log: AuditLog) -> tuple[AddServicer, AuditServicer]:
    """(add function, servicer) pair for GrpcServer's servicer list."""
    return audit_pb2_grpc.add_AuditServiceServicer_to_server, AuditServicer(log)
