"""ListAlerts pages by keyset in each order: walking small pages gives the one-page listing."""

from __future__ import annotations

import grpc
import pytest

from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.alerting.v1 import alerting_pb2_grpc
from kuzet.common.v1 import common_pb2

from .conftest import OPERATOR_A, SERVICE, Running, camera_event, md

TYPES = ("camera_offline", "zone_intrusion", "face_match_candidate")


async def _walk(stub: alerting_pb2_grpc.AlertingServiceStub, order: int, size: int) -> list[str]:
    seen: list[str] = []
    token = ""
    for _ in range(50):
        page = await stub.ListAlerts(
            pb.ListAlertsRequest(order=order, page=common_pb2.PageRequest(page_size=size, page_token=token)),
            metadata=md(OPERATOR_A),
        )
        assert len(page.alerts) <= size
        seen += [a.alert_id for a in page.alerts]
        token = page.page.next_page_token
        if not token:
            return seen
    raise AssertionError("the listing never ended")


async def test_every_order_pages_like_one_page(alerting: Running) -> None:
    stub = alerting.stub()
    # Three priorities, several alerts each: ties on priority are ordered by time, then id.
    for i in range(10):
        event = camera_event(TYPES[i % 3], subject=f"s{i}", camera=f"c{i}")
        await stub.Publish(pb.PublishRequest(event=event), metadata=md(SERVICE))
    for order in (pb.ALERT_ORDER_UNSPECIFIED, pb.ALERT_ORDER_PRIORITY, pb.ALERT_ORDER_OLDEST_FIRST):
        whole = await stub.ListAlerts(pb.ListAlertsRequest(order=order), metadata=md(OPERATOR_A))
        assert len(whole.alerts) == 10 and not whole.page.next_page_token
        expected = [a.alert_id for a in whole.alerts]
        for size in (1, 3, 5, 10):
            assert await _walk(stub, order, size) == expected, (order, size)

    # A token of one order is refused by another: it names a different position.
    first = await stub.ListAlerts(
        pb.ListAlertsRequest(order=pb.ALERT_ORDER_PRIORITY, page=common_pb2.PageRequest(page_size=2)),
        metadata=md(OPERATOR_A),
    )
    for order, token in (
        (pb.ALERT_ORDER_OLDEST_FIRST, first.page.next_page_token),
        (pb.ALERT_ORDER_PRIORITY, "4"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListAlerts(
                pb.ListAlertsRequest(order=order, page=common_pb2.PageRequest(page_token=token)),
                metadata=md(OPERATOR_A),
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "page_token" in (err.value.details() or "")
