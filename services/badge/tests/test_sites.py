"""A caller limited to some units (Caller.sites) over real gRPC: badges, citations, evidence and
statistics of other units read as missing and are left out of lists; writes into other units are
refused; unlimited callers still see the whole agency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from kuzet.badge.server import BadgeApp
from kuzet.badge.sim import register_badges
from kuzet.badge.v1 import badge_pb2 as A
from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.timeutil import to_timestamp, utcnow

from .conftest import ADMIN, AGENCY
from .test_citation_life_cycle import Stub, issue, move
from .test_evidence import chunks, metadata, recording, upload
from .test_records import OFFICER, citation

UNIT_1 = frozenset({"unit-1"})
LOCAL_OPERATOR = Caller("op-1", AGENCY, frozenset({"operator"}), UNIT_1)
LOCAL_ADMIN = Caller("adm-1", AGENCY, frozenset({"admin"}), UNIT_1)
LOCAL_INVESTIGATOR = Caller("inv-1", AGENCY, frozenset({"investigator"}), UNIT_1)
LOCAL_AUDITOR = Caller("aud-1", AGENCY, frozenset({"auditor"}), UNIT_1)
AUDITOR = Caller("aud-2", AGENCY, frozenset({"auditor"}))


async def refused(call: Any, request: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call(request)
    return err.value


async def missing_like(call: Any, make: Any, hidden_id: str) -> None:
    """Another unit's ``hidden_id`` is answered exactly as an id that does not exist is."""
    gone, other = await refused(call, make("nope")), await refused(call, make(hidden_id))
    assert other.code() == gone.code() == grpc.StatusCode.NOT_FOUND
    assert (other.details() or "").replace(hidden_id, "X") == (gone.details() or "").replace("nope", "X")


async def test_badges_of_other_units_are_hidden_and_not_registered_into(
    app: BadgeApp, admin: Stub, stub_for: Any
) -> None:
    await register_badges(admin, AGENCY, ["U1"], unit="unit-1")
    await register_badges(admin, AGENCY, ["U2"], unit="unit-2")
    local = stub_for(LOCAL_OPERATOR)

    listed = await local.ListBadges(A.ListBadgesRequest())
    assert [b.badge_id for b in listed.badges] == ["U1"]
    # Asking for another unit by name finds nothing rather than widening the limit.
    assert not (await local.ListBadges(A.ListBadgesRequest(unit_id="unit-2"))).badges
    states = await local.ListBadgeStates(A.ListBadgeStatesRequest())
    assert [s.badge_id for s in states.states] == ["U1"]
    assert (await local.GetBadge(A.GetBadgeRequest(badge_id="U1"))).badge.unit_id == "unit-1"
    await missing_like(local.GetBadge, lambda i: A.GetBadgeRequest(badge_id=i), "U2")
    await missing_like(local.GetBadgeState, lambda i: A.GetBadgeStateRequest(badge_id=i), "U2")
    hidden_shift = await refused(local.AssignOfficer, A.AssignOfficerRequest(badge_id="U2", officer_id="o-9"))
    assert hidden_shift.code() == grpc.StatusCode.NOT_FOUND

    local_admin = stub_for(LOCAL_ADMIN)
    elsewhere = await refused(
        local_admin.RegisterBadge, A.RegisterBadgeRequest(badge_id="U3", unit_id="unit-2")
    )
    assert elsewhere.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "unit-1" in (elsewhere.details() or "")
    registered = await local_admin.RegisterBadge(A.RegisterBadgeRequest(badge_id="U4", unit_id="unit-1"))
    assert registered.badge.unit_id == "unit-1"
    moved = await refused(
        local_admin.UpdateBadge,
        A.UpdateBadgeRequest(
            badge=A.Badge(badge_id="U4", unit_id="unit-2"), update_mask=FieldMask(paths=["unit_id"])
        ),
    )
    assert moved.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await admin.GetBadge(A.GetBadgeRequest(badge_id="U4"))).badge.unit_id == "unit-1"

    everything = await admin.ListBadges(A.ListBadgesRequest())
    assert sorted(b.badge_id for b in everything.badges) == ["U1", "U2", "U4"]
    all_states = await admin.ListBadgeStates(A.ListBadgeStatesRequest())
    assert sorted(s.badge_id for s in all_states.states) == ["U1", "U2", "U4"]


def at(year: int, month: int, day: int) -> Any:
    return to_timestamp(datetime(year, month, day, 12, tzinfo=UTC))


