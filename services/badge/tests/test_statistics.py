"""GetBadgeStatistics over real gRPC: citations per month, unit and offence code, integrity reports
per month; the period checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from kuzet.badge.server import BadgeApp
from kuzet.badge.sim import register_badges
from kuzet.badge.v1 import badge_pb2 as A
from kuzet.common.caller import Caller
from kuzet.common.timeutil import to_timestamp, utcnow

from .conftest import AGENCY
from .test_citation_life_cycle import SUPERVISOR, Stub, issue, move
from .test_records import OFFICER

AUDITOR = Caller("aud-1", AGENCY, frozenset({"auditor"}))
REVIEWER = Caller("rev-1", AGENCY, frozenset({"reviewer"}))


def at(year: int, month: int, day: int, hour: int = 12) -> Any:
    return to_timestamp(datetime(year, month, day, hour, tzinfo=UTC))


def period(since: Any, until: Any, **kw: Any) -> A.GetBadgeStatisticsRequest:
    return A.GetBadgeStatisticsRequest(since=since, until=until, **kw)


async def test_citations_and_integrity_reports_per_month_unit_and_code(
    app: BadgeApp, admin: Stub, stub_for: Any
) -> None:
    await register_badges(admin, AGENCY, ["C-1"], unit="traffic-north")
    await register_badges(admin, AGENCY, ["C-2"], unit="traffic-south")
    officer, supervisor = stub_for(OFFICER), stub_for(SUPERVISOR)
    march = await issue(officer, occurred_at=at(2026, 3, 5))
    await issue(officer, occurred_at=at(2026, 3, 20), offence_code="TR-101")
    await issue(officer, occurred_at=at(2026, 3, 21), offence_code="TR-101")
    south = await issue(officer, badge_id="C-2", occurred_at=at(2026, 4, 2))
    # 31 March 21:00 UTC is already April in Almaty (UTC+5).
    await issue(officer, badge_id="C-2", occurred_at=at(2026, 3, 31, 21))
    await move(officer, march.citation_id, A.CITATION_STATUS_CONTESTED, "not me")
    await move(supervisor, march.citation_id, A.CITATION_STATUS_VOIDED, "camera shows another car")
    await move(officer, south.citation_id, A.CITATION_STATUS_PAID, "receipt 9")
    for day in (3, 4):
        await officer.ReportIntegrity(
            A.ReportIntegrityRequest(
                report=A.IntegrityReport(occurred_at=at(2026, 3, day), description="offered money")
            )
        )

    now = utcnow()
    this_month = now.strftime("%Y-%m")
    since, until = at(2026, 3, 1, 0), to_timestamp(now + timedelta(minutes=1))
    got = await stub_for(AUDITOR).GetBadgeStatistics(period(since, until))
    rows = {
        (f.month, f.unit_id, f.offence_code): (f.issued, f.paid, f.contested, f.upheld, f.voided)
        for f in got.citations
    }
    assert rows == {
        ("2026-03", "traffic-north", "TR-101"): (2, 0, 0, 0, 0),
        ("2026-03", "traffic-north", "TR-201"): (1, 0, 0, 0, 0),
        ("2026-03", "traffic-south", "TR-201"): (1, 0, 0, 0, 0),
        ("2026-04", "traffic-south", "TR-201"): (1, 0, 0, 0, 0),
        # Changes count when they were recorded: now.
        (this_month, "traffic-north", "TR-201"): (0, 0, 1, 0, 1),
        (this_month, "traffic-south", "TR-201"): (0, 1, 0, 0, 0),
    }
    assert [(f.month, f.reports) for f in got.integrity_reports] == [("2026-03", 2)]

    almaty = await stub_for(AUDITOR).GetBadgeStatistics(
        period(since, at(2026, 5, 1, 0), time_zone="Asia/Almaty")
    )
    south_issued = [(f.month, f.issued) for f in almaty.citations if f.unit_id == "traffic-south"]
    assert south_issued == [("2026-04", 2)]
    entries = app.evidence.audit.list(action_prefix="statistics.view")
    assert [(e.actor, e.details["time_zone"]) for e in entries] == [
        ("aud-1", "UTC"),
        ("aud-1", "Asia/Almaty"),
    ]


@pytest.mark.parametrize(
    ("since", "until", "zone", "words"),
    [
        (None, at(2026, 1, 1), "", "since and until are both required"),
        (at(2026, 2, 1), at(2026, 1, 1), "", "must be after since"),
        (at(2026, 1, 1), at(2026, 1, 1), "", "must be after since"),
        (at(2016, 1, 1), at(2026, 1, 1), "", "at most 1830 days"),
        (at(2026, 1, 1), at(2026, 2, 1), "Asia/Nowhere", "not an IANA time zone"),
        (at(2026, 1, 1), at(2026, 2, 1), "../../etc/passwd", "not an IANA time zone"),
    ],
)
async def test_a_bad_period_is_refused(stub_for: Any, since: Any, until: Any, zone: str, words: str) -> None:
    request = A.GetBadgeStatisticsRequest(until=until, time_zone=zone)
    if since is not None:
        request.since.CopyFrom(since)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub_for(AUDITOR).GetBadgeStatistics(request)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in (err.value.details() or "")


async def test_other_agencies_and_roles_are_refused(stub_for: Any) -> None:
    for caller, request in (
        (AUDITOR, period(at(2026, 1, 1), at(2026, 2, 1), agency_id="prison")),
        (REVIEWER, period(at(2026, 1, 1), at(2026, 2, 1))),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub_for(caller).GetBadgeStatistics(request)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
