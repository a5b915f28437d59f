"""Review queue, galleries, people, identification (identity service)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from kuzet.gateway.convert import match_json, timestamp
from kuzet.gateway.errors import bad_request, error_responses
from kuzet.gateway.protojson import enum_value, short_enum_names, to_json
from kuzet.gateway.roles import Permission
from kuzet.gateway.routes import Call, Route, mount, rpc
from kuzet.identity.v1 import identity_pb2 as pb

MATCH_STATE = pb.DESCRIPTOR.enum_types_by_name["MatchState"]
DECISION = pb.DESCRIPTOR.enum_types_by_name["ReviewDecision"]
KIND = pb.DESCRIPTOR.enum_types_by_name["GalleryKind"]
MODE = pb.DESCRIPTOR.enum_types_by_name["MatchMode"]


class ReviewBody(BaseModel):
    decision: str = Field(description="confirm or reject", max_length=32)
    reason: str = Field(min_length=1, max_length=2000, description="Why; kept in the audit trail")


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


class GalleryUpdateBody(BaseModel):
    expires_at: datetime | None = Field(None, description="RFC 3339; omitted: unchanged")
    required_reviewers: int = Field(0, ge=0, le=10, description="0: unchanged; a watchlist needs at least 2")


class EnrolBody(BaseModel):
    external_id: str = Field("", max_length=200)
    display_name: str = Field("", max_length=200)
    person_id: str = Field("", max_length=128, description="Add images to this existing person")
    images: list[str] = Field(min_length=1, max_length=10, description="Base64 JPEG/PNG photos")
    consent: str = Field(
        "",
        max_length=500,
        description="Staff galleries: the reference of the person's recorded consent (form number and "
        "date); required for a new person there, kept with the person and on the audit record",
    )


class IdentifyBody(BaseModel):
    image: str = Field(description="Base64 JPEG/PNG; the largest face is used", max_length=12_000_000)
    gallery_ids: list[str] = Field(default_factory=list, max_length=50)
    mode: str = Field("alert", description="alert or investigation", max_length=32)
    top_k: int = Field(0, ge=0, le=100)
    purpose: str = Field(min_length=1, max_length=2000, description="Why; kept in the audit trail")


def decoded_image(data: str, what: str) -> bytes:
    """A base64 photo of a request body, or 400."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(f"{what} must be base64") from None
    if not raw:
        raise bad_request(f"{what} is empty")
    return raw


def _reviews(c: Call, resp: pb.ListReviewsResponse) -> dict[str, Any]:
    return {"matches": [match_json(c.gw, c.principal, m) for m in resp.matches], "page": to_json(resp.page)}


def _create_gallery(c: Call) -> pb.CreateGalleryRequest:
    body: GalleryBody = c.body
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
    return req


def _update_gallery(c: Call) -> pb.UpdateGalleryRequest:
    body: GalleryUpdateBody = c.body
    req = pb.UpdateGalleryRequest(gallery_id=c.gallery_id, required_reviewers=body.required_reviewers)
    if (expires := timestamp(body.expires_at, "expires_at")) is not None:
        req.expires_at.CopyFrom(expires)
    return req


def _enrol(c: Call) -> pb.EnrolPersonRequest:
    body: EnrolBody = c.body
    return pb.EnrolPersonRequest(
        gallery_id=c.gallery_id,
        person_id=body.person_id,
        external_id=body.external_id,
        display_name=body.display_name,
        consent=body.consent,
        images=[pb.FaceImage(image=decoded_image(d, f"images[{i}]")) for i, d in enumerate(body.images)],
    )


def _identify(c: Call) -> pb.IdentifyRequest:
    body: IdentifyBody = c.body
    return pb.IdentifyRequest(
        probe=pb.Probe(image=decoded_image(body.image, "image")),
        gallery_ids=body.gallery_ids,
        mode=enum_value(MODE, body.mode, "mode"),
        top_k=body.top_k,
        purpose=body.purpose,
    )


