"""Review queue, galleries, people, identification (identity service)."""

# FastAPI declares parameters with Depends()/Query() defaults; they are evaluated per request.
# ruff: noqa: B008

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from kuzet.common.v1 import common_pb2
from kuzet.gateway.api.common import add_url, evidence_url, timestamp
from kuzet.gateway.auth import Principal
from kuzet.gateway.context import Gateway, gateway_of
from kuzet.gateway.deps import page_params, require
from kuzet.gateway.errors import bad_request, error_responses
from kuzet.gateway.protojson import enum_value, json_response, short_enum_names, to_json
from kuzet.gateway.roles import Permission
from kuzet.identity.v1 import identity_pb2 as pb

router = APIRouter(prefix="/api/v1", tags=["identity"], responses=error_responses(400, 401, 403, 429, 503))

MATCH_STATE = pb.DESCRIPTOR.enum_types_by_name["MatchState"]
DECISION = pb.DESCRIPTOR.enum_types_by_name["ReviewDecision"]
KIND = pb.DESCRIPTOR.enum_types_by_name["GalleryKind"]
MODE = pb.DESCRIPTOR.enum_types_by_name["MatchMode"]


def _id() -> Any:
    # A fresh Path() per route: FastAPI binds a parameter object to the first route using it.
    return Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")


def match_json(gw: Gateway, principal: Principal, m: pb.Match) -> dict[str, Any]:
    out = to_json(m)
    # Both faces go through identity (GetProbeImage / GetPersonImage) so its audit trail records
    # the view, and the gateway's records who opened the link.
    add_url(out, "probe_url", evidence_url(gw, principal, "probe_image", m.match_id, f"review {m.match_id}"))
    add_url(
        out,
        "enrolled_url",
        evidence_url(gw, principal, "person_image", m.candidate.image_id, f"review {m.match_id}"),
    )
    add_url(
        out, "snapshot_url", evidence_url(gw, principal, "object", m.snapshot.key, f"review {m.match_id}")
    )
    return out


@router.get(
    "/reviews",
    summary="The review queue of face-match candidates",
    responses=json_response(pb.ListReviewsResponse.DESCRIPTOR),
)
async def list_reviews(
    request: Request,
    principal: Principal = Depends(require(Permission.REVIEWS_READ)),
    page: common_pb2.PageRequest = Depends(page_params),
    state: str | None = Query(None, description="pending (default), confirmed, rejected", max_length=32),
    gallery_id: str = Query("", max_length=128),
) -> dict[str, Any]:
    gw = gateway_of(request)
    req = pb.ListReviewsRequest(
        state=enum_value(MATCH_STATE, state, "state") if state else 0,
        gallery_id=gallery_id,
        page=page,
    )
    resp = await gw.call(principal, gw.backends.identity.ListReviews, req)
    return {"matches": [match_json(gw, principal, m) for m in resp.matches], "page": to_json(resp.page)}


class ReviewBody(BaseModel):
    decision: str = Field(description="confirm or reject", max_length=32)
    reason: str = Field(min_length=1, max_length=2000, description="Why; kept in the audit trail")


