"""Registry, e-citations and integrity reports over real gRPC."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from kuzet.badge.server import BadgeApp
from kuzet.badge.sim import register_badges
from kuzet.badge.v1 import badge_pb2 as A
from kuzet.badge.v1 import badge_pb2_grpc
from kuzet.common.caller import Caller
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import common_pb2

from .conftest import AGENCY, RecordingSink
from .test_evidence import store_item

Stub = badge_pb2_grpc.BadgeServiceStub
OFFICER = Caller("officer-C-1", AGENCY, frozenset({"operator"}))
IA = Caller("ia-1", AGENCY, frozenset({"internal_affairs"}))
HERE = common_pb2.GeoPoint(latitude=41.31, longitude=69.28)


def citation(**fields: Any) -> A.Citation:
    values: dict[str, Any] = {
        "officer_id": "officer-C-1",
        "badge_id": "C-1",
        "occurred_at": to_timestamp(utcnow() - timedelta(minutes=3)),
        "location": HERE,
        "offence_code": "TR-201",
        "vehicle": A.CitedVehicle(plate="01 a 123 bc", country="UZ"),
        "person": A.CitedPerson(full_name="A. Driver", date_of_birth="1990-04-01"),
        **fields,
    }
    return A.Citation(**values)


async def test_registry_shifts_and_update(app: BadgeApp, admin: Stub) -> None:
    await register_badges(admin, AGENCY, ["C-1"], unit="u1")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin.RegisterBadge(A.RegisterBadgeRequest(badge_id="C-1"))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    await admin.AssignOfficer(A.AssignOfficerRequest(badge_id="C-1", officer_id="officer-2"))
    ended = await admin.AssignOfficer(A.AssignOfficerRequest(badge_id="C-1"))
    assert ended.assignment.officer_id == "officer-2" and ended.assignment.HasField("ended_at")
    badge = await admin.GetBadge(A.GetBadgeRequest(badge_id="C-1"))
    assert badge.badge.officer_id == ""
    assert [a.officer_id for a in badge.assignments] == ["officer-2", "officer-C-1"]
    updated = await admin.UpdateBadge(
        A.UpdateBadgeRequest(
            badge=A.Badge(badge_id="C-1", firmware_version="2.1", status=A.BADGE_STATUS_MAINTENANCE),
            update_mask=FieldMask(paths=["firmware_version", "status"]),
        )
    )
    assert updated.badge.firmware_version == "2.1" and updated.badge.status == A.BADGE_STATUS_MAINTENANCE
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin.UpdateBadge(
            A.UpdateBadgeRequest(badge=A.Badge(badge_id="C-1"), update_mask=FieldMask(paths=["agency_id"]))
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    listing = await admin.ListBadges(A.ListBadgesRequest(status=A.BADGE_STATUS_MAINTENANCE))
    assert [b.badge_id for b in listing.badges] == ["C-1"]


async def test_citation_validated_against_offence_list(app: BadgeApp, admin: Stub, stub_for: Any) -> None:
    await register_badges(admin, AGENCY, ["C-1"])
    officer = stub_for(OFFICER)
    codes = await officer.ListOffenceCodes(A.ListOffenceCodesRequest())
    assert "TR-201" in {c.code for c in codes.codes}
    created = await officer.CreateCitation(A.CreateCitationRequest(citation=citation()))
    assert created.citation.offence_description == "Running a red light"
    assert created.citation.vehicle.plate == "01 A 123 BC" and created.citation.agency_id == AGENCY
    fetched = await officer.GetCitation(A.GetCitationRequest(citation_id=created.citation.citation_id))
    assert fetched.citation == created.citation
    listing = await officer.ListCitations(A.ListCitationsRequest(vehicle_plate="01 a 123 bc"))
    assert [c.citation_id for c in listing.citations] == [created.citation.citation_id]
    for bad, words in (
        (citation(offence_code="XX-999"), "unknown offence code"),
        (citation(location=common_pb2.GeoPoint(latitude=120)), "WGS84"),
        (citation(person=A.CitedPerson(full_name="X", date_of_birth="01/02/1990")), "YYYY-MM-DD"),
        (citation(occurred_at=to_timestamp(utcnow() + timedelta(hours=2))), "future"),
        (citation(evidence_ids=["missing"]), "linked evidence"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await officer.CreateCitation(A.CreateCitationRequest(citation=bad))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, words
        assert words in (err.value.details() or "")


async def test_integrity_report_links_recordings_and_is_for_internal_affairs_only(
    app: BadgeApp, admin: Stub, stub_for: Any, sink: RecordingSink
) -> None:
    await register_badges(admin, AGENCY, ["E-1"])
    near = await store_item(admin, seed=1)
    far = await store_item(admin, seed=2, days_ago=3)
    officer = stub_for(OFFICER)
    filed = await officer.ReportIntegrity(
        A.ReportIntegrityRequest(
            report=A.IntegrityReport(
                badge_id="E-1",
                occurred_at=to_timestamp(utcnow()),
                location=HERE,
                description="driver offered money to drop the citation",
            )
        )
    )
    assert filed.linked_evidence == 1
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await officer.ListIntegrityReports(A.ListIntegrityReportsRequest())
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin.ListIntegrityReports(A.ListIntegrityReportsRequest())
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    reports = await stub_for(IA).ListIntegrityReports(A.ListIntegrityReportsRequest())
    assert len(reports.reports) == 1
    report = reports.reports[0]
    assert report.evidence_ids == [near.evidence_id] and far.evidence_id not in report.evidence_ids
    assert report.reported_by == "officer-C-1" and report.officer_id == "officer-E-1"
    assert report.source == A.INTEGRITY_REPORT_SOURCE_OFFICER
    [event] = sink.of("integrity_report")
    assert event.subject == filed.report_id and "driver" not in event.summary
    # Whistleblower protection: nothing in the alert points at the reporting badge or officer.
    assert "E-1" not in event.SerializeToString().decode("utf-8", "replace")
    assert event.source.id == f"integrity:{filed.report_id}"
