"""Facility alerts reach the hub once and in order, through a WAN cut and a follower restart; a
facility never sees another's alerts; audit chain heads reach the hub; watchlist changes at the
hub (written by hand, and enrolled at the hub's identity) reach both facilities, one of them
after its link returns."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest

from kuzet.alerting.server import build as build_alerting
from kuzet.alerting.v1 import alerting_pb2
from kuzet.common.caller import Caller, calling_as
from kuzet.common.events import new_event
from kuzet.common.grpcclient import open_channel
from kuzet.common.testdata import face_photos
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import common_pb2
from kuzet.federation import streams
from kuzet.federation.server import build as build_federation
from kuzet.federation.watchlist import WatchlistChange, WatchlistSpec, publish_change
from kuzet.identity.v1 import identity_pb2, identity_pb2_grpc

from .conftest import HUB, SERVICE, SITES, Federation, Release, md

pytestmark = pytest.mark.slow

SITE_A, SITE_B = SITES


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


async def raise_alert(release: Release, subject: str) -> str:
    source = common_pb2.Source(
        kind=common_pb2.SOURCE_KIND_CAMERA, id=f"{release.site}-cam-1", site_id=release.site
    )
    event = new_event("prison", "zone_intrusion", source, rule_id="rule-1", subject=subject, summary=subject)
    response = await release.stub().Publish(alerting_pb2.PublishRequest(event=event), metadata=md(SERVICE))
    assert response.disposition == alerting_pb2.PUBLISH_DISPOSITION_CREATED
    return response.alert_id


async def update_log(release: Release) -> list[alerting_pb2.AlertUpdate]:
    """Every update in a release's alerting, oldest first (the replay up to the first heartbeat)."""
    updates: list[alerting_pb2.AlertUpdate] = []
    stream = release.stub().Subscribe(
        alerting_pb2.SubscribeRequest(after_cursor=0, max_batch=500), metadata=md(SERVICE)
    )
    async for response in stream:
        kind = response.WhichOneof("payload")
        if kind == "heartbeat":
            break
        updates.extend([response.update] if kind == "update" else response.batch.updates)
    stream.cancel()
    return updates


async def hub_subjects(hub: Release, site: str) -> list[str]:
    """The subjects of the hub's alerts created from ``site``'s, in the hub's order."""
    return [
        u.alert.subject
        for u in await update_log(hub)
        if u.kind == alerting_pb2.ALERT_UPDATE_KIND_CREATED and u.alert.source.site_id == site
    ]


async def test_outage_backlog_reaches_hub_once_and_in_order(federation: Federation) -> None:
    a, hub = federation.facilities[SITE_A], federation.hub
    await raise_alert(a, "before")

    async def hub_has(count: int) -> bool:
        return len(await hub_subjects(hub, SITE_A)) >= count

    await eventually(lambda: hub_has(1), "the first alert at the hub")

    federation.link.cut()
    during = [f"cut-{i:02d}" for i in range(30)]
    for subject in during:
        await raise_alert(a, subject)
    # The facility keeps working: its alerts are in its own alerting and its own stream.
    assert len(await update_log(a)) == 31
    await eventually(lambda: _stream_count(a, 31), "the facility stream to hold the backlog")
    await asyncio.sleep(1.0)
    assert await hub_subjects(hub, SITE_A) == ["before"], "nothing crosses a cut link"

    federation.link.restore()
    await eventually(lambda: hub_has(31), "the backlog at the hub")
    await asyncio.sleep(1.0)
    assert await hub_subjects(hub, SITE_A) == ["before", *during]
    # The hub restarted facility A's sources when it answered again (not nats-server's 10 s
    # stall check); re-adding them neither skipped nor repeated anything.
    assert hub.federation.sources is not None and hub.federation.sources.kicks >= 1
    assert hub.federation.sources.reachable == {SITE_A: True, SITE_B: True}

    hub_alert = next(u.alert for u in await update_log(hub) if u.alert.subject == "cut-00")
    assert hub_alert.agency_id == "prison"
    assert hub_alert.source.site_id == SITE_A
    assert hub_alert.latest.attributes["federation_site"] == SITE_A


