"""A hub investigator's cross-site face search: each facility searches its own galleries with its
own identity, the search is on record at the hub and at every facility searched, a facility cut
off is reported unreachable, and a user limited to one facility cannot search the other."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest

from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.grpcclient import open_channel
from kuzet.common.testdata import face_photos
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import audit_pb2, audit_pb2_grpc
from kuzet.federation.search import AUDIENCE
from kuzet.federation.v1 import federation_pb2 as pb
from kuzet.federation.v1 import federation_pb2_grpc
from kuzet.identity.v1 import identity_pb2, identity_pb2_grpc

from .conftest import HUB, SITES, Federation, Release
from .test_federation import IDENTITY_ADMIN

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("federation", [{"identity": True}], indirect=True)]

SITE_A, SITE_B = SITES
INVESTIGATOR = Caller("inv-nat-7", "prison", frozenset({"investigator"}))
AUDITOR = Caller("aud-1", "prison", frozenset({"auditor"}))
PURPOSE = "case 2026/118: escape from site-a"


async def enrol_local_suspect(release: Release) -> str:
    """A facility's own watchlist entry, which no hub ever sent it."""
    assert release.identity is not None
    channel = open_channel(release.identity.address, audience="identity", caller=IDENTITY_ADMIN)
    try:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        gallery = await stub.CreateGallery(
            identity_pb2.CreateGalleryRequest(
                name="local-suspects",
                kind=identity_pb2.GALLERY_KIND_WATCHLIST,
                purpose="suspects of offences inside the facility",
                legal_basis="Penal Enforcement Code art. 17",
                owner="security department",
                required_reviewers=2,
                expires_at=to_timestamp(utcnow() + timedelta(days=180)),
            )
        )
        photo = face_photos()["obama"][0].read_bytes()
        enrolled = await stub.EnrolPerson(
            identity_pb2.EnrolPersonRequest(
                gallery_id=gallery.gallery.gallery_id,
                external_id="L-0042",
                display_name="Local suspect",
                images=[identity_pb2.FaceImage(image=photo)],
            )
        )
        assert enrolled.results[0].accepted
        return enrolled.person.person_id
    finally:
        await channel.close()


async def search(hub: Release, caller: Caller, **fields: object) -> pb.SearchSitesResponse:
    channel = open_channel(hub.federation.address, audience=AUDIENCE, caller=caller)
    try:
        stub = federation_pb2_grpc.FederationServiceStub(channel)
        return await stub.SearchSites(pb.SearchSitesRequest(**fields))  # type: ignore[arg-type]
    finally:
        await channel.close()


async def audit_records(address: str, audience: str, action: str) -> list[audit_pb2.AuditRecord]:
    channel = open_channel(address, audience=audience, caller=AUDITOR)
    try:
        stub = audit_pb2_grpc.AuditServiceStub(channel)
        request = audit_pb2.ListAuditRequest(agency_id="prison", action_prefix=action)
        return list((await stub.ListAudit(request)).records)
    finally:
        await channel.close()


def probe() -> bytes:
    return face_photos()["obama"][1].read_bytes()


async def test_a_search_at_the_hub_is_answered_by_each_facility_and_audited_at_both_ends(
    federation: Federation,
) -> None:
    a, b, hub = federation.facilities[SITE_A], federation.facilities[SITE_B], federation.hub
    person_id = await enrol_local_suspect(b)

    response = await search(hub, INVESTIGATOR, image=probe(), purpose=PURPOSE)

    by_site = {r.site: r for r in response.results}
    assert [r.site for r in response.results] == [SITE_A, SITE_B]
    assert by_site[SITE_A].status == pb.SITE_STATUS_OK
    assert not by_site[SITE_A].candidates, "facility A has no galleries"
    assert by_site[SITE_B].status == pb.SITE_STATUS_OK
    found = by_site[SITE_B].candidates[0]
    assert (found.person_id, found.external_id, found.above_threshold) == (person_id, "L-0042", True)
    assert by_site[SITE_B].model

    # The hub's record: who asked, why, and who was found where.
    hub_records = await audit_records(hub.federation.address, AUDIENCE, "federation.search")
    assert [r.seq for r in hub_records] == [response.audit_seq]
    record = hub_records[0]
    assert (record.actor, record.agency_id) == (INVESTIGATOR.subject, "prison")
    details = dict(record.details)
    assert details["purpose"] == PURPOSE
    sites = {s["site"]: s for s in details["sites"]}
    assert sites[SITE_B]["candidates"][0]["external_id"] == "L-0042"
    assert sites[SITE_A]["status"] == "SITE_STATUS_OK"

    # Each facility's own record, in its identity's trail: the hub user, the purpose and the search.
    for release in (a, b):
        assert release.identity is not None
        records = await audit_records(release.identity.address, "identity", "identity.search")
        assert [r.actor for r in records] == [f"{INVESTIGATOR.subject}@{HUB}"], release.site
        assert PURPOSE in records[0].details["purpose"]
        assert record.target in records[0].details["purpose"], "the hub's search id names it"


