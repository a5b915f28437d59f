"""ListDrones pages through kuzet.common.paging, in drone id order."""

from __future__ import annotations

import grpc
import pytest

from kuzet.common.testing import free_port_number
from kuzet.common.v1 import common_pb2
from kuzet.drone.v1 import drone_pb2

from .conftest import OPERATOR, Harness, md


async def test_drones_page_in_id_order(harness: Harness) -> None:
    for n, drone_id in enumerate(["d-c", "d-a", "d-e", "d-b", "d-d"]):
        await harness.add_drone_record(drone_id, 100 + n, free_port_number())
    seen: list[str] = []
    tokens: list[str] = []
    token = ""
    for _ in range(10):
        page = await harness.stub.ListDrones(
            drone_pb2.ListDronesRequest(page=common_pb2.PageRequest(page_size=2, page_token=token)),
            metadata=md(OPERATOR),
        )
        seen += [d.drone_id for d in page.drones]
        token = page.page.next_page_token
        tokens.append(token)
        if not token:
            break
    assert seen == ["d-a", "d-b", "d-c", "d-d", "d-e"] and len(tokens) == 3
    for bad in (common_pb2.PageRequest(page_token="2"), common_pb2.PageRequest(page_size=-1)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await harness.stub.ListDrones(drone_pb2.ListDronesRequest(page=bad), metadata=md(OPERATOR))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
