"""Cross-site face search at a hub (federation service)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from kuzet.federation.v1 import federation_pb2 as pb
from kuzet.gateway.api.identity import decoded_image
from kuzet.gateway.errors import error_responses
from kuzet.gateway.roles import Permission
from kuzet.gateway.routes import Call, Route, mount, rpc


class SiteSearchBody(BaseModel):
    # A NATS message carries it to each facility: at most 768 KiB once decoded.
    image: str = Field(description="Base64 JPEG/PNG; the largest face is used", max_length=1_100_000)
    purpose: str = Field(
        min_length=1, max_length=2000, description="Why; kept at the hub and at each facility"
    )
    sites: list[str] = Field(
        default_factory=list, max_length=200, description="Facilities to search; empty: all of yours"
    )
    top_k: int = Field(0, ge=0, le=100, description="Candidates per facility; 0 means 10")


def _search(c: Call) -> pb.SearchSitesRequest:
    body: SiteSearchBody = c.body
    return pb.SearchSitesRequest(
        image=decoded_image(body.image, "image"), purpose=body.purpose, sites=body.sites, top_k=body.top_k
    )


ROUTES = [
    Route(
        "POST",
        "/federation/searches",
        Permission.SITES_SEARCH,
        rpc("federation", "SearchSites"),
        _search,
        body=SiteSearchBody,
        summary="Search a face in the facilities' own galleries (at a hub; investigators). Each "
        "facility answers with its candidates or is reported unreachable; the search is audited "
        "here and at every facility searched",
        errors=(409,),
    ),
]

router = mount(
    APIRouter(prefix="/api/v1", tags=["federation"], responses=error_responses(400, 401, 403, 429, 503)),
    ROUTES,
)
