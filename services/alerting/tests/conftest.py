"""Fixtures: a real alerting server (in-process, on a free port) over SQLite or PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from kuzet.alerting.config import AlertingSettings
from kuzet.alerting.server import Alerting, build
from kuzet.alerting.v1 import alerting_pb2_grpc
from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.events import new_event
from kuzet.common.tls import secure_channel
from kuzet.common.v1 import common_pb2

SERVICE = Caller("service:ingest", "prison", frozenset({"service"}))
OPERATOR_A = Caller("op-a", "prison", frozenset({"operator"}))
OPERATOR_B = Caller("op-b", "police", frozenset({"operator"}))
ADMIN_A = Caller("admin-a", "prison", frozenset({"admin"}))


@dataclass
class Running:
    address: str
    app: Alerting
    channel: grpc.aio.Channel

    def stub(self) -> alerting_pb2_grpc.AlertingServiceStub:
        return alerting_pb2_grpc.AlertingServiceStub(self.channel)


def md(caller: Caller) -> list[tuple[str, str]]:
    return caller_metadata(caller, audience="alerting")


def camera_event(
    type: str = "zone_intrusion",
    *,
    agency: str = "prison",
    camera: str = "cam-1",
    site: str = "site-1",
    rule: str = "rule-1",
    subject: str = "track-7",
    **fields: Any,
) -> common_pb2.Event:
    source = common_pb2.Source(kind=common_pb2.SOURCE_KIND_CAMERA, id=camera, site_id=site, name=camera)
    return new_event(agency, type, source, rule_id=rule, subject=subject, **fields)


def settings_for(db_url: str, tmp_path: Path, **extra: Any) -> AlertingSettings:
    return AlertingSettings(
        database_url=db_url, data_dir=tmp_path, escalation_interval_s=3600, heartbeat_s=0.5, **extra
    )


@pytest.fixture
async def alerting(db_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    server, app = await build(settings_for(db_url, tmp_path), port=0)
    await server.start()
    channel = secure_channel(server.address)
    try:
        yield Running(server.address, app, channel)
    finally:
        await channel.close()
        await server.stop(0)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / f'alerting-{uuid.uuid4().hex[:6]}.db'}"
