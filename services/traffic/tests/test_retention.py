"""Observation retention through the real server (SQLite and PostgreSQL): plate reads past their
agency's retention go with their hits, held ones stay, the lane counts stay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kuzet.common.caller import Caller
from kuzet.common.grpcclient import open_channel
from kuzet.common.timeutil import to_timestamp
from kuzet.common.v1 import holds_pb2, holds_pb2_grpc
from kuzet.traffic.v1 import traffic_pb2

from .conftest import ADMIN, AGENCY, OPERATOR, Traffic, camera, minute, observation, start_traffic
from .test_hotlists import entry, upsert
from .test_observations import counts, record

INVESTIGATOR = Caller("inv-1", AGENCY, frozenset({"investigator"}))


@pytest.fixture
async def keeping_three_days(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Traffic]:
    monkeypatch.setenv("KUZET_TRAFFIC_RETENTION_OBSERVATION_DAYS", "3")
    running = await start_traffic(db_url, tmp_path)
    retention = running.server.retention
    # The job runs once when it takes the lead: let that run pass before old rows arrive.
    for _ in range(400):
        if retention.running_here and retention.jobs[0].status.finished_at is not None:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the retention job never ran at start")
    try:
        stub = running.stub(ADMIN)
        await stub.ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=camera()))
        await stub.ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=camera("cam-held")))
        yield running
    finally:
        await running.close()


async def test_old_observations_go_held_ones_stay(keeping_three_days: Traffic) -> None:
    traffic = keeping_three_days
    await upsert(traffic, entry("123ABC02"))
    await record(
        traffic,
        [
            observation(1, minute(8, 1), plate="123ABC02"),
            observation(2, minute(8, 2), plate="123ABC02", camera_id="cam-held"),
        ],
    )
    channel = open_channel(traffic.server.address, audience="traffic", caller=INVESTIGATOR)
    try:
        await holds_pb2_grpc.HoldServiceStub(channel).PlaceHold(
            holds_pb2.PlaceHoldRequest(
                kind="traffic.observation",
                source_id="cam-held",
                from_time=to_timestamp(minute(8, 0)),
                to_time=to_timestamp(minute(9, 0)),
                reason="incident 77 on the ring road",
            )
        )
    finally:
        await channel.close()
    assert await traffic.server.retention.run_once() == {"traffic.observation": 1}
    found = await traffic.stub(OPERATOR).SearchPlates(
        traffic_pb2.SearchPlatesRequest(plate="123ABC02", purpose="check retention")
    )
    assert [o.camera_id for o in found.observations] == ["cam-held"]
    hits = (await traffic.stub(OPERATOR).ListHotlistHits(traffic_pb2.ListHotlistHitsRequest())).hits
    assert [h.observation.camera_id for h in hits] == ["cam-held"]
    # Counts hold no plate: they stay.
    assert sum(c.vehicles for c in await counts(traffic, 3600)) == 1
