"""Legal holds on the items the gateway exposes, and their two-person release.

A hold is kept by the service that owns its items (kuzet.common.v1.HoldService); the gateway
picks that service from the hold's kind. Releasing takes two calls by two different people with
the hold role: the first records the request, the second completes it (the same person twice is
409 with the reason).
"""

# FastAPI declares parameters with Depends()/Query() defaults; they are evaluated per request.
# ruff: noqa: B008

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from kuzet.common.v1 import common_pb2, holds_pb2, holds_pb2_grpc
from kuzet.gateway.auth import Principal
from kuzet.gateway.context import Gateway, gateway_of
from kuzet.gateway.convert import timestamp
from kuzet.gateway.deps import page_params, require
from kuzet.gateway.errors import bad_request, error_responses
from kuzet.gateway.protojson import json_response, to_json
from kuzet.gateway.roles import Permission
from kuzet.gateway.routes import path_id

router = APIRouter(prefix="/api/v1", tags=["holds"], responses=error_responses(400, 401, 403, 429, 503))

# Which service keeps the items of each kind of hold.
KIND_SERVICE: dict[str, str] = {
    "alerting.alert": "alerting",
    "identity.match": "identity",
    "ingest.object": "ingest",
    "traffic.observation": "traffic",
}
Service = Literal["alerting", "identity", "ingest", "traffic"]
HOLD_ID = r"^[A-Za-z0-9-]+$"
SERVICES: tuple[str, ...] = tuple(dict.fromkeys(KIND_SERVICE.values()))


def _stub(gw: Gateway, service: str) -> holds_pb2_grpc.HoldServiceStub:
    return holds_pb2_grpc.HoldServiceStub(gw.backends.channel(service))


def _service_of(kind: str) -> str:
    service = KIND_SERVICE.get(kind)
    if service is None:
        raise bad_request(f"kind must be one of {', '.join(sorted(KIND_SERVICE))} (got {kind!r})")
    return service


def hold_json(service: str, hold: holds_pb2.LegalHold) -> dict[str, Any]:
    return {**to_json(hold), "service": service}


class HoldBody(BaseModel):
    kind: str = Field(max_length=64, description=f"one of {', '.join(sorted(KIND_SERVICE))}")
    item_id: str = Field("", max_length=256, description="one item (e.g. a match id)")
    case_id: str = Field("", max_length=256, description="every item of a case (e.g. the event id)")
    source_id: str = Field("", max_length=256, description="every item of a source (a camera)")
    from_time: datetime | None = Field(None, description="with source_id: from this time (RFC 3339)")
    to_time: datetime | None = Field(None, description="with source_id: until this time (RFC 3339)")
    reason: str = Field(min_length=1, max_length=4000, description="Why; kept in the audit trail")


class ReleaseBody(BaseModel):
    reason: str = Field(min_length=1, max_length=4000, description="Why; kept in the audit trail")


@router.post(
    "/holds",
    summary="Place a legal hold: the items it covers are never deleted by retention while it holds",
    responses=json_response(holds_pb2.PlaceHoldResponse.DESCRIPTOR),
)
async def place_hold(
    request: Request, body: HoldBody, principal: Principal = Depends(require(Permission.HOLDS_MANAGE))
) -> dict[str, Any]:
    gw = gateway_of(request)
    service = _service_of(body.kind)
    req = holds_pb2.PlaceHoldRequest(
        kind=body.kind,
        item_id=body.item_id,
        case_id=body.case_id,
        source_id=body.source_id,
        reason=body.reason,
    )
    if (start := timestamp(body.from_time, "from_time")) is not None:
        req.from_time.CopyFrom(start)
    if (end := timestamp(body.to_time, "to_time")) is not None:
        req.to_time.CopyFrom(end)
    resp = await gw.call(principal, _stub(gw, service).PlaceHold, req)
    return {"hold": hold_json(service, resp.hold)}


@router.get(
    "/holds",
    summary="The agency's legal holds, newest first (one kind, or every kind the gateway exposes)",
    responses=json_response(holds_pb2.ListHoldsResponse.DESCRIPTOR),
)
async def list_holds(
    request: Request,
    principal: Principal = Depends(require(Permission.HOLDS_READ)),
    page: common_pb2.PageRequest = Depends(page_params),
    kind: str = Query("", max_length=64),
    include_released: bool = Query(False),
) -> dict[str, Any]:
    gw = gateway_of(request)
    services = [_service_of(kind)] if kind else list(SERVICES)
    if len(services) > 1 and page.page_token:
        raise bad_request("page_token needs the kind it was issued for")
    holds: list[dict[str, Any]] = []
    token = ""
    for service in services:
        req = holds_pb2.ListHoldsRequest(kind=kind, include_released=include_released, page=page)
        resp = await gw.call(principal, _stub(gw, service).ListHolds, req)
        holds += [hold_json(service, h) for h in resp.holds]
        token = resp.page.next_page_token if len(services) == 1 else ""
    return {"holds": holds, "page": {"next_page_token": token}}


@router.get(
    "/holds/{service}/{hold_id}",
    summary="One legal hold, with any release request waiting for its second person",
    responses={**json_response(holds_pb2.GetHoldResponse.DESCRIPTOR), **error_responses(404)},
)
async def get_hold(
    request: Request,
    service: Service,
    hold_id: str = path_id(max_length=64, pattern=HOLD_ID),
    principal: Principal = Depends(require(Permission.HOLDS_READ)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    resp = await gw.call(principal, _stub(gw, service).GetHold, holds_pb2.GetHoldRequest(hold_id=hold_id))
    return {"hold": hold_json(service, resp.hold)}


@router.post(
    "/holds/{service}/{hold_id}/release",
    summary="Ask to release a legal hold, or complete the release another person asked for",
    description="The first call records a release request (the hold still holds); a second call by a "
    "different person with the hold role completes it before the request lapses. The same person "
    "twice is 409.",
    responses={**json_response(holds_pb2.ReleaseHoldResponse.DESCRIPTOR), **error_responses(404, 409)},
)
async def release_hold(
    request: Request,
    body: ReleaseBody,
    service: Service,
    hold_id: str = path_id(max_length=64, pattern=HOLD_ID),
    principal: Principal = Depends(require(Permission.HOLDS_MANAGE)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    resp = await gw.call(
        principal,
        _stub(gw, service).ReleaseHold,
        holds_pb2.ReleaseHoldRequest(hold_id=hold_id, reason=body.reason),
    )
    return {"hold": hold_json(service, resp.hold), "released": resp.released}
