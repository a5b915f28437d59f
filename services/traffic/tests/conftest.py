"""Fixtures: the traffic service in-process on a free port over SQLite and PostgreSQL, and a real
alerting service to receive its hotlist alerts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest

from kuzet.alerting.config import AlertingSettings
from kuzet.alerting.server import build as build_alerting
from kuzet.alerting.v1 import alerting_pb2_grpc
from kuzet.common.caller import Caller, service_caller
from kuzet.common.config import Endpoints
from kuzet.common.grpcclient import open_channel
from kuzet.common.grpcserver import GrpcServer
from kuzet.common.timeutil import to_timestamp
from kuzet.common.v1 import common_pb2
from kuzet.traffic.config import TrafficSettings
from kuzet.traffic.server import TrafficServer, build
from kuzet.traffic.v1 import traffic_pb2, traffic_pb2_grpc

AGENCY = "police"
ADMIN = Caller("admin-aru", AGENCY, frozenset({"admin"}))
OPERATOR = Caller("op-berik", AGENCY, frozenset({"operator"}))
OTHER_ADMIN = Caller("admin-zed", "roads", frozenset({"admin"}))
OTHER_OPERATOR = Caller("op-zed", "roads", frozenset({"operator"}))
INGEST = service_caller("ingest")
CAMERA = "cam-ring-road-1"
# The image and road points of the synthetic camera's calibration are not needed here: any four
# points in general position make a homography; a 3.5 m lane, 40 m of road.
IMAGE_POINTS = [(600.0, 1000.0), (1300.0, 1000.0), (1100.0, 500.0), (800.0, 500.0)]
GROUND_POINTS = [(0.0, 0.0), (7.0, 0.0), (7.0, 40.0), (0.0, 40.0)]
T = TypeVar("T")


def points(pairs: list[tuple[float, float]]) -> list[common_pb2.Point]:
    return [common_pb2.Point(x=x, y=y) for x, y in pairs]


def camera(camera_id: str = CAMERA, *, limit: float = 60.0, **fields: Any) -> traffic_pb2.TrafficCamera:
    return traffic_pb2.TrafficCamera(
        camera_id=camera_id,
        name="Ring road km 12",
        site_id="almaty-traffic-unit",
        location=common_pb2.GeoPoint(latitude=43.2389, longitude=76.8897),
        lines=[
            traffic_pb2.CountingLine(
                id="L1", lane="1", start=common_pb2.Point(x=600, y=800), end=common_pb2.Point(x=950, y=800)
            ),
            traffic_pb2.CountingLine(
                id="L2", lane="2", start=common_pb2.Point(x=950, y=800), end=common_pb2.Point(x=1300, y=800)
            ),
        ],
        calibration=traffic_pb2.GroundCalibration(
            image_points=points(IMAGE_POINTS), ground_points_m=points(GROUND_POINTS)
        ),
        speed_limit_kmh=limit,
        **fields,
    )


def observation(
    n: int,
    at: datetime,
    *,
    line: str = "L1",
    vehicle_class: str = "car",
    speed: float = 0.0,
    plate: str = "",
    camera_id: str = CAMERA,
    uncertainty: float = 1.0,
) -> traffic_pb2.VehicleObservation:
    o = traffic_pb2.VehicleObservation(
        camera_id=camera_id,
        line_id=line,
        track_id=n,
        vehicle_class=vehicle_class,
        observed_at=to_timestamp(at),
        speed_kmh=speed,
        observation_id=f"{camera_id}:{n}:{line}",
        plate_raw=plate,
        plate_confidence=0.97 if plate else 0.0,
        snapshot=common_pb2.ObjectRef(key=f"snapshots/{camera_id}/{n}.jpg", sha256="ab" * 32),
        box=common_pb2.Box(x1=700, y1=650, x2=900, y2=820),
    )
    if plate:
        o.plate_crop.CopyFrom(common_pb2.ObjectRef(key=f"plates/{camera_id}/{n}.jpg", sha256="cd" * 32))
    if speed:
        o.speed_evidence.CopyFrom(
            traffic_pb2.SpeedEvidence(
                method="between_lines",
                calibration_id="cal-test",
                start_at=to_timestamp(at - timedelta(seconds=1)),
                end_at=to_timestamp(at),
                distance_m=speed / 3.6,
                duration_s=1.0,
                speed_kmh=speed,
                uncertainty_kmh=uncertainty,
            )
        )
    return o


@dataclass
class Traffic:
    server: TrafficServer
    channels: dict[str, grpc.aio.Channel]
    events: list[common_pb2.Event]

    def stub(self, caller: Caller) -> traffic_pb2_grpc.TrafficServiceStub:
        if caller.subject not in self.channels:
            self.channels[caller.subject] = open_channel(
                self.server.address, audience="traffic", caller=caller
            )
        return traffic_pb2_grpc.TrafficServiceStub(self.channels[caller.subject])

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
        await self.server.stop(0)


async def start_traffic(
    db_url: str, tmp_path: Path, *, alerting: str = "", events: list[common_pb2.Event] | None = None
) -> Traffic:
    settings = TrafficSettings(database_url=db_url, data_dir=tmp_path / "traffic")
    kept: list[common_pb2.Event] = [] if events is None else events
    server = await build(
        settings,
        port=0,
        publish_event=None if alerting else kept.append,
        endpoints=Endpoints(alerting=alerting) if alerting else None,
    )
    await server.start()
    return Traffic(server, {}, kept)


@pytest.fixture
async def traffic(db_url: str, tmp_path: Path) -> AsyncIterator[Traffic]:
    running = await start_traffic(db_url, tmp_path)
    try:
        await running.stub(ADMIN).ConfigureCamera(traffic_pb2.ConfigureCameraRequest(camera=camera()))
        yield running
    finally:
        await running.close()


@dataclass
class RealAlerting:
    server: GrpcServer
    channel: grpc.aio.Channel

    @property
    def stub(self) -> alerting_pb2_grpc.AlertingServiceStub:
        return alerting_pb2_grpc.AlertingServiceStub(self.channel)


@pytest.fixture
async def alerting(tmp_path: Path) -> AsyncIterator[RealAlerting]:
    settings = AlertingSettings(
        database_url=f"sqlite:///{tmp_path / 'alerting.db'}", data_dir=tmp_path / "alerting", heartbeat_s=0.5
    )
    server, _ = await build_alerting(settings, port=0)
    await server.start()
    channel = open_channel(server.address, audience="alerting", caller=OPERATOR)
    try:
        yield RealAlerting(server, channel)
    finally:
        await channel.close()
        await server.stop(0)


async def eventually(read: Callable[[], Awaitable[T]], done: Callable[[T], bool], within_s: float = 5.0) -> T:
    deadline = time.monotonic() + within_s
    while True:
        value = await read()
        if done(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.02)


def minute(hour: int, minute_: int, second: float = 0.0) -> datetime:
    return datetime(2026, 12, 1, hour, minute_, tzinfo=UTC) + timedelta(seconds=second)
