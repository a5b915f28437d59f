"""Badge evidence for investigators: items per badge, case or incident, each item's chain of
custody, and exports whose manifest and stored bytes are checked before they are handed over.

Opening, exporting and verifying an item are custody steps in the badge service, which audits
each call; the service also decides who may read what (another agency's items are refused)."""

# FastAPI declares parameters with Depends()/Query() defaults; they are evaluated per request.
# ruff: noqa: B008

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, StringConstraints

from kuzet.badge.v1 import badge_pb2 as bpb
from kuzet.common.v1 import common_pb2
from kuzet.gateway.auth import Principal
from kuzet.gateway.context import gateway_of
from kuzet.gateway.convert import timestamp
from kuzet.gateway.deps import page_params, require
from kuzet.gateway.errors import error_responses
from kuzet.gateway.protojson import json_response, to_json
from kuzet.gateway.roles import Permission
from kuzet.gateway.routes import ID_PATTERN, Route, mount, rpc

TEXT = 500
EVIDENCE = ("evidence",)
OPTIONAL_ID = r"^[A-Za-z0-9._:-]*$"


EvidenceId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=ID_PATTERN)]


class ExportBody(BaseModel):
    evidence_ids: list[EvidenceId] = Field(min_length=1, max_length=100)
    recipient: str = Field(
        min_length=1, max_length=TEXT, description="Who receives the export (court, lawyer)"
    )
    reason: str = Field(min_length=1, max_length=TEXT, description="Why; kept in each item's custody chain")


def _list_request(
    badge_id: str,
    case_id: str,
    incident_id: str,
    category: str,
    since: datetime | None,
    until: datetime | None,
) -> bpb.ListEvidenceRequest:
    req = bpb.ListEvidenceRequest(
        badge_id=badge_id, case_id=case_id, incident_id=incident_id, category=category
    )
    for name, value in (("since", since), ("until", until)):
        if (ts := timestamp(value, name)) is not None:
            getattr(req, name).CopyFrom(ts)
    return req


router = APIRouter(prefix="/api/v1", responses=error_responses(400, 401, 403, 429, 503))


@router.get(
    "/evidence-items",
    summary="Badge evidence of the agency, by badge, case, category, time or incident",
    responses=json_response(bpb.ListEvidenceResponse.DESCRIPTOR),
    tags=list(EVIDENCE),
)
async def list_evidence(
    request: Request,
    principal: Principal = Depends(require(Permission.RECORDINGS_READ)),
    page: common_pb2.PageRequest = Depends(page_params),
    badge_id: str = Query("", max_length=128, pattern=OPTIONAL_ID),
    case_id: str = Query("", max_length=128, pattern=OPTIONAL_ID),
    incident_id: str = Query(
        "", max_length=128, pattern=OPTIONAL_ID, description="Only items recorded for this incident"
    ),
    category: str = Query("", max_length=64),
    since: datetime | None = Query(None, description="Captured at or after (RFC 3339)"),
    until: datetime | None = Query(None, description="Captured before (RFC 3339)"),
) -> dict[str, Any]:
    gw = gateway_of(request)
    req = _list_request(badge_id, case_id, incident_id, category, since, until)
    req.page.CopyFrom(page)
    return to_json(await gw.call(principal, gw.backends.stub("badge").ListEvidence, req))


def _with_manifest_check(resp: bpb.ExportEvidenceResponse) -> dict[str, Any]:
    out = to_json(resp)
    # The receiver's first check, made here before it leaves: the manifest hashes to its digest.
    out["manifest_ok"] = hashlib.sha256(resp.manifest.encode()).hexdigest() == resp.manifest_sha256
    return out


async def _verify(request: Request, principal: Principal, export: dict[str, Any]) -> dict[str, Any]:
    gw = gateway_of(request)
    stub = gw.backends.stub("badge")
    results: list[dict[str, Any]] = []
    for item in export["items"]:
        evidence_id = item["evidence"]["evidence_id"]
        resp = await gw.call(
            principal, stub.VerifyEvidence, bpb.VerifyEvidenceRequest(evidence_id=evidence_id)
        )
        results.extend(to_json(r) for r in resp.results)
    export["verification"] = results
    export["verified"] = export["manifest_ok"] and all(r["ok"] for r in results)
    return export


@router.post(
    "/evidence-exports",
    summary="Export items with a hash manifest; each stored object is re-hashed and the result returned",
    description="EXPORTED and VERIFIED custody steps per item; `verified` is true when the manifest "
    "matches its SHA-256 and every object still matches the hash recorded at upload.",
    responses={
        200: {"description": "ExportEvidenceResponse plus manifest_ok, verification and verified"},
        **error_responses(404, 409),
    },
    tags=list(EVIDENCE),
)
async def export_evidence(
    request: Request,
    body: ExportBody,
    principal: Principal = Depends(require(Permission.EVIDENCE_EXPORT)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    req = bpb.ExportEvidenceRequest(
        evidence_ids=body.evidence_ids, recipient=body.recipient, reason=body.reason
    )
    resp = await gw.call(principal, gw.backends.stub("badge").ExportEvidence, req)
    return await _verify(request, principal, _with_manifest_check(resp))


ROUTES = [
    Route(
        "GET",
        "/evidence-items/{evidence_id}",
        Permission.RECORDINGS_READ,
        rpc("badge", "GetEvidence"),
        lambda c: bpb.GetEvidenceRequest(evidence_id=c.evidence_id, reason=c.reason),
        summary="One evidence item (a VIEWED custody step with the reason)",
        params={"reason": (str, Query("", max_length=TEXT, description="Why it is viewed"))},
        errors=(404,),
        tags=EVIDENCE,
        name="get_evidence",
    ),
    Route(
        "GET",
        "/evidence-items/{evidence_id}/custody",
        Permission.RECORDINGS_READ,
        rpc("badge", "GetCustody"),
        lambda c: bpb.GetCustodyRequest(evidence_id=c.evidence_id),
        summary="An item's chain of custody and whether its hashes link up",
        errors=(404,),
        tags=EVIDENCE,
        name="get_custody",
    ),
]

mount(router, ROUTES)