async def test_citations_and_statistics_of_other_units_are_hidden(
    app: BadgeApp, admin: Stub, stub_for: Any
) -> None:
    await register_badges(admin, AGENCY, ["C-1"], unit="unit-1")
    await register_badges(admin, AGENCY, ["C-2"], unit="unit-2")
    officer = stub_for(OFFICER)
    mine = await issue(officer, badge_id="C-1", occurred_at=at(2026, 3, 5))
    theirs = await issue(officer, badge_id="C-2", occurred_at=at(2026, 3, 6))
    await move(officer, theirs.citation_id, A.CITATION_STATUS_PAID, "receipt 1")
    local = stub_for(LOCAL_OPERATOR)

    listed = await local.ListCitations(A.ListCitationsRequest())
    assert [c.citation_id for c in listed.citations] == [mine.citation_id]
    got = await local.GetCitation(A.GetCitationRequest(citation_id=mine.citation_id))
    assert got.citation.unit_id == "unit-1"
    await missing_like(local.GetCitation, lambda i: A.GetCitationRequest(citation_id=i), theirs.citation_id)
    contest = A.UpdateCitationStatusRequest(
        citation_id=theirs.citation_id, status=A.CITATION_STATUS_CONTESTED, reason="not me"
    )
    assert (await refused(local.UpdateCitationStatus, contest)).code() == grpc.StatusCode.NOT_FOUND
    paid = await move(local, mine.citation_id, A.CITATION_STATUS_PAID, "receipt 2")
    assert paid.status == A.CITATION_STATUS_PAID

    issued_elsewhere = await refused(
        local.CreateCitation, A.CreateCitationRequest(citation=citation(badge_id="C-2"))
    )
    assert issued_elsewhere.code() == grpc.StatusCode.NOT_FOUND
    no_unit = await refused(local.CreateCitation, A.CreateCitationRequest(citation=citation(badge_id="")))
    assert no_unit.code() == grpc.StatusCode.PERMISSION_DENIED

    everything = await officer.ListCitations(A.ListCitationsRequest())
    assert {c.citation_id for c in everything.citations} == {mine.citation_id, theirs.citation_id}

    request = A.GetBadgeStatisticsRequest(
        since=at(2026, 3, 1), until=to_timestamp(utcnow() + timedelta(minutes=1))
    )
    limited = await stub_for(LOCAL_AUDITOR).GetBadgeStatistics(request)
    assert {f.unit_id for f in limited.citations} == {"unit-1"}
    assert sum(f.issued for f in limited.citations) == 1 and sum(f.paid for f in limited.citations) == 1
    whole = await stub_for(AUDITOR).GetBadgeStatistics(request)
    assert {f.unit_id for f in whole.citations} == {"unit-1", "unit-2"}
    assert sum(f.issued for f in whole.citations) == 2 and sum(f.paid for f in whole.citations) == 2


async def _item(stub: Stub, badge_id: str, seed: int) -> A.Evidence:
    data = recording(70_000, seed)
    meta = metadata(data)
    meta.badge_id = badge_id
    response = await upload(stub, meta, chunks(data))
    assert response.complete, response
    return response.evidence


async def test_evidence_of_other_units_is_hidden(app: BadgeApp, admin: Stub, stub_for: Any) -> None:
    await register_badges(admin, AGENCY, ["E-1"], unit="unit-1")
    await register_badges(admin, AGENCY, ["E-2"], unit="unit-2")
    mine, theirs = await _item(admin, "E-1", 1), await _item(admin, "E-2", 2)
    local = stub_for(LOCAL_INVESTIGATOR)

    listed = await local.ListEvidence(A.ListEvidenceRequest())
    assert [e.evidence_id for e in listed.evidence] == [mine.evidence_id]
    assert not (await local.ListEvidence(A.ListEvidenceRequest(badge_id="E-2"))).evidence
    got = await local.GetEvidence(A.GetEvidenceRequest(evidence_id=mine.evidence_id))
    assert got.evidence.badge_id == "E-1"
    await missing_like(local.GetEvidence, lambda i: A.GetEvidenceRequest(evidence_id=i), theirs.evidence_id)
    for call, request in (
        (local.GetCustody, A.GetCustodyRequest(evidence_id=theirs.evidence_id)),
        (
            local.ExportEvidence,
            A.ExportEvidenceRequest(evidence_ids=[mine.evidence_id, theirs.evidence_id], recipient="court"),
        ),
        (local.VerifyEvidence, A.VerifyEvidenceRequest(evidence_id=theirs.evidence_id)),
    ):
        assert (await refused(call, request)).code() == grpc.StatusCode.NOT_FOUND, call

    exported = await local.ExportEvidence(
        A.ExportEvidenceRequest(evidence_ids=[mine.evidence_id], recipient="court")
    )
    assert [i.evidence.evidence_id for i in exported.items] == [mine.evidence_id]
    verified = await local.VerifyEvidence(A.VerifyEvidenceRequest())
    assert [r.evidence_id for r in verified.results] == [mine.evidence_id]

    # Recording for another unit's badge: that badge reads as not registered.
    data = recording(1000, 3)
    meta = metadata(data)
    meta.badge_id = "E-2"

    async def requests() -> AsyncIterator[A.UploadEvidenceRequest]:
        yield A.UploadEvidenceRequest(metadata=meta)
        for part in chunks(data):
            yield A.UploadEvidenceRequest(chunk=part)

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await local.UploadEvidence(
            requests(), metadata=tuple(caller_metadata(LOCAL_INVESTIGATOR, audience="badge"))
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

    everything = await stub_for(ADMIN).ListEvidence(A.ListEvidenceRequest())
    assert {e.evidence_id for e in everything.evidence} == {mine.evidence_id, theirs.evidence_id}
    assert len((await admin.VerifyEvidence(A.VerifyEvidenceRequest())).results) == 2