async def _stream_count(release: Release, count: int) -> bool:
    info = await release.federation.nats.jetstream().stream_info(streams.ALERTS)
    return info.state.messages >= count


async def test_follower_restart_sends_nothing_twice(federation: Federation) -> None:
    a, hub = federation.facilities[SITE_A], federation.hub
    for i in range(5):
        await raise_alert(a, f"first-{i}")
    await eventually(lambda: _stream_count(a, 5), "the first alerts in the stream")
    await a.federation.stop(0)
    for i in range(5):
        await raise_alert(a, f"second-{i}")
    a.federation = await build_federation(
        a.federation.settings,  # type: ignore[arg-type]
        port=0,
        alerting_address=a.alerting.address,
    )
    await a.federation.start()

    async def all_at_hub() -> bool:
        return len(await hub_subjects(hub, SITE_A)) >= 10

    await eventually(all_at_hub, "every alert at the hub")
    await asyncio.sleep(1.0)
    assert await hub_subjects(hub, SITE_A) == [f"first-{i}" for i in range(5)] + [
        f"second-{i}" for i in range(5)
    ]
    info = await a.federation.nats.jetstream().stream_info(streams.ALERTS)
    assert info.state.messages == 10


async def test_a_facility_sees_only_its_own_alerts_and_the_hub_sees_both(federation: Federation) -> None:
    a, b, hub = federation.facilities[SITE_A], federation.facilities[SITE_B], federation.hub
    await raise_alert(a, "at-a")
    await raise_alert(b, "at-b")

    async def both_at_hub() -> bool:
        return await hub_subjects(hub, SITE_A) == ["at-a"] and await hub_subjects(hub, SITE_B) == ["at-b"]

    await eventually(both_at_hub, "both facilities' alerts at the hub")
    operator = Caller("op-b", "prison", frozenset({"operator"}))
    with calling_as(operator):
        listed = await b.stub().ListAlerts(alerting_pb2.ListAlertsRequest(), metadata=md(operator))
    assert [alert.source.site_id for alert in listed.alerts] == [SITE_B]
    hub_operator = Caller("op-hub", "prison", frozenset({"operator"}))
    rollup = await hub.stub().ListAlerts(alerting_pb2.ListAlertsRequest(), metadata=md(hub_operator))
    assert sorted(alert.source.site_id for alert in rollup.alerts) == sorted(SITES)
    # A facility's stream holds its own alerts only, never another facility's.
    info = await b.federation.nats.jetstream().stream_info(streams.ALERTS)
    assert info.state.messages == 1


async def test_audit_chain_heads_reach_the_hub(federation: Federation) -> None:
    a, hub = federation.facilities[SITE_A], federation.hub
    entry = await a.app.audit.record("federation.test", "target-1", agency="prison", actor="tester")
    anchor = await a.app.audit.anchor_once()
    assert anchor is not None and anchor.seq >= entry.seq
    hub_js = hub.federation.nats.jetstream()
    subject = streams.audit_subject(SITE_A, "alerting")

    async def head_at_hub() -> bool:
        try:
            message = await hub_js.get_last_msg(streams.AUDIT, subject)
        except Exception:
            return False
        return int(json.loads(message.data)["seq"]) == anchor.seq

    await eventually(head_at_hub, "facility A's alerting chain head at the hub")
    head = json.loads((await hub_js.get_last_msg(streams.AUDIT, subject)).data)
    assert head["mac"] == anchor.mac
    assert head["site"] == SITE_A