async def test_a_facility_cut_off_is_reported_unreachable_and_the_other_still_answers(
    federation: Federation,
) -> None:
    b, hub = federation.facilities[SITE_B], federation.hub
    await enrol_local_suspect(b)
    federation.link.cut()

    response = await search(hub, INVESTIGATOR, image=probe(), purpose=PURPOSE)

    by_site = {r.site: r for r in response.results}
    assert by_site[SITE_A].status == pb.SITE_STATUS_UNREACHABLE
    assert "not searched" in by_site[SITE_A].message
    assert by_site[SITE_B].status == pb.SITE_STATUS_OK
    assert by_site[SITE_B].candidates[0].external_id == "L-0042"
    record = (await audit_records(hub.federation.address, AUDIENCE, "federation.search"))[0]
    assert {s["site"]: s["status"] for s in record.details["sites"]} == {
        SITE_A: "SITE_STATUS_UNREACHABLE",
        SITE_B: "SITE_STATUS_OK",
    }


async def test_a_user_limited_to_one_facility_cannot_search_the_other(federation: Federation) -> None:
    b, hub = federation.facilities[SITE_B], federation.hub
    await enrol_local_suspect(b)
    limited = Caller("inv-a-1", "prison", frozenset({"investigator"}), frozenset({SITE_A}))

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await search(hub, limited, image=probe(), purpose=PURPOSE, sites=[SITE_B])
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert SITE_B in (refused.value.details() or "")

    # Asked for no site in particular, only the user's own is searched.
    response = await search(hub, limited, image=probe(), purpose=PURPOSE)
    assert [r.site for r in response.results] == [SITE_A]
    assert b.identity is not None
    assert await audit_records(b.identity.address, "identity", "identity.search") == []


@pytest.mark.parametrize(
    ("caller", "fields", "code", "message"),
    [
        (
            INVESTIGATOR,
            {"purpose": PURPOSE, "image": b""},
            grpc.StatusCode.INVALID_ARGUMENT,
            "image is required",
        ),
        (INVESTIGATOR, {"purpose": " "}, grpc.StatusCode.INVALID_ARGUMENT, "purpose is required"),
        (INVESTIGATOR, {"purpose": PURPOSE, "sites": ["site-x"]}, grpc.StatusCode.INVALID_ARGUMENT, "site-x"),
        (INVESTIGATOR, {"purpose": PURPOSE, "top_k": 101}, grpc.StatusCode.INVALID_ARGUMENT, "top_k"),
        (
            Caller("op-1", "prison", frozenset({"operator"})),
            {"purpose": PURPOSE},
            grpc.StatusCode.PERMISSION_DENIED,
            "investigator",
        ),
    ],
    ids=["no-image", "no-purpose", "unknown-site", "top-k", "not-an-investigator"],
)
async def test_bad_searches_are_refused_and_reach_no_facility(
    federation: Federation, caller: Caller, fields: dict[str, object], code: grpc.StatusCode, message: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await search(federation.hub, caller, **{"image": probe(), **fields})
    assert refused.value.code() == code
    assert message in (refused.value.details() or "")
    for release in federation.facilities.values():
        assert release.federation.searches is not None
        assert release.federation.searches.answered == 0


async def test_a_facility_refuses_a_request_without_a_valid_caller(federation: Federation) -> None:
    a = federation.facilities[SITE_A]
    assert a.federation.searches is not None
    data = pb.SiteSearchRequest(image=probe(), purpose=PURPOSE, hub=HUB, search_id="s-1").SerializeToString()
    from_hub = dict(
        caller_metadata(
            Caller(f"{INVESTIGATOR.subject}@{HUB}", "prison", INVESTIGATOR.roles), audience=AUDIENCE
        )
    )
    # Not named by a hub (a token minted for a local user), or not an investigator.
    local = dict(caller_metadata(INVESTIGATOR, audience=AUDIENCE))
    operator = dict(
        caller_metadata(Caller(f"op-1@{HUB}", "prison", frozenset({"operator"})), audience=AUDIENCE)
    )
    cases = [
        (data, {}, "no caller"),
        (data, local, "<subject>@<hub>"),
        (data, operator, "investigator"),
        (b"\xff\xff", from_hub, "not a kuzet.federation.v1.SiteSearchRequest"),
    ]
    for payload, headers, message in cases:
        refused = await a.federation.searches.answer(payload, headers)
        assert refused.status == pb.SITE_STATUS_FAILED, message
        assert message in refused.message
    assert a.identity is not None
    assert await audit_records(a.identity.address, "identity", "identity.search") == []
    # The same request with a hub's caller is answered (and is then on record).
    answered = await a.federation.searches.answer(data, from_hub)
    assert answered.status == pb.SITE_STATUS_OK, answered.message
    assert len(await audit_records(a.identity.address, "identity", "identity.search")) == 1
