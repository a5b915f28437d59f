"""Audit trails of every service (and the gateway's own), for auditors."""

# FastAPI declares parameters with Depends()/Query() defaults; they are evaluated per request.
# ruff: noqa: B008

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from kuzet.common.auditservice import list_page, verification_to_proto
from kuzet.common.v1 import audit_pb2, common_pb2
from kuzet.gateway.auth import Principal
from kuzet.gateway.backends import AUDITED_SERVICES
from kuzet.gateway.context import Gateway, gateway_of
from kuzet.gateway.convert import timestamp
from kuzet.gateway.deps import page_params, require
from kuzet.gateway.errors import ApiError, error_responses
from kuzet.gateway.protojson import SCHEMAS, json_response, to_json
from kuzet.gateway.roles import Permission

router = APIRouter(prefix="/api/v1", tags=["audit"], responses=error_responses(400, 401, 403, 429, 503))

# The gateway audits camera snapshot views itself; ingest's own trail holds its legal holds and
# what its retention deleted.
Service = Literal["gateway", "alerting", "identity", "ingest", "badge", "drone", "traffic", "federation"]


async def _gateway_trail(
    gw: Gateway, principal: Principal, req: audit_pb2.ListAuditRequest
) -> dict[str, Any]:
    resp = await list_page(gw.audit, principal.agency, req)
    await gw.record(principal, "audit.list", principal.agency, details={"count": len(resp.records)})
    return to_json(resp)


@router.get(
    "/audit",
    summary="One service's audit trail for the caller's agency, oldest first",
    responses=json_response(audit_pb2.ListAuditResponse.DESCRIPTOR),
)
async def list_audit(
    request: Request,
    service: Service = Query("gateway"),
    principal: Principal = Depends(require(Permission.AUDIT_READ)),
    page: common_pb2.PageRequest = Depends(page_params),
    action_prefix: str = Query("", max_length=128),
    actor: str = Query("", max_length=256),
    target: str = Query("", max_length=512),
    since: datetime | None = Query(None),
    until: datetime | None = Query(None),
) -> dict[str, Any]:
    gw = gateway_of(request)
    req = audit_pb2.ListAuditRequest(
        agency_id=principal.agency, action_prefix=action_prefix, actor=actor, target=target, page=page
    )
    if (ts := timestamp(since, "since")) is not None:
        req.since.CopyFrom(ts)
    if (ts := timestamp(until, "until")) is not None:
        req.until.CopyFrom(ts)
    if service == "gateway":
        return await _gateway_trail(gw, principal, req)
    return to_json(await gw.call(principal, gw.backends.audit(service).ListAudit, req))


VERIFY_SCHEMA = {
    "type": "object",
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "service": {"type": "string"},
                    "result": SCHEMAS.ref(audit_pb2.VerifyAuditResponse.DESCRIPTOR),
                    "error": {"type": "object"},
                },
            },
        }
    },
}


@router.post(
    "/audit/verify",
    summary="Recompute every trail's keyed hash chain and check it against its latest anchor",
    responses={
        200: {
            "description": "One result per service",
            "content": {"application/json": {"schema": VERIFY_SCHEMA}},
        }
    },
)
async def verify_audit(
    request: Request,
    service: list[Service] = Query([], description="Services to verify; empty means all"),
    principal: Principal = Depends(require(Permission.AUDIT_READ)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    wanted: list[str] = list(dict.fromkeys(service)) or ["gateway", *AUDITED_SERVICES]

    async def one(name: str) -> dict[str, Any]:
        if name == "gateway":
            v = await gw.audit.verify_anchored()
            await gw.record(
                principal, "audit.verify", "chain", "ok" if v.ok else f"broken at {v.first_bad_seq}"
            )
            return {"service": name, "result": to_json(verification_to_proto(v))}
        try:
            res = await gw.call(
                principal, gw.backends.audit(name).VerifyAudit, audit_pb2.VerifyAuditRequest()
            )
        except ApiError as err:
            # One service being down must not hide the others' results.
            return {"service": name, "error": {"code": err.code, "message": err.message}}
        return {"service": name, "result": to_json(res)}

    return {"results": list(await asyncio.gather(*(one(n) for n in wanted)))}