WATCHLIST = WatchlistSpec(
    name="national-wanted",
    purpose="find persons wanted by a court",
    legal_basis="Code of Criminal Procedure art. 160",
    owner="national-police-hq",
    expires_at=(utcnow() + timedelta(days=30)).isoformat(),
    required_reviewers=2,
)
IDENTITY_ADMIN = Caller("admin-fac", "prison", frozenset({"admin"}))


async def create_national_watchlist(stub: identity_pb2_grpc.IdentityServiceStub) -> str:
    """WATCHLIST at a hub's identity; its gallery id."""
    created = await stub.CreateGallery(
        identity_pb2.CreateGalleryRequest(
            name=WATCHLIST.name,
            kind=identity_pb2.GALLERY_KIND_WATCHLIST,
            purpose=WATCHLIST.purpose,
            legal_basis=WATCHLIST.legal_basis,
            owner=WATCHLIST.owner,
            expires_at=to_timestamp(datetime.fromisoformat(WATCHLIST.expires_at)),
            required_reviewers=WATCHLIST.required_reviewers,
        )
    )
    return created.gallery.gallery_id


async def enrol_wanted(
    stub: identity_pb2_grpc.IdentityServiceStub, gallery_id: str, external_id: str
) -> identity_pb2.EnrolPersonResponse:
    enrolled = await stub.EnrolPerson(
        identity_pb2.EnrolPersonRequest(
            gallery_id=gallery_id,
            external_id=external_id,
            display_name="Wanted person",
            images=[identity_pb2.FaceImage(image=face_photos()["obama"][0].read_bytes())],
        )
    )
    assert enrolled.results[0].accepted
    return enrolled


async def facility_watchlist(release: Release) -> dict[str, int]:
    """External id -> enrolled image count of the facility's copy of the national watchlist."""
    assert release.identity is not None
    channel = open_channel(release.identity.address, audience="identity", caller=IDENTITY_ADMIN)
    try:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        galleries = (await stub.ListGalleries(identity_pb2.ListGalleriesRequest())).galleries
        found = [g for g in galleries if g.name == WATCHLIST.name]
        if not found:
            return {}
        assert len(found) == 1, "one copy of the hub's watchlist per facility"
        assert found[0].legal_basis == WATCHLIST.legal_basis
        people = await stub.ListPeople(identity_pb2.ListPeopleRequest(gallery_id=found[0].gallery_id))
        return {p.external_id: p.image_count for p in people.people}
    finally:
        await channel.close()


@pytest.mark.parametrize("federation", [{"identity": True}], indirect=True)
async def test_watchlist_changes_at_the_hub_reach_both_facilities(federation: Federation) -> None:
    a, b, hub = federation.facilities[SITE_A], federation.facilities[SITE_B], federation.hub
    photos = face_photos()
    hub_js = hub.federation.nats.jetstream()
    enrol = WatchlistChange(
        op="enrol",
        agency="prison",
        watchlist=WATCHLIST,
        external_id="W-2026-0117",
        display_name="Wanted person",
        photos=[photos["obama"][0].read_bytes()],
    )

    federation.link.cut()
    await publish_change(hub_js, HUB, enrol)
    await publish_change(hub_js, HUB, enrol)  # a retried publish is stored once

    async def enrolled(release: Release) -> bool:
        return await facility_watchlist(release) == {"W-2026-0117": 1}

    await eventually(lambda: enrolled(b), "the entry at facility B", timeout_s=60)
    assert await facility_watchlist(a) == {}, "nothing crosses a cut link"
    federation.link.restore()
    await eventually(lambda: enrolled(a), "the entry at facility A after the link returned", timeout_s=60)

    # Applying the same change again (a redelivery) changes nothing.
    assert a.federation.watchlists is not None
    await a.federation.watchlists.apply(enrol)
    assert await facility_watchlist(a) == {"W-2026-0117": 1}

    remove = WatchlistChange(
        op="remove",
        agency="prison",
        watchlist=WATCHLIST,
        external_id="W-2026-0117",
        reason="warrant withdrawn",
    )
    await publish_change(hub_js, HUB, remove)

    async def removed(release: Release) -> bool:
        return await facility_watchlist(release) == {}

    await eventually(lambda: removed(a), "the removal at facility A")
    await eventually(lambda: removed(b), "the removal at facility B")


