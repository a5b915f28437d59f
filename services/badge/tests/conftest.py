"""A badge service running in-process on a free port, with real gRPC, database and object store."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from kuzet.badge.config import BadgeSettings
from kuzet.badge.server import BadgeApp, build_app
from kuzet.badge.v1 import badge_pb2_grpc
from kuzet.common.caller import Caller
from kuzet.common.config import TlsSettings
from kuzet.common.grpcclient import open_channel
from kuzet.common.objectstore import LocalObjectStore, ObjectStore
from kuzet.common.v1 import common_pb2

AGENCY = "police"
# The device port speaks plaintext h2c (TLS ends at the badges' load balancer), not mTLS.
DEVICE_PORT_TLS = TlsSettings(mode="plaintext-dev")
ADMIN = Caller("admin-1", AGENCY, frozenset({"admin", "operator", "investigator", "auditor"}))


class RecordingSink:
    """Stands in for kuzet.common.eventsink.EventSink (the alerting side is not under test here)."""

    def __init__(self) -> None:
        self.events: list[common_pb2.Event] = []

    def publish(self, event: common_pb2.Event) -> None:
        self.events.append(event)

    def of(self, event_type: str, *, resolves: bool | None = None) -> list[common_pb2.Event]:
        return [
            e for e in self.events if e.type == event_type and (resolves is None or e.resolves == resolves)
        ]


def fast_settings(db_url: str, tmp_path: Path, **overrides: Any) -> BadgeSettings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "data_dir": tmp_path,
        "history_flush_ms": 10,
        "state_flush_s": 0.2,
        "supervisor_interval_s": 0.05,
        "signal_lost_after_s": 0.6,
        "recording_grace_s": 0.3,
        **overrides,
    }
    return BadgeSettings(**values)


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
async def make_app(db_url: str, tmp_path: Path, sink: RecordingSink) -> AsyncIterator[Callable[..., Any]]:
    started: list[BadgeApp] = []

    async def make(
        objects: ObjectStore | None = None, port: int = 0, device_port: int = 0, **overrides: Any
    ) -> BadgeApp:
        settings = fast_settings(db_url, tmp_path, **overrides)
        app = await build_app(
            settings,
            sink=sink,
            objects=objects or LocalObjectStore(tmp_path / "objects"),
            port=port,
            device_port=device_port,
        )
        await app.server.start()
        started.append(app)
        return app

    yield make
    for application in started:
        await application.server.stop(0)  # a second stop of an app a test stopped is harmless


@pytest.fixture
async def app(make_app: Callable[..., Any]) -> BadgeApp:
    application: BadgeApp = await make_app()
    return application


StubFactory = Callable[[Caller], badge_pb2_grpc.BadgeServiceStub]


@contextlib.asynccontextmanager
async def _stubs_at(address: str, tls: TlsSettings | None = None) -> AsyncIterator[StubFactory]:
    """Stubs on ``address`` for any caller; their channels close with the context."""
    channels: list[grpc.aio.Channel] = []

    def make(caller: Caller) -> badge_pb2_grpc.BadgeServiceStub:
        channel = open_channel(address, audience="badge", caller=caller, tls=tls)
        channels.append(channel)
        return badge_pb2_grpc.BadgeServiceStub(channel)

    try:
        yield make
    finally:
        for channel in channels:
            await channel.close()


@pytest.fixture
async def stub_for(app: BadgeApp) -> AsyncIterator[StubFactory]:
    async with _stubs_at(app.server.address) as make:
        yield make


@pytest.fixture
def admin(stub_for: StubFactory) -> badge_pb2_grpc.BadgeServiceStub:
    return stub_for(ADMIN)


@pytest.fixture(params=["device", "api"])
async def connect_for(request: pytest.FixtureRequest, app: BadgeApp) -> AsyncIterator[StubFactory]:
    """Stubs for Connect on the device port (what badges use) and on the API port (grpc.aio)."""
    port = app.device.port if request.param == "device" else app.server.bound_port
    tls = DEVICE_PORT_TLS if request.param == "device" else None
    async with _stubs_at(f"{app.server.settings.host}:{port}", tls) as make:
        yield make


@pytest.fixture
def connect(connect_for: StubFactory) -> badge_pb2_grpc.BadgeServiceStub:
    return connect_for(ADMIN)
