"""Fixtures: the real inference service in-process, an RTSP server, the ingest server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace

from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.config import Endpoints, load_settings
from kuzet.common.grpcclient import open_channel
from kuzet.common.objectstore import LocalObjectStore
from kuzet.common.testing import missing_component
from kuzet.common.v1 import common_pb2
from kuzet.ingest.testing import videotest as vt
from kuzet.ingest.testing.rtsp import RtspServer, rtsp_available

ADMIN = Caller("alice", "prison", frozenset({"admin"}))


class ListSink:
    """Collects published events (stands in for the alerting outbox; alerting is not under test)."""

    def __init__(self) -> None:
        self.events: list[common_pb2.Event] = []
        # (trace id, span id) current at publish: the real EventSink sends the event under it.
        self.contexts: dict[str, tuple[int, int]] = {}

    def publish(self, event: common_pb2.Event) -> None:
        ctx = trace.get_current_span().get_span_context()
        self.contexts[event.event_id] = (ctx.trace_id, ctx.span_id)
        self.events.append(event)

    def of(self, *types: str) -> list[common_pb2.Event]:
        return [e for e in self.events if e.type in types]

    async def wait_for(self, pred: Any, within: float) -> bool:
        deadline = asyncio.get_running_loop().time() + within
        while asyncio.get_running_loop().time() < deadline:
            if pred(self.events):
                return True
            await asyncio.sleep(0.2)
        return bool(pred(self.events))


@pytest.fixture(scope="session")
def walk_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return vt.write_h264(vt.walking_scenario(640, 360), tmp_path_factory.mktemp("video") / "walk.mp4")


@pytest.fixture(scope="session")
def long_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = vt.mostly_still_scenario(320, 240, duration=40.0, moving_fraction=0.2)
    return vt.write_h264(spec, tmp_path_factory.mktemp("video") / "long.mp4")


@pytest.fixture(scope="session")
def rtsp(walk_mp4: Path, long_mp4: Path) -> Iterator[RtspServer]:
    if not rtsp_available():
        missing_component("gst-rtsp-server missing: run scripts/setup/rtsp.sh")
    with RtspServer({"walk": walk_mp4, "long": long_mp4}) as server:
        yield server


@pytest.fixture
async def inference(tmp_path: Path, free_port: int) -> AsyncIterator[str]:
    from kuzet.inference.config import InferenceSettings
    from kuzet.inference.server import build

    # (port=0 would mean the service's default port 50051, which a running stack may hold)
    settings = load_settings(InferenceSettings, port=free_port, data_dir=tmp_path / "inference")
    server = await build(settings)
    await server.start()
    yield server.address
    await server.stop(0)


@pytest.fixture
async def ingest(tmp_path: Path, inference: str) -> AsyncIterator[dict[str, Any]]:
    async for value in _ingest(tmp_path, inference):
        yield value


@pytest.fixture
async def registry(tmp_path: Path, db_url: str) -> AsyncIterator[dict[str, Any]]:
    """Ingest without an inference service, on SQLite and PostgreSQL: for registry tests whose
    cameras are not enabled."""
    async for value in _ingest(tmp_path, "127.0.0.1:1", database_url=db_url):
        yield value


async def _ingest(
    tmp_path: Path, inference: str, traffic: str = "127.0.0.1:1", drone: str = "127.0.0.1:1", **extra: Any
) -> AsyncIterator[dict[str, Any]]:
    from kuzet.ingest.config import IngestSettings
    from kuzet.ingest.server import build
    from kuzet.ingest.v1 import ingest_pb2_grpc

    settings = load_settings(
        IngestSettings, port=0, data_dir=tmp_path / "ingest", reconcile_s=1.0, fault_hold_s=1.0, **extra
    )
    sink = ListSink()
    store = LocalObjectStore(tmp_path / "objects")
    server = await build(
        settings,
        port=0,
        sink=sink,
        store=store,
        endpoints=Endpoints(inference=inference, identity="127.0.0.1:1", traffic=traffic, drone=drone),
    )
    await server.start()
    channel = open_channel(server.address, audience="ingest", caller=ADMIN)
    yield {
        "stub": ingest_pb2_grpc.IngestServiceStub(channel),
        "sink": sink,
        "store": store,
        "server": server,
        "md": caller_metadata(ADMIN, audience="ingest"),
    }
    await channel.close()
    await server.stop(0)