@pytest.mark.parametrize("federation", [{"identity": True}], indirect=True)
async def test_an_enrolment_at_the_hubs_identity_reaches_both_facilities(federation: Federation) -> None:
    """Through the hub identity's watchlist change stream: nothing here calls publish_change."""
    a, b, hub = federation.facilities[SITE_A], federation.facilities[SITE_B], federation.hub
    assert hub.identity is not None
    channel = open_channel(hub.identity.address, audience="identity", caller=IDENTITY_ADMIN)
    stub = identity_pb2_grpc.IdentityServiceStub(channel)
    try:
        gallery_id = await create_national_watchlist(stub)
        federation.link.cut()
        enrolled = await enrol_wanted(stub, gallery_id, "W-2026-0200")

        async def holds(release: Release, expected: dict[str, int]) -> bool:
            return await facility_watchlist(release) == expected

        await eventually(lambda: holds(b, {"W-2026-0200": 1}), "the entry at facility B", timeout_s=60)
        assert await facility_watchlist(a) == {}, "nothing crosses a cut link"
        federation.link.restore()
        await eventually(lambda: holds(a, {"W-2026-0200": 1}), "the entry at facility A", timeout_s=60)

        # A restarted forwarder resumes after the last change the hub's stream holds.
        assert hub.federation.forwarder is not None
        assert await hub.federation.forwarder.resume_point() > 0

        await stub.RemovePerson(
            identity_pb2.RemovePersonRequest(person_id=enrolled.person.person_id, reason="warrant withdrawn")
        )
        await eventually(lambda: holds(a, {}), "the removal at facility A")
        await eventually(lambda: holds(b, {}), "the removal at facility B")
        assert hub.federation.forwarder.forwarded == 2
    finally:
        await channel.close()


async def test_nothing_is_acknowledged_while_the_hubs_alerting_is_down(federation: Federation) -> None:
    a, hub = federation.facilities[SITE_A], federation.hub
    settings = hub.alerting.settings
    port = hub.alerting.bound_port
    await hub.alerting.stop(0)
    for i in range(5):
        await raise_alert(a, f"while-down-{i}")
    await eventually(lambda: _stream_count(a, 5), "the alerts in the facility's stream")
    await asyncio.sleep(1.0)  # the relay is retrying the batch meanwhile
    hub.alerting, hub.app = await build_alerting(settings, port=port)  # type: ignore[arg-type]
    await hub.alerting.start()

    async def all_at_hub() -> bool:
        return len(await hub_subjects(hub, SITE_A)) >= 5

    await eventually(all_at_hub, "the alerts at the restarted hub alerting")
    await asyncio.sleep(1.0)
    assert await hub_subjects(hub, SITE_A) == [f"while-down-{i}" for i in range(5)]


async def test_a_resolved_facility_alert_closes_the_hubs(federation: Federation) -> None:
    a, hub = federation.facilities[SITE_A], federation.hub
    alert_id = await raise_alert(a, "to-resolve")
    operator = Caller("op-a", "prison", frozenset({"operator"}))
    await a.stub().Resolve(
        alerting_pb2.ResolveRequest(
            alert_id=alert_id, outcome=alerting_pb2.ALERT_OUTCOME_ACTION_TAKEN, note="handled on site"
        ),
        metadata=md(operator),
    )

    async def closed_at_hub() -> bool:
        return any(
            u.kind == alerting_pb2.ALERT_UPDATE_KIND_RESOLVED and u.alert.subject == "to-resolve"
            for u in await update_log(hub)
        )

    await eventually(closed_at_hub, "the hub's alert resolved")
    assert await hub_subjects(hub, SITE_A) == ["to-resolve"]