ROUTES = [
    Route(
        "GET",
        "/reviews",
        Permission.REVIEWS_READ,
        rpc("identity", "ListReviews"),
        lambda c: pb.ListReviewsRequest(
            state=enum_value(MATCH_STATE, c.state, "state") if c.state else 0,
            gallery_id=c.gallery_id,
            page=c.page,
        ),
        summary="The review queue of face-match candidates",
        paged=True,
        params={
            "state": (
                str | None,
                Query(None, description="pending (default), confirmed, rejected", max_length=32),
            ),
            "gallery_id": (str, Query("", max_length=128)),
        },
        render=_reviews,
    ),
    Route(
        "POST",
        "/reviews/{match_id}",
        Permission.REVIEWS_DECIDE,
        rpc("identity", "SubmitReview"),
        lambda c: pb.SubmitReviewRequest(
            match_id=c.match_id,
            decision=enum_value(DECISION, c.body.decision, "decision"),
            reason=c.body.reason,
        ),
        summary="Confirm or reject a candidate match (each reviewer counts once)",
        body=ReviewBody,
        render=lambda c, resp: {"match": match_json(c.gw, c.principal, resp.match)},
        errors=(404, 409),
    ),
    Route(
        "GET",
        "/galleries",
        Permission.GALLERIES_READ,
        rpc("identity", "ListGalleries"),
        lambda c: pb.ListGalleriesRequest(include_shared=c.include_shared, page=c.page),
        summary="Galleries of the agency (and shared with it)",
        paged=True,
        params={"include_shared": (bool, Query(False))},
    ),
    Route(
        "POST",
        "/galleries",
        Permission.GALLERIES_ADMIN,
        rpc("identity", "CreateGallery"),
        _create_gallery,
        summary="Create a gallery (purpose and legal basis required)",
        body=GalleryBody,
        errors=(409,),
    ),
    Route(
        "PATCH",
        "/galleries/{gallery_id}",
        Permission.GALLERIES_ADMIN,
        rpc("identity", "UpdateGallery"),
        _update_gallery,
        summary="Change a gallery's expiry or required reviewers (watchlist rules apply)",
        body=GalleryUpdateBody,
        errors=(404,),
    ),
    Route(
        "GET",
        "/galleries/{gallery_id}/people",
        Permission.GALLERIES_READ,
        rpc("identity", "ListPeople"),
        lambda c: pb.ListPeopleRequest(gallery_id=c.gallery_id, page=c.page),
        summary="People enrolled in a gallery",
        paged=True,
        errors=(404,),
    ),
    Route(
        "POST",
        "/galleries/{gallery_id}/people",
        Permission.PEOPLE_ENROL,
        rpc("identity", "EnrolPerson"),
        _enrol,
        summary="Enrol a person; each image is accepted or refused",
        body=EnrolBody,
        errors=(404, 413),
        name="enrol",
    ),
    Route(
        "DELETE",
        "/people/{person_id}",
        Permission.PEOPLE_ERASE,
        rpc("identity", "RemovePerson"),
        lambda c: pb.RemovePersonRequest(person_id=c.person_id, reason=c.reason),
        summary="Erase a person (images, embeddings); the audit record stays",
        params={
            "reason": (str, Query(min_length=1, max_length=2000, description="Erasure request reference"))
        },
        errors=(404,),
    ),
    Route(
        "POST",
        "/identify",
        Permission.IDENTIFY,
        rpc("identity", "Identify"),
        _identify,
        body=IdentifyBody,
        summary="1:N identification; audited by identity. Alert mode names nobody: each candidate is a "
        "review id (match_id) and a score until the reviewers confirm it",
    ),
]

router = mount(
    APIRouter(prefix="/api/v1", tags=["identity"], responses=error_responses(400, 401, 403, 429, 503)),
    ROUTES,
)
