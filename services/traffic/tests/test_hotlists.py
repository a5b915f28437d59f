"""Hotlists over real gRPC: validated all-or-nothing upserts, audited changes and searches, and an
exact hit raising a critical alert in a real alerting service (a fuzzy one never does)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf.json_format import MessageToDict

from kuzet.alerting.v1 import alerting_pb2
from kuzet.common.caller import Caller
from kuzet.common.grpcclient import open_channel
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import audit_pb2, audit_pb2_grpc, common_pb2
from kuzet.traffic.v1 import traffic_pb2

from .conftest import (
    ADMIN,
    AGENCY,
    CAMERA,
    INGEST,
    OPERATOR,
    OTHER_ADMIN,
    OTHER_OPERATOR,
    RealAlerting,
    Traffic,
    camera,
    eventually,
    minute,
    observation,
    start_traffic,
)
from .test_cameras import refused
from .test_observations import record

AUDITOR = Caller("aud-1", AGENCY, frozenset({"auditor"}))


def entry(plate: str, **fields: object) -> traffic_pb2.HotlistEntry:
    values: dict[str, object] = {
        "reason": "stolen vehicle",
        "source": "Almaty police, case 4471",
        "legal_basis": "Criminal Procedure Code art. 231",
        "expires_at": to_timestamp(utcnow() + timedelta(days=30)),
    }
    values.update(fields)
    return traffic_pb2.HotlistEntry(plate=plate, **values)  # type: ignore[arg-type]


async def upsert(traffic: Traffic, *entries: traffic_pb2.HotlistEntry, caller: Caller = ADMIN) -> int:
    response = await traffic.stub(caller).UpsertHotlistEntries(
        traffic_pb2.UpsertHotlistEntriesRequest(entries=list(entries))
    )
    return response.upserted


async def audit_records(traffic: Traffic, action: str) -> list[audit_pb2.AuditRecord]:
    channel = open_channel(traffic.server.address, audience="traffic", caller=AUDITOR)
    try:
        response = await audit_pb2_grpc.AuditServiceStub(channel).ListAudit(
            audit_pb2.ListAuditRequest(agency_id=AGENCY, action_prefix=action)
        )
    finally:
        await channel.close()
    return list(response.records)


async def entries(
    traffic: Traffic, caller: Caller = OPERATOR, **kw: object
) -> list[traffic_pb2.HotlistEntry]:
    response = await traffic.stub(caller).ListHotlistEntries(traffic_pb2.ListHotlistEntriesRequest(**kw))  # type: ignore[arg-type]
    return list(response.entries)


async def test_upserts_are_validated_whole_and_audited(traffic: Traffic) -> None:
    details = await refused(upsert(traffic, entry("123ABC02"), entry("12-AB-C")))
    assert details.startswith("entries[1]: ") and "'12-AB-C' is not a Kazakhstan plate" in details
    assert await entries(traffic) == []  # the good entry was not stored either
    assert "legal_basis is required" in await refused(upsert(traffic, entry("123ABC02", legal_basis=" ")))
    assert "expired" in await refused(
        upsert(traffic, entry("123ABC02", expires_at=to_timestamp(utcnow() - timedelta(days=1))))
    )
    assert "expires_at is required" in await refused(
        upsert(traffic, traffic_pb2.HotlistEntry(plate="123ABC02", reason="r", source="s", legal_basis="l"))
    )
    await refused(upsert(traffic, entry("123ABC02"), caller=OPERATOR), grpc.StatusCode.PERMISSION_DENIED)

    assert await upsert(traffic, entry("123 abc 02"), entry("A585CUO", source="national register feed")) == 2
    listed = await entries(traffic)
    assert [(e.plate, e.source, e.created_by) for e in listed] == [
        ("123ABC02", "Almaty police, case 4471", "admin-aru"),
        ("A585CUO", "national register feed", "admin-aru"),
    ]
    [audited] = await audit_records(traffic, "traffic.hotlist.upsert")
    assert audited.actor == "admin-aru" and MessageToDict(audited.details)["count"] == 2
    # Another agency sees none of it.
    assert await entries(traffic, OTHER_OPERATOR) == []


async def test_removal_needs_a_reason_and_is_audited(traffic: Traffic) -> None:
    await upsert(traffic, entry("123ABC02"), entry("123ABC02", source="another unit"))
    stub = traffic.stub(ADMIN)
    assert "reason is required" in await refused(
        stub.RemoveHotlistEntry(traffic_pb2.RemoveHotlistEntryRequest(plate="123ABC02"))
    )
    await refused(
        traffic.stub(OTHER_ADMIN).RemoveHotlistEntry(
            traffic_pb2.RemoveHotlistEntryRequest(plate="123ABC02", reason="found")
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    await stub.RemoveHotlistEntry(
        traffic_pb2.RemoveHotlistEntryRequest(plate="123 ABC 02", reason="vehicle found")
    )
    assert await entries(traffic, include_expired=True) == []
    [audited] = await audit_records(traffic, "traffic.hotlist.remove")
    assert audited.target == "123ABC02"
    assert MessageToDict(audited.details) == {
        "reason": "vehicle found",
        "sources": ["Almaty police, case 4471", "another unit"],
    }


@pytest.fixture
async def wired(db_url: str, tmp_path: Path, alerting: RealAlerting) -> AsyncIterator[Traffic]:
    """The traffic service publishing to the real alerting service."""
    running = await start_traffic(db_url, tmp_path, alerting=alerting.server.address)
    try:
        await running.stub(ADMIN).ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=camera()))
        yield running
    finally:
        await running.close()


async def hotlist_alerts(alerting: RealAlerting) -> list[alerting_pb2.Alert]:
    request = alerting_pb2.ListAlertsRequest(filter=alerting_pb2.AlertFilter(types=["plate_hotlist"]))
    return list((await alerting.stub.ListAlerts(request)).alerts)


async def test_an_exact_hit_is_a_critical_alert_within_a_second(
    wired: Traffic, alerting: RealAlerting
) -> None:
    await upsert(wired, entry("123ABC02"))
    seen = utcnow()
    started = time.monotonic()
    response = await record(wired, [observation(7, seen, plate="123ABC02", line="L2")])
    assert response.hotlist_hits == 1
    alerts = await eventually(lambda: hotlist_alerts(alerting), bool, within_s=5.0)
    elapsed = time.monotonic() - started
    assert len(alerts) == 1, "no plate_hotlist alert reached alerting"
    assert elapsed < 1.0, f"the alert took {elapsed:.3f} s"
    alert = alerts[0]
    assert alert.severity == common_pb2.SEVERITY_CRITICAL
    assert (alert.agency_id, alert.source.id, alert.site_id, alert.subject) == (
        AGENCY,
        CAMERA,
        "almaty-traffic-unit",
        "123ABC02",
    )
    assert alert.latest.location.latitude == pytest.approx(43.2389)
    assert alert.latest.snapshot.key == f"snapshots/{CAMERA}/7.jpg"
    attributes = MessageToDict(alert.latest.attributes)
    assert attributes["plate"] == "123ABC02" and attributes["match"] == "exact"
    assert attributes["reason"] == "stolen vehicle" and attributes["source"] == "Almaty police, case 4471"
    assert attributes["legal_basis"] == "Criminal Procedure Code art. 231"
    assert attributes["plate_crop"]["key"] == f"plates/{CAMERA}/7.jpg"
    [hit] = (await wired.stub(OPERATOR).ListHotlistHits(traffic_pb2.ListHotlistHitsRequest())).hits
    assert (hit.match, hit.event_id, hit.observation.plate) == ("exact", alert.latest.event_id, "123ABC02")
    # Ingest retries the batch: no second hit, no second event.
    again = await record(wired, [observation(7, seen, plate="123ABC02", line="L2")])
    assert (again.duplicates, again.hotlist_hits) == (1, 0)


async def test_a_fuzzy_hit_is_stored_but_never_alerted(wired: Traffic, alerting: RealAlerting) -> None:
    await upsert(wired, entry("123ABC02"))
    # 128 for 123: one look-alike character (3/8) apart.
    response = await record(wired, [observation(8, utcnow(), plate="128ABC02")])
    assert response.hotlist_hits == 0
    [hit] = (await wired.stub(OPERATOR).ListHotlistHits(traffic_pb2.ListHotlistHitsRequest())).hits
    assert (hit.match, hit.event_id, hit.entry.plate, hit.observation.plate) == (
        "fuzzy",
        "",
        "123ABC02",
        "128ABC02",
    )
    # An exact hit published afterwards arrives; the fuzzy one never did.
    await record(wired, [observation(9, utcnow(), plate="123ABC02")])
    alerts = await eventually(lambda: hotlist_alerts(alerting), bool)
    assert [a.subject for a in alerts] == ["123ABC02"]
    assert not wired.events


async def test_hits_are_newest_first_and_paged_per_agency(traffic: Traffic) -> None:
    await upsert(traffic, entry("123ABC02"))
    await record(traffic, [observation(n, minute(8, n), plate="123ABC02") for n in range(5)])
    assert len(traffic.events) == 5
    stub = traffic.stub(OPERATOR)
    first = await stub.ListHotlistHits(
        traffic_pb2.ListHotlistHitsRequest(page=common_pb2.PageRequest(page_size=3))
    )
    rest = await stub.ListHotlistHits(
        traffic_pb2.ListHotlistHitsRequest(
            page=common_pb2.PageRequest(page_size=3, page_token=first.page.next_page_token)
        )
    )
    assert [h.observation.track_id for h in [*first.hits, *rest.hits]] == [4, 3, 2, 1, 0]
    assert rest.page.next_page_token == ""
    since = await stub.ListHotlistHits(traffic_pb2.ListHotlistHitsRequest(since=to_timestamp(minute(8, 3))))
    assert [h.observation.track_id for h in since.hits] == [4, 3]
    assert not (await traffic.stub(OTHER_OPERATOR).ListHotlistHits(traffic_pb2.ListHotlistHitsRequest())).hits


async def test_a_plate_search_needs_a_purpose_and_is_audited(traffic: Traffic) -> None:
    await record(
        traffic,
        [
            observation(1, minute(8, 1), plate="123ABC02"),
            observation(2, minute(8, 2), plate="128ABC02"),
            observation(3, minute(8, 3), plate="777ZZZ01"),
        ],
    )
    stub = traffic.stub(OPERATOR)
    assert "purpose is required" in await refused(
        stub.SearchPlates(traffic_pb2.SearchPlatesRequest(plate="123ABC02"))
    )
    assert "not a Kazakhstan plate" in await refused(
        stub.SearchPlates(traffic_pb2.SearchPlatesRequest(plate="12-AB-C", purpose="case 4471"))
    )
    exact = await stub.SearchPlates(traffic_pb2.SearchPlatesRequest(plate="123 ABC 02", purpose="case 4471"))
    assert [o.track_id for o in exact.observations] == [1]
    fuzzy = await stub.SearchPlates(
        traffic_pb2.SearchPlatesRequest(plate="123ABC02", purpose="case 4471", fuzzy=True)
    )
    assert [o.track_id for o in fuzzy.observations] == [2, 1]
    ranged = await stub.SearchPlates(
        traffic_pb2.SearchPlatesRequest(
            plate="123ABC02", purpose="case 4471", fuzzy=True, since=to_timestamp(minute(8, 2))
        )
    )
    assert [o.track_id for o in ranged.observations] == [2]
    records = await audit_records(traffic, "traffic.plate.search")
    assert [r.target for r in records] == ["123ABC02"] * 3
    by_seq = {str(r.seq): r for r in records}
    audited = by_seq[fuzzy.audit_id]
    assert audited.actor == "op-berik"
    assert MessageToDict(audited.details)["purpose"] == "case 4471"
    assert MessageToDict(audited.details)["fuzzy"] is True
    # Another agency finds nothing of this agency's cameras (and its search is audited as its own).
    other = await traffic.stub(OTHER_OPERATOR).SearchPlates(
        traffic_pb2.SearchPlatesRequest(plate="123ABC02", purpose="case 1")
    )
    assert not other.observations
    # Ingest is no searcher.
    await refused(
        traffic.stub(INGEST).SearchPlates(traffic_pb2.SearchPlatesRequest(plate="123ABC02", purpose="x")),
        grpc.StatusCode.PERMISSION_DENIED,
    )
