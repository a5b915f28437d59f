"""E-citations (badge service): the officer's citations, each with its life cycle and the moves
the caller may make next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from kuzet.badge.v1 import badge_pb2 as bpb
from kuzet.gateway.auth import Principal
from kuzet.gateway.errors import error_responses
from kuzet.gateway.protojson import enum_value, short_enum_names, to_json
from kuzet.gateway.roles import Permission, allowed
from kuzet.gateway.routes import Call, Route, mount, rpc

REASON = 2000  # what badge keeps of a transition's reason
STATUS = bpb.DESCRIPTOR.enum_types_by_name["CitationStatus"]


@dataclass(frozen=True)
class Move:
    """One life-cycle step as a route: /citations/{id}/{action}."""

    action: str
    status: int
    permission: Permission
    reason_required: bool
    summary: str


# Badge owns the life cycle: it refuses illegal moves (audited) and names the legal next ones
# on every citation, so the buttons shown are the ones it would accept.
MOVES = (
    Move(
        "pay",
        bpb.CITATION_STATUS_PAID,
        Permission.CITATIONS_RECORD,
        False,
        "Record that the fine was paid (reason: the payment reference)",
    ),
    Move(
        "contest",
        bpb.CITATION_STATUS_CONTESTED,
        Permission.CITATIONS_RECORD,
        True,
        "Record that the person contests it (reason: their grounds)",
    ),
    Move(
        "uphold",
        bpb.CITATION_STATUS_UPHELD,
        Permission.CITATIONS_DECIDE,
        True,
        "Reject a contest: the citation stands (reason: the decision's)",
    ),
    Move(
        "void",
        bpb.CITATION_STATUS_VOIDED,
        Permission.CITATIONS_DECIDE,
        True,
        "Void a citation (reason required)",
    ),
)


class ReasonBody(BaseModel):
    reason: str = Field("", max_length=REASON, description="Payment reference, grounds or decision")


class RequiredReasonBody(BaseModel):
    reason: str = Field(min_length=1, max_length=REASON, description="Grounds or decision; audited")


def _actions(principal: Principal, citation: bpb.Citation) -> list[dict[str, Any]]:
    return [
        {"action": m.action, "reason_required": m.reason_required}
        for m in MOVES
        if m.status in citation.next_statuses and allowed(principal.roles, m.permission)
    ]


def _shown(principal: Principal, citation: bpb.Citation) -> dict[str, Any]:
    out = to_json(citation)
    out["actions"] = _actions(principal, citation)
    return out


def _listed(c: Call, resp: bpb.ListCitationsResponse) -> dict[str, Any]:
    out = to_json(resp)
    out["citations"] = [_shown(c.principal, x) for x in resp.citations]
    return out


def _one(c: Call, resp: Any) -> dict[str, Any]:
    return {"citation": _shown(c.principal, resp.citation)}


def _list(c: Call) -> bpb.ListCitationsRequest:
    status = enum_value(STATUS, c.status, "status") if c.status else 0
    return bpb.ListCitationsRequest(
        officer_id=c.officer_id,
        offence_code=c.offence_code,
        vehicle_plate=c.vehicle_plate,
        status=status,
        page=c.page,
    )


def _move_route(move: Move) -> Route:
    def request(c: Call) -> bpb.UpdateCitationStatusRequest:
        return bpb.UpdateCitationStatusRequest(
            citation_id=c.citation_id,
            status=move.status,
            reason=c.body.reason,
        )

    return Route(
        "POST",
        f"/citations/{{citation_id}}/{move.action}",
        move.permission,
        rpc("badge", "UpdateCitationStatus"),
        request,
        summary=move.summary,
        body=RequiredReasonBody if move.reason_required else ReasonBody,
        render=_one,
        errors=(404, 409),
        tags=CITATIONS,
        name=f"{move.action}_citation",
    )


CITATIONS = ("citations",)
STATUSES = short_enum_names(STATUS)

ROUTES = [
    Route(
        "GET",
        "/citations",
        Permission.CITATIONS_READ,
        rpc("badge", "ListCitations"),
        _list,
        summary="The agency's citations, newest first, with the moves the caller may make",
        paged=True,
        params={
            "status": (
                str,
                Query("", pattern=f"^({'|'.join(STATUSES)})?$", description="Now in this status"),
            ),
            "officer_id": (str, Query("", max_length=128)),
            "offence_code": (str, Query("", max_length=64)),
            "vehicle_plate": (str, Query("", max_length=32)),
        },
        render=_listed,
        tags=CITATIONS,
    ),
    Route(
        "GET",
        "/citations/offence-codes",
        Permission.CITATIONS_READ,
        rpc("badge", "ListOffenceCodes"),
        lambda c: bpb.ListOffenceCodesRequest(),
        summary="The configured offence codes",
        tags=CITATIONS,
    ),
    Route(
        "GET",
        "/citations/{citation_id}",
        Permission.CITATIONS_READ,
        rpc("badge", "GetCitation"),
        lambda c: bpb.GetCitationRequest(citation_id=c.citation_id),
        summary="One citation with its history and the moves the caller may make",
        render=_one,
        errors=(404,),
        tags=CITATIONS,
    ),
    *(_move_route(m) for m in MOVES),
]

router = mount(APIRouter(prefix="/api/v1", responses=error_responses(400, 401, 403, 429, 503)), ROUTES)
