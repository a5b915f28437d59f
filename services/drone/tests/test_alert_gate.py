"""A dispatch that answers an alert is checked against a real alerting service: no flight
follows an unconfirmed face match; the confirmed one, or any other alert, may be flown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from kuzet.alerting.config import AlertingSettings
from kuzet.alerting.server import build as build_alerting
from kuzet.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.events import new_event
from kuzet.common.grpcclient import open_channel
from kuzet.common.testing import free_port_number
from kuzet.common.v1 import common_pb2
from kuzet.drone.alertgate import alerting_lookup
from kuzet.drone.config import DroneSettings
from kuzet.drone.leadership import InProcessLeadership, LeaseTable
from kuzet.drone.server import build
from kuzet.drone.sim import SimHost
from kuzet.drone.v1 import drone_pb2, drone_pb2_grpc

from .conftest import AGENCY, Harness, square

IDENTITY = Caller("service:identity", AGENCY, frozenset({"service"}))
CAMERA = common_pb2.Source(kind=common_pb2.SOURCE_KIND_CAMERA, id="cam-9", site_id="site-1", name="Gate")
PK = drone_pb2.PatrolKind


def _event(type_: str, subject: str, agency: str = AGENCY, **attributes: Any) -> common_pb2.Event:
    return new_event(agency, type_, CAMERA, subject=subject, attributes=attributes)


class Gated:
    def __init__(
        self, harness: Harness, alerts: alerting_pb2_grpc.AlertingServiceStub, alerting: Any
    ) -> None:
        self.harness, self.alerts, self.alerting = harness, alerts, alerting

    async def publish(self, event: common_pb2.Event) -> str:
        return (
            await self.alerts.Publish(
                alerting_pb2.PublishRequest(event=event),
                metadata=caller_metadata(IDENTITY, audience="alerting"),
            )
        ).alert_id

    async def dispatch_on(self, alert_id: str) -> tuple[grpc.StatusCode, str]:
        plan = await self.harness.plan(
            "d-gate",
            kind=PK.PATROL_KIND_PERIMETER,
            polygon=square(0, 100, 30),
            altitude_m=30,
            alert_id=alert_id,
        )
        assert plan.ok, plan.violations
        try:
            await self.harness.dispatch(plan)
        except grpc.aio.AioRpcError as exc:
            return exc.code(), exc.details() or ""
        return grpc.StatusCode.OK, ""


@pytest.fixture
async def gated(sim: SimHost, tmp_path: Path, db_path: str) -> AsyncIterator[Gated]:
    alerting, _ = await build_alerting(
        AlertingSettings(
            database_url=f"sqlite:///{tmp_path / 'alerting.db'}",
            data_dir=tmp_path / "a",
            escalation_interval_s=3600,
        ),
        port=0,
    )
    address = await alerting.start()
    alert_channel = open_channel(address, audience="alerting")
    events: list[common_pb2.Event] = []
    server = await build(
        DroneSettings(port=free_port_number(), data_dir=tmp_path, database_url=db_path),
        leadership=InProcessLeadership("test-drone-0", table=LeaseTable()),
        publish_event=events.append,
        alerts=alerting_lookup(alert_channel),
    )
    await server.start()
    channel = open_channel(server.address, audience="drone")
    harness = Harness(server, channel, drone_pb2_grpc.DroneServiceStub(channel), events, sim)
    try:
        yield Gated(harness, alerting_pb2_grpc.AlertingServiceStub(alert_channel), alerting)
    finally:
        await channel.close()
        await server.stop(0)
        await alert_channel.close()
        await alerting.stop(0)


async def test_no_flight_on_an_unconfirmed_face_match(gated: Gated) -> None:
    await gated.harness.add_drone("d-gate", 91)
    candidate = await gated.publish(
        _event("face_match_candidate", "match:m-1", match_id="m-1", review_state="pending")
    )
    code, details = await gated.dispatch_on(candidate)
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "unconfirmed face_match_candidate" in details and "face_match_confirmed" in details
    code, details = await gated.dispatch_on("no-such-alert")
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "no such alert" in details
    other_agency = await gated.publish(_event("zone_intrusion", "track-1", agency="police"))
    code, _ = await gated.dispatch_on(other_agency)
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert gated.harness.vehicles["d-gate"].mission == []

    # Once the reviewers confirm, identity's face_match_confirmed alert is the one to fly on.
    confirmed = await gated.publish(
        _event("face_match_confirmed", "match:m-1", match_id="m-1", person_id="p-1", confirmed=True)
    )
    code, details = await gated.dispatch_on(confirmed)
    assert code == grpc.StatusCode.OK, details


async def test_alerting_down_is_unavailable_and_nothing_flies(gated: Gated) -> None:
    await gated.harness.add_drone("d-gate", 92)
    intrusion = await gated.publish(_event("zone_intrusion", "track-2"))
    await gated.alerting.stop(0)
    code, details = await gated.dispatch_on(intrusion)
    assert code == grpc.StatusCode.UNAVAILABLE and "retry" in details
    assert gated.harness.vehicles["d-gate"].mission == []
