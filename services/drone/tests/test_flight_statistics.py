"""GetFlightStatistics over real gRPC: flight hours from the stored tracks and mission counts per
drone and month, per agency, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from kuzet.common.caller import Caller
from kuzet.common.grpcclient import open_channel
from kuzet.common.testing import free_port_number
from kuzet.common.timeutil import to_timestamp
from kuzet.drone.config import DroneSettings
from kuzet.drone.flighttrack import Track
from kuzet.drone.leadership import InProcessLeadership, LeaseTable
from kuzet.drone.server import build
from kuzet.drone.v1 import drone_pb2, drone_pb2_grpc

from .conftest import AGENCY, OTHER_AGENCY_PILOT, PILOT, md

MS = drone_pb2.MissionState


@pytest.fixture
async def served(tmp_path: Path, db_url: str) -> AsyncIterator[tuple[Any, drone_pb2_grpc.DroneServiceStub]]:
    settings = DroneSettings(port=free_port_number(), data_dir=tmp_path, database_url=db_url)
    server = await build(
        settings, leadership=InProcessLeadership("stats-0", table=LeaseTable()), publish_event=[].append
    )
    await server.start()
    channel = open_channel(server.address, audience="drone")
    yield server, drone_pb2_grpc.DroneServiceStub(channel)
    await channel.close()
    await server.stop(0)


async def flown(
    server: Any, mission_id: str, drone_id: str, at: datetime, minutes: float, state: int, **kw: Any
) -> None:
    mission = drone_pb2.Mission(
        mission_id=mission_id,
        drone_id=drone_id,
        agency_id=kw.pop("agency", AGENCY),
        state=state,
        dispatched_at=to_timestamp(at),
        **kw,
    )
    await server.fleet.store.put_mission(mission)
    if minutes:
        track = Track(mission_id)
        start = at.timestamp() + 60  # airborne a minute after dispatch
        for i in range(int(minutes) + 1):
            track.add(start + 60 * i, 51.5 + i * 0.001, -0.12, 40.0)
        await server.fleet.store.put_track(mission, track.to_bytes())


def request(since: datetime, until: datetime, **kw: Any) -> drone_pb2.GetFlightStatisticsRequest:
    return drone_pb2.GetFlightStatisticsRequest(since=to_timestamp(since), until=to_timestamp(until), **kw)


async def test_flight_hours_and_missions_per_drone_and_month(served: Any) -> None:
    server, stub = served
    jan = datetime(2026, 1, 10, 8, tzinfo=UTC)
    await flown(server, "m1", "eagle-1", jan, 30, MS.MISSION_STATE_COMPLETED)
    await flown(
        server, "m2", "eagle-1", jan + timedelta(days=3), 45, MS.MISSION_STATE_COMPLETED, alert_id="al-1"
    )
    await flown(server, "m3", "eagle-2", jan, 12, MS.MISSION_STATE_ABORTED, reason="battery")
    await flown(server, "m4", "eagle-1", datetime(2026, 2, 1, 9, tzinfo=UTC), 0, MS.MISSION_STATE_ABORTED)
    # 31 Jan 20:00 UTC is already February in Almaty (UTC+5).
    await flown(
        server, "m5", "eagle-2", datetime(2026, 1, 31, 20, tzinfo=UTC), 60, MS.MISSION_STATE_COMPLETED
    )
    await flown(server, "x1", "hawk-1", jan, 30, MS.MISSION_STATE_COMPLETED, agency="police")

    got = await stub.GetFlightStatistics(
        request(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)), metadata=md(PILOT)
    )
    rows = [
        (f.month, f.drone_id, f.flight_hours, f.missions, f.completed, f.aborted, f.alert_missions)
        for f in got.figures
    ]
    assert rows == [
        ("2026-01", "eagle-1", 1.25, 2, 2, 0, 1),
        ("2026-01", "eagle-2", 1.2, 2, 1, 1, 0),
        ("2026-02", "eagle-1", 0.0, 1, 0, 1, 0),
    ]
    almaty = await stub.GetFlightStatistics(
        request(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC), time_zone="Asia/Almaty"),
        metadata=md(PILOT),
    )
    assert [(f.month, f.drone_id, f.flight_hours) for f in almaty.figures if f.drone_id == "eagle-2"] == [
        ("2026-01", "eagle-2", 0.2),
        ("2026-02", "eagle-2", 1.0),
    ]
    police = await stub.GetFlightStatistics(
        request(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
        metadata=md(OTHER_AGENCY_PILOT),
    )
    assert [(f.drone_id, f.flight_hours) for f in police.figures] == [("hawk-1", 0.5)]
    quiet = await stub.GetFlightStatistics(
        request(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)), metadata=md(PILOT)
    )
    assert list(quiet.figures) == []


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"until": to_timestamp(datetime(2026, 1, 1, tzinfo=UTC))}, "since and until are both required"),
        (
            {
                "since": to_timestamp(datetime(2026, 2, 1, tzinfo=UTC)),
                "until": to_timestamp(datetime(2026, 1, 1, tzinfo=UTC)),
            },
            "must be after since",
        ),
        (
            {
                "since": to_timestamp(datetime(2016, 1, 1, tzinfo=UTC)),
                "until": to_timestamp(datetime(2026, 1, 1, tzinfo=UTC)),
            },
            "at most 1830 days",
        ),
        (
            {
                "since": to_timestamp(datetime(2026, 1, 1, tzinfo=UTC)),
                "until": to_timestamp(datetime(2026, 2, 1, tzinfo=UTC)),
                "time_zone": "Mars/Olympus",
            },
            "not an IANA time zone",
        ),
    ],
)
async def test_a_bad_period_is_refused(served: Any, kw: dict[str, Any], words: str) -> None:
    _, stub = served
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetFlightStatistics(drone_pb2.GetFlightStatisticsRequest(**kw), metadata=md(PILOT))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in (err.value.details() or "")


async def test_another_agency_and_an_unlisted_role_are_refused(served: Any) -> None:
    _, stub = served
    period = request(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC), agency_id="police")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetFlightStatistics(period, metadata=md(PILOT))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    reviewer = Caller("rev-1", AGENCY, frozenset({"reviewer"}))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetFlightStatistics(
            request(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)), metadata=md(reviewer)
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
