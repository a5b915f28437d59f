"""An event published by a producer reaches the console's WebSocket, in one trace."""

from __future__ import annotations

import pytest

from kuzet.common.caller import service_caller
from kuzet.common.events import new_event
from kuzet.common.grpcclient import open_channel
from kuzet.common.v1 import common_pb2
from kuzet.e2e.console import ConsoleFeed
from kuzet.e2e.platform import Platform

# Generous: the session's first test also pays for starting every service.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


async def test_published_alert_reaches_console_in_one_trace(platform: Platform) -> None:
    from kuzet.alerting.v1 import alerting_pb2, alerting_pb2_grpc

    token = platform.token("police-operator")
    async with ConsoleFeed(platform.address("gateway"), token) as feed:
        event = new_event(
            "police",
            "badge_panic",
            common_pb2.Source(kind=common_pb2.SOURCE_KIND_BADGE, id="badge-e2e-1", site_id="unit-1"),
            location=common_pb2.GeoPoint(latitude=43.238, longitude=76.945),
            summary="panic button",
        )
        async with open_channel(
            platform.address("alerting"), audience="alerting", caller=service_caller("badge", "police")
        ) as ch:
            await alerting_pb2_grpc.AlertingServiceStub(ch).Publish(alerting_pb2.PublishRequest(event=event))
        message = await feed.wait_for(lambda m: m["alert"].get("type") == "badge_panic", within=10)
    assert message["alert"]["agency_id"] == "police"
    hops = {"alerting", "gateway"}
    assert hops <= await platform.trace_reaches(message["traceparent"], hops)


async def test_other_agency_does_not_see_it(platform: Platform) -> None:
    from kuzet.alerting.v1 import alerting_pb2, alerting_pb2_grpc

    async with ConsoleFeed(platform.address("gateway"), platform.token("prison-operator")) as feed:
        event = new_event(
            "police",
            "badge_tamper",
            common_pb2.Source(kind=common_pb2.SOURCE_KIND_BADGE, id="badge-e2e-2", site_id="unit-1"),
        )
        async with open_channel(
            platform.address("alerting"), audience="alerting", caller=service_caller("badge", "police")
        ) as ch:
            await alerting_pb2_grpc.AlertingServiceStub(ch).Publish(alerting_pb2.PublishRequest(event=event))
        with pytest.raises(TimeoutError):
            await feed.wait_for(lambda m: m["alert"].get("source", {}).get("id") == "badge-e2e-2", within=3)