@router.post(
    "/reviews/{match_id}",
    summary="Confirm or reject a candidate match (each reviewer counts once)",
    responses={**json_response(pb.SubmitReviewResponse.DESCRIPTOR), **error_responses(404, 409)},
)
async def submit_review(
    request: Request,
    body: ReviewBody,
    match_id: str = _id(),
    principal: Principal = Depends(require(Permission.REVIEWS_DECIDE)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    decision = enum_value(DECISION, body.decision, "decision")
    resp = await gw.call(
        principal,
        gw.backends.identity.SubmitReview,
        pb.SubmitReviewRequest(match_id=match_id, decision=decision, reason=body.reason),
    )
    return {"match": match_json(gw, principal, resp.match)}


@router.get(
    "/galleries",
    summary="Galleries of the agency (and shared with it)",
    responses=json_response(pb.ListGalleriesResponse.DESCRIPTOR),
)
async def list_galleries(
    request: Request,
    principal: Principal = Depends(require(Permission.GALLERIES_READ)),
    page: common_pb2.PageRequest = Depends(page_params),
    include_shared: bool = Query(False),
) -> dict[str, Any]:
    gw = gateway_of(request)
    resp = await gw.call(
        principal,
        gw.backends.identity.ListGalleries,
        pb.ListGalleriesRequest(include_shared=include_shared, page=page),
    )
    return to_json(resp)


class GalleryBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(description="One of: " + ", ".join(short_enum_names(KIND)), max_length=32)
    purpose: str = Field(min_length=1, max_length=2000)
    legal_basis: str = Field(min_length=1, max_length=2000)
    owner: str = Field(min_length=1, max_length=200)
    threshold: float = Field(0.0, ge=0.0, le=1.0)
    required_reviewers: int = Field(
        0, ge=0, le=10, description="0: the default (2 for a watchlist, which needs at least 2)"
    )
    expires_at: datetime | None = Field(
        None,
        description="RFC 3339; required for a watchlist, at most the deployment's maximum ahead "
        "(KUZET_IDENTITY_WATCHLIST_MAX_DAYS, default 365 days)",
    )


@router.post(
    "/galleries",
    summary="Create a gallery (purpose and legal basis required)",
    responses={**json_response(pb.CreateGalleryResponse.DESCRIPTOR), **error_responses(409)},
)
async def create_gallery(
    request: Request, body: GalleryBody, principal: Principal = Depends(require(Permission.GALLERIES_ADMIN))
) -> dict[str, Any]:
    gw = gateway_of(request)
    req = pb.CreateGalleryRequest(
        name=body.name,
        kind=enum_value(KIND, body.kind, "kind"),
        purpose=body.purpose,
        legal_basis=body.legal_basis,
        owner=body.owner,
        threshold=body.threshold,
        required_reviewers=body.required_reviewers,
    )
    if (expires := timestamp(body.expires_at, "expires_at")) is not None:
        req.expires_at.CopyFrom(expires)
    return to_json(await gw.call(principal, gw.backends.identity.CreateGallery, req))


class GalleryUpdateBody(BaseModel):
    expires_at: datetime | None = Field(None, description="RFC 3339; omitted: unchanged")
    required_reviewers: int = Field(0, ge=0, le=10, description="0: unchanged; a watchlist needs at least 2")


@router.patch(
    "/galleries/{gallery_id}",
    summary="Change a gallery's expiry or required reviewers (watchlist rules apply)",
    responses={**json_response(pb.UpdateGalleryResponse.DESCRIPTOR), **error_responses(404)},
)
async def update_gallery(
    request: Request,
    body: GalleryUpdateBody,
    gallery_id: str = _id(),
    principal: Principal = Depends(require(Permission.GALLERIES_ADMIN)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    req = pb.UpdateGalleryRequest(gallery_id=gallery_id, required_reviewers=body.required_reviewers)
    if (expires := timestamp(body.expires_at, "expires_at")) is not None:
        req.expires_at.CopyFrom(expires)
    return to_json(await gw.call(principal, gw.backends.identity.UpdateGallery, req))


@router.get(
    "/galleries/{gallery_id}/people",
    summary="People enrolled in a gallery",
    responses={**json_response(pb.ListPeopleResponse.DESCRIPTOR), **error_responses(404)},
)
async def list_people(
    request: Request,
    gallery_id: str = _id(),
    principal: Principal = Depends(require(Permission.GALLERIES_READ)),
    page: common_pb2.PageRequest = Depends(page_params),
) -> dict[str, Any]:
    gw = gateway_of(request)
    return to_json(
        await gw.call(
            principal, gw.backends.identity.ListPeople, pb.ListPeopleRequest(gallery_id=gallery_id, page=page)
        )
    )


def _image(data: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(f"{what} must be base64") from None
    if not raw:
        raise bad_request(f"{what} is empty")
    return raw


class EnrolBody(BaseModel):
    external_id: str = Field("", max_length=200)
    display_name: str = Field("", max_length=200)
    person_id: str = Field("", max_length=128, description="Add images to this existing person")
    images: list[str] = Field(min_length=1, max_length=10, description="Base64 JPEG/PNG photos")


@router.post(
    "/galleries/{gallery_id}/people",
    summary="Enrol a person; each image is accepted or refused",
    responses={**json_response(pb.EnrolPersonResponse.DESCRIPTOR), **error_responses(404, 413)},
)
async def enrol(
    request: Request,
    body: EnrolBody,
    gallery_id: str = _id(),
    principal: Principal = Depends(require(Permission.PEOPLE_ENROL)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    req = pb.EnrolPersonRequest(
        gallery_id=gallery_id,
        person_id=body.person_id,
        external_id=body.external_id,
        display_name=body.display_name,
        images=[pb.FaceImage(image=_image(d, f"images[{i}]")) for i, d in enumerate(body.images)],
    )
    return to_json(await gw.call(principal, gw.backends.identity.EnrolPerson, req))


@router.delete(
    "/people/{person_id}",
    summary="Erase a person (images, embeddings); the audit record stays",
    responses={**json_response(pb.RemovePersonResponse.DESCRIPTOR), **error_responses(404)},
)
async def remove_person(
    request: Request,
    person_id: str = _id(),
    reason: str = Query(min_length=1, max_length=2000, description="Erasure request reference"),
    principal: Principal = Depends(require(Permission.PEOPLE_ERASE)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    return to_json(
        await gw.call(
            principal,
            gw.backends.identity.RemovePerson,
            pb.RemovePersonRequest(person_id=person_id, reason=reason),
        )
    )


class IdentifyBody(BaseModel):
    image: str = Field(description="Base64 JPEG/PNG; the largest face is used", max_length=12_000_000)
    gallery_ids: list[str] = Field(default_factory=list, max_length=50)
    mode: str = Field("alert", description="alert or investigation", max_length=32)
    top_k: int = Field(0, ge=0, le=100)
    purpose: str = Field(min_length=1, max_length=2000, description="Why; kept in the audit trail")


@router.post(
    "/identify",
    summary="1:N identification; audited by identity. Alert mode names nobody: each candidate is a "
    "review id (match_id) and a score until the reviewers confirm it",
    responses=json_response(pb.IdentifyResponse.DESCRIPTOR),
)
async def identify(
    request: Request, body: IdentifyBody, principal: Principal = Depends(require(Permission.IDENTIFY))
) -> dict[str, Any]:
    gw = gateway_of(request)
    req = pb.IdentifyRequest(
        probe=pb.Probe(image=_image(body.image, "image")),
        gallery_ids=body.gallery_ids,
        mode=enum_value(MODE, body.mode, "mode"),
        top_k=body.top_k,
        purpose=body.purpose,
    )
    return to_json(await gw.call(principal, gw.backends.identity.Identify, req))
