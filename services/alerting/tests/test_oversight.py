"""Oversight alerts (possible abuse by staff) reach the prison's oversight agency only: the prison
cannot see or close them, the overseer reads and changes nothing, no share or integration carries
them, and every read is on the audit trail of the overseer's agency."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import grpc
import paho.mqtt.client as mqtt
import pytest

from kuzet.alerting.server import build
from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.caller import Caller
from kuzet.common.tls import secure_channel
from kuzet.common.v1 import audit_pb2, audit_pb2_grpc, common_pb2

from .conftest import ADMIN_A, OPERATOR_A, SERVICE, Running, camera_event, md, settings_for
from .test_delivery import SECRET, Receiver
from .test_subscribe import collect, wait_caught_up

OVERSEER = Caller("ombuds-1", "ombudsman", frozenset({"oversight"}))
OMBUDS_OPERATOR = Caller("ombuds-op", "ombudsman", frozenset({"operator"}))
OMBUDS_AUDITOR = Caller("ombuds-aud", "ombudsman", frozenset({"auditor"}))
PRISON_AUDITOR = Caller("aud-a", "prison", frozenset({"auditor"}))
# The prison handing its own people the oversight role does not make them overseers.
PRISON_SELF_OVERSEER = Caller("sup-a", "prison", frozenset({"oversight", "operator", "admin"}))
POLICE_OPERATOR = Caller("op-police", "police", frozenset({"operator"}))
# Both roles on one token: the oversight role still changes nothing.
OVERSEER_WITH_OPERATOR = Caller("ombuds-2", "ombudsman", frozenset({"oversight", "operator", "admin"}))


@pytest.fixture
async def overseen(db_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    settings = settings_for(
        db_url,
        tmp_path,
        oversight_agencies={"prison": ["ombudsman"]},
        webhook_poll_s=0.2,
        mqtt_url="mqtt://127.0.0.1:1883",
    )
    server, app = await build(settings, port=0)
    await server.start()
    channel = secure_channel(server.address)
    try:
        yield Running(server.address, app, channel)
    finally:
        await channel.close()
        await server.stop(0)


def violence(agency: str = "prison", **fields: object) -> pb.PublishRequest:
    event = camera_event(
        "staff_violence",
        agency=agency,
        camera="cell-block-b",
        rule="violence-b",
        subject="tracks:4,9",
        **fields,
    )
    return pb.PublishRequest(event=event)


async def denied(call: object, code: grpc.StatusCode) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call  # type: ignore[misc]
    assert err.value.code() == code, err.value.details()
    return str(err.value.details())


async def test_the_prison_cannot_see_or_close_what_its_overseer_reads_and_cannot_change(
    overseen: Running,
) -> None:
    stub = overseen.stub()
    audit = audit_pb2_grpc.AuditServiceStub(overseen.channel)
    # An ack timeout that would escalate an unacknowledged prison alert to the duty roster.
    await stub.PutSiteConfig(
        pb.PutSiteConfigRequest(
            config=pb.SiteConfig(
                site_id="site-1", ack_timeout_seconds=1, duty=[pb.DutyAssignment(role="supervisor")]
            )
        ),
        metadata=md(ADMIN_A),
    )
    prison_feed = stub.Subscribe(pb.SubscribeRequest(after_cursor=0), metadata=md(PRISON_SELF_OVERSEER))
    overseer_feed = stub.Subscribe(pb.SubscribeRequest(after_cursor=0), metadata=md(OVERSEER))
    await wait_caught_up(prison_feed)
    await wait_caught_up(overseer_feed)

    hidden = await stub.Publish(violence(), metadata=md(SERVICE))
    ordinary = await stub.Publish(pb.PublishRequest(event=camera_event()), metadata=md(SERVICE))

    # The prison's stream skips the oversight alert; the overseer's gets it (and nothing else).
    (seen,) = await collect(prison_feed, 1)
    assert seen.alert.alert_id == ordinary.alert_id
    (watched,) = await collect(overseer_feed, 1)
    assert watched.alert.alert_id == hidden.alert_id and watched.alert.type == "staff_violence"
    prison_feed.cancel()
    overseer_feed.cancel()

    for who in (OPERATOR_A, ADMIN_A, PRISON_SELF_OVERSEER, OMBUDS_OPERATOR):
        listed = await stub.ListAlerts(pb.ListAlertsRequest(), metadata=md(who))
        assert hidden.alert_id not in {a.alert_id for a in listed.alerts}, who
        typed = await stub.ListAlerts(
            pb.ListAlertsRequest(filter=pb.AlertFilter(types=["staff_violence"], agency_id="prison")),
            metadata=md(who),
        )
        assert not typed.alerts, who
        await denied(
            stub.GetAlert(pb.GetAlertRequest(alert_id=hidden.alert_id), metadata=md(who)),
            grpc.StatusCode.NOT_FOUND,
        )
    for who in (OPERATOR_A, ADMIN_A):
        await denied(
            stub.Acknowledge(pb.AcknowledgeRequest(alert_id=hidden.alert_id), metadata=md(who)),
            grpc.StatusCode.NOT_FOUND,
        )
        await denied(
            stub.Resolve(
                pb.ResolveRequest(alert_id=hidden.alert_id, outcome=pb.ALERT_OUTCOME_FALSE_ALARM),
                metadata=md(who),
            ),
            grpc.StatusCode.NOT_FOUND,
        )
    # Nor through the back doors: publishing the type, or a resolving event, or as a service.
    resolving = violence(resolves=True)
    await denied(stub.Publish(resolving, metadata=md(SERVICE)), grpc.StatusCode.INVALID_ARGUMENT)
    await denied(stub.Publish(violence(), metadata=md(OPERATOR_A)), grpc.StatusCode.PERMISSION_DENIED)
    await denied(
        stub.Acknowledge(pb.AcknowledgeRequest(alert_id=hidden.alert_id), metadata=md(SERVICE)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )

    # The overseer lists (everything, or the prison's only) and reads the alert with its evidence.
    listed = await stub.ListAlerts(pb.ListAlertsRequest(), metadata=md(OVERSEER))
    assert [a.alert_id for a in listed.alerts] == [hidden.alert_id]
    only_prison = await stub.ListAlerts(
        pb.ListAlertsRequest(filter=pb.AlertFilter(agency_id="prison")), metadata=md(OVERSEER)
    )
    assert [a.alert_id for a in only_prison.alerts] == [hidden.alert_id]
    got = (
        await stub.GetAlert(
            pb.GetAlertRequest(alert_id=hidden.alert_id, include_history=True), metadata=md(OVERSEER)
        )
    ).alert
    assert got.source.id == "cell-block-b" and got.latest.event_id
    await denied(
        stub.GetAlert(pb.GetAlertRequest(alert_id=ordinary.alert_id), metadata=md(OVERSEER)),
        grpc.StatusCode.NOT_FOUND,
    )
    # Never on the prison's duty roster, so it never escalates there (nobody could acknowledge it).
    assert not got.duty_roles and not got.HasField("ack_deadline")
    await asyncio.sleep(1.2)
    escalated = await overseen.app.escalate_once()
    assert hidden.alert_id not in {u.alert.alert_id for u in escalated}

    # ... and changes nothing, whatever else its token says.
    for who in (OVERSEER, OVERSEER_WITH_OPERATOR):
        for call in (
            stub.Acknowledge(pb.AcknowledgeRequest(alert_id=hidden.alert_id), metadata=md(who)),
            stub.Resolve(
                pb.ResolveRequest(alert_id=hidden.alert_id, outcome=pb.ALERT_OUTCOME_FALSE_ALARM),
                metadata=md(who),
            ),
            stub.Publish(pb.PublishRequest(event=camera_event(agency="ombudsman")), metadata=md(who)),
            stub.PublishBatch(
                pb.PublishBatchRequest(events=[camera_event(agency="ombudsman")]), metadata=md(who)
            ),
            stub.PutSiteConfig(pb.PutSiteConfigRequest(config=pb.SiteConfig(site_id="hq")), metadata=md(who)),
            stub.CreateWebhook(
                pb.CreateWebhookRequest(webhook=pb.Webhook(url="http://127.0.0.1:9/h", secret=SECRET)),
                metadata=md(who),
            ),
            stub.CreateSharedRoute(
                pb.CreateSharedRouteRequest(route=pb.SharedRoute(target_agency_id="police", reason="x")),
                metadata=md(who),
            ),
        ):
            await denied(call, grpc.StatusCode.PERMISSION_DENIED)
    unchanged = (
        await stub.GetAlert(pb.GetAlertRequest(alert_id=hidden.alert_id), metadata=md(OVERSEER))
    ).alert
    assert unchanged.state == pb.ALERT_STATE_NEW and not unchanged.acknowledged_by

    # Every read is on the overseer's agency's trail (who, which alerts, how) ...
    trail = await audit.ListAudit(
        audit_pb2.ListAuditRequest(action_prefix="alert.oversight.read"),
        metadata=md(OMBUDS_AUDITOR),
    )
    reads = [r for r in trail.records if r.actor == OVERSEER.subject]
    assert sorted(r.details["via"] for r in reads) == ["get", "get", "list", "list", "stream"]
    for record in reads:
        assert [a["alert_id"] for a in record.details["alerts"]] == [hidden.alert_id]
        assert record.details["alerts"][0]["agency"] == "prison"
    # ... and not on the prison's, whose auditors would learn from it that the alert exists.
    prison_trail = await audit.ListAudit(
        audit_pb2.ListAuditRequest(page=common_pb2.PageRequest(page_size=500)), metadata=md(PRISON_AUDITOR)
    )
    assert hidden.alert_id not in str(list(prison_trail.records))


async def test_an_oversight_alert_never_takes_a_shared_route_webhook_or_mqtt(overseen: Running) -> None:
    stub = overseen.stub()
    await stub.CreateSharedRoute(
        pb.CreateSharedRouteRequest(
            route=pb.SharedRoute(target_agency_id="police", reason="regional control room agreement 7")
        ),
        metadata=md(ADMIN_A),
    )
    police_feed = stub.Subscribe(pb.SubscribeRequest(after_cursor=0), metadata=md(POLICE_OPERATOR))
    await wait_caught_up(police_feed)
    http = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    Receiver.received, Receiver.fail_first = [], 0
    mqtt_got: list[bytes] = []
    subscribed = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
    client.on_connect = lambda c, *_: (c.subscribe("kuzet/prison/+/alerts", qos=1), None)[1]
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda c, u, m: mqtt_got.append(bytes(m.payload))
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    try:
        assert await asyncio.to_thread(subscribed.wait, 10)
        hook = pb.Webhook(url=f"http://127.0.0.1:{http.server_port}/hook", secret=SECRET, enabled=True)
        await stub.CreateWebhook(pb.CreateWebhookRequest(webhook=hook), metadata=md(ADMIN_A))

        hidden = await stub.Publish(violence(), metadata=md(SERVICE))
        covered = await stub.Publish(
            pb.PublishRequest(event=camera_event("camera_obscured_with_staff", camera="cell-block-b")),
            metadata=md(SERVICE),
        )
        ordinary = await stub.Publish(pb.PublishRequest(event=camera_event()), metadata=md(SERVICE))
        secret_ids = {hidden.alert_id, covered.alert_id}

        # The ordinary alert takes every way out; by the time it has, the others would have too.
        (shared,) = await collect(police_feed, 1)
        assert shared.alert.alert_id == ordinary.alert_id
        for _ in range(100):
            if Receiver.received and mqtt_got:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        hooked = [json.loads(body)["alert"]["alertId"] for _, body in Receiver.received]
        assert hooked == [ordinary.alert_id]
        published = [json.loads(payload)["alert"]["alertId"] for payload in mqtt_got]
        assert published == [ordinary.alert_id]
        listed = await stub.ListAlerts(pb.ListAlertsRequest(), metadata=md(POLICE_OPERATOR))
        assert {a.alert_id for a in listed.alerts} == {ordinary.alert_id}
        routed = await stub.ListAlerts(
            pb.ListAlertsRequest(filter=pb.AlertFilter(agency_id="prison")), metadata=md(POLICE_OPERATOR)
        )
        assert not secret_ids & {a.alert_id for a in routed.alerts}
        got = (await stub.GetAlert(pb.GetAlertRequest(alert_id=hidden.alert_id), metadata=md(SERVICE))).alert
        assert not got.shared_with_agency_ids
    finally:
        police_feed.cancel()
        client.loop_stop()
        client.disconnect()
        http.shutdown()


async def test_an_agency_nobody_oversees_keeps_its_oversight_alerts_from_everyone(overseen: Running) -> None:
    stub = overseen.stub()
    police = Caller("service:ingest", "police", frozenset({"service"}))
    kept = await stub.Publish(violence(agency="police"), metadata=md(police))
    assert kept.disposition == pb.PUBLISH_DISPOSITION_CREATED
    for who in (POLICE_OPERATOR, OVERSEER):
        listed = await stub.ListAlerts(pb.ListAlertsRequest(), metadata=md(who))
        assert kept.alert_id not in {a.alert_id for a in listed.alerts}
    # Kept, not lost: a service (and, once the setting names one, the overseer) still finds it.
    got = await stub.GetAlert(pb.GetAlertRequest(alert_id=kept.alert_id), metadata=md(SERVICE))
    assert got.alert.type == "staff_violence"


def test_an_agency_cannot_oversee_itself(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="its own oversight agency"):
        settings_for("sqlite://", tmp_path, oversight_agencies={"prison": ["prison"]})
    with pytest.raises(ValueError, match="at least one oversight agency"):
        settings_for("sqlite://", tmp_path, oversight_agencies={"prison": []})
