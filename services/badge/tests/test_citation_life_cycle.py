"""A citation's life cycle over real gRPC: issued, paid, contested, upheld or voided, audited."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from kuzet.badge.server import BadgeApp
from kuzet.badge.sim import register_badges
from kuzet.badge.v1 import badge_pb2 as A
from kuzet.badge.v1 import badge_pb2_grpc
from kuzet.common.caller import Caller

from .conftest import AGENCY
from .test_records import OFFICER, citation

Stub = badge_pb2_grpc.BadgeServiceStub
SUPERVISOR = Caller("sgt-1", AGENCY, frozenset({"admin"}))
OTHER_AGENCY = Caller("admin-x", "prison", frozenset({"admin"}))
S = A.CitationStatus


async def issue(stub: Stub, **fields: Any) -> A.Citation:
    return (await stub.CreateCitation(A.CreateCitationRequest(citation=citation(**fields)))).citation


async def move(stub: Stub, citation_id: str, status: S, reason: str = "") -> A.Citation:
    request = A.UpdateCitationStatusRequest(citation_id=citation_id, status=status, reason=reason)
    return (await stub.UpdateCitationStatus(request)).citation


async def refused(stub: Stub, citation_id: str, status: S, reason: str = "") -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await move(stub, citation_id, status, reason)
    return err.value


def steps(c: A.Citation) -> list[tuple[str, str, str]]:
    return [(A.CitationStatus.Name(t.to_status), t.actor, t.reason) for t in c.history]


async def test_a_contest_upheld_then_paid_keeps_every_step(app: BadgeApp, admin: Stub, stub_for: Any) -> None:
    await register_badges(admin, AGENCY, ["C-1"], unit="traffic-north")
    officer, supervisor = stub_for(OFFICER), stub_for(SUPERVISOR)
    issued = await issue(officer)
    assert issued.status == A.CITATION_STATUS_ISSUED and issued.unit_id == "traffic-north"
    assert steps(issued) == [("CITATION_STATUS_ISSUED", "officer-C-1", "")]
    assert issued.register.exported_version == 0 and not issued.register.register_id
    cid = issued.citation_id

    # Every citation names the moves its status allows, whoever reads it: callers show no others.
    assert list(issued.next_statuses) == [
        A.CITATION_STATUS_PAID,
        A.CITATION_STATUS_CONTESTED,
        A.CITATION_STATUS_VOIDED,
    ]

    contested = await move(officer, cid, A.CITATION_STATUS_CONTESTED, "the light was amber")
    assert list(contested.next_statuses) == [A.CITATION_STATUS_UPHELD, A.CITATION_STATUS_VOIDED]
    # Deciding a contest is a supervisor's: the officer who issued it may not.
    denied = await refused(officer, cid, A.CITATION_STATUS_UPHELD, "camera shows red")
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    upheld = await move(supervisor, cid, A.CITATION_STATUS_UPHELD, "camera C-12 shows red for 2 s")
    assert list(upheld.next_statuses) == [A.CITATION_STATUS_PAID, A.CITATION_STATUS_VOIDED]
    paid = await move(officer, cid, A.CITATION_STATUS_PAID, "receipt 77-1")
    assert not paid.next_statuses
    assert contested.status == A.CITATION_STATUS_CONTESTED and paid.status == A.CITATION_STATUS_PAID
    assert steps(paid) == [
        ("CITATION_STATUS_ISSUED", "officer-C-1", ""),
        ("CITATION_STATUS_CONTESTED", "officer-C-1", "the light was amber"),
        ("CITATION_STATUS_UPHELD", "sgt-1", "camera C-12 shows red for 2 s"),
        ("CITATION_STATUS_PAID", "officer-C-1", "receipt 77-1"),
    ]
    assert [(t.from_status, t.to_status) for t in paid.history][1:] == [
        (A.CITATION_STATUS_ISSUED, A.CITATION_STATUS_CONTESTED),
        (A.CITATION_STATUS_CONTESTED, A.CITATION_STATUS_UPHELD),
        (A.CITATION_STATUS_UPHELD, A.CITATION_STATUS_PAID),
    ]
    assert all(t.HasField("at") for t in paid.history)
    fetched = (await officer.GetCitation(A.GetCitationRequest(citation_id=cid))).citation
    assert fetched == paid
    # Paid is final.
    final = await refused(supervisor, cid, A.CITATION_STATUS_VOIDED, "typo")
    assert final.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "is PAID and cannot become VOIDED (possible: none: it is final)" in (final.details() or "")
    audit = app.evidence.audit.list(action_prefix="citation.status", target=cid)
    assert [(e.outcome, e.actor, (e.details or {}).get("to")) for e in audit] == [
        ("ok", "officer-C-1", "CONTESTED"),
        ("ok", "sgt-1", "UPHELD"),
        ("ok", "officer-C-1", "PAID"),
        ("refused", "sgt-1", "VOIDED"),
    ]


async def test_voiding_needs_a_supervisor_and_a_reason_and_is_final(admin: Stub, stub_for: Any) -> None:
    await register_badges(admin, AGENCY, ["C-1"])
    officer, supervisor = stub_for(OFFICER), stub_for(SUPERVISOR)
    cid = (await issue(officer)).citation_id
    no_reason = await refused(supervisor, cid, A.CITATION_STATUS_VOIDED, "  ")
    assert no_reason.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert no_reason.details() == "voiding a citation needs a reason"
    no_grounds = await refused(officer, cid, A.CITATION_STATUS_CONTESTED)
    assert no_grounds.details() == "contesting a citation needs the person's grounds"
    assert (await refused(officer, cid, A.CITATION_STATUS_VOIDED, "x")).code() == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    back = await refused(officer, cid, A.CITATION_STATUS_ISSUED)
    assert back.code() == grpc.StatusCode.INVALID_ARGUMENT and "status must be one of" in (
        back.details() or ""
    )
    cross = await refused(stub_for(OTHER_AGENCY), cid, A.CITATION_STATUS_VOIDED, "not ours")
    assert cross.code() == grpc.StatusCode.PERMISSION_DENIED
    unknown = await refused(supervisor, "no-such", A.CITATION_STATUS_VOIDED, "x")
    assert unknown.code() == grpc.StatusCode.NOT_FOUND

    voided = await move(supervisor, cid, A.CITATION_STATUS_VOIDED, "wrong plate entered")
    assert voided.status == A.CITATION_STATUS_VOIDED and not voided.next_statuses
    assert voided.history[-1].reason == "wrong plate entered"
    paying = await refused(officer, cid, A.CITATION_STATUS_PAID, "receipt 1")
    assert paying.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "is VOIDED and cannot become PAID" in (paying.details() or "")
    # Contest, then void: a contest may also be decided for the person.
    second = (await issue(officer)).citation_id
    await move(officer, second, A.CITATION_STATUS_CONTESTED, "I was not driving")
    assert (await refused(officer, second, A.CITATION_STATUS_PAID, "r")).code() == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    await move(supervisor, second, A.CITATION_STATUS_VOIDED, "owner proved another driver")
    listing = await officer.ListCitations(A.ListCitationsRequest(status=A.CITATION_STATUS_VOIDED))
    assert {c.citation_id for c in listing.citations} == {cid, second}
    assert all(c.status == A.CITATION_STATUS_VOIDED for c in listing.citations)
    assert not (await officer.ListCitations(A.ListCitationsRequest(status=A.CITATION_STATUS_PAID))).citations
