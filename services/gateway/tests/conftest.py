"""Fixtures: a real gateway (in-process ASGI or under uvicorn on a loopback port)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from kuzet.alerting.config import AlertingSettings
from kuzet.alerting.server import build as build_alerting
from kuzet.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.config import Endpoints
from kuzet.common.events import new_event
from kuzet.common.grpcclient import open_channel
from kuzet.common.grpcserver import GrpcServer
from kuzet.common.testing import free_port_number, missing_component
from kuzet.common.tls import bind, server_credentials
from kuzet.common.v1 import common_pb2
from kuzet.drone.server import DroneServer
from kuzet.gateway.app import create_app
from kuzet.gateway.config import GatewaySettings
from kuzet.gateway.context import Gateway, build_gateway
from kuzet.identity.config import IdentitySettings
from kuzet.identity.server import build as build_identity
from kuzet.traffic.v1 import traffic_pb2, traffic_pb2_grpc


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serve(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """Runs an ASGI app under a real uvicorn on loopback; yields its base URL."""
    port = port or _free_port()
    # Bounded like the production server (shutdown_grace_s): a browser page still open at the end
    # of a test holds WebSockets whose handlers, on a loaded machine, can take longer to notice.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="off", timeout_graceful_shutdown=3
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@dataclass
class GatewayUnderTest:
    gateway: Gateway
    app: FastAPI
    client: httpx.AsyncClient

    def token(self, username: str, **kwargs: Any) -> str:
        assert self.gateway.local_issuer is not None
        return self.gateway.local_issuer.issue(self.gateway.local_issuer.user(username), **kwargs)

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., GatewaySettings]:
    def make(**overrides: Any) -> GatewaySettings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "gateway",
            "port": overrides.pop("port", 8080),
            "rate_limit_per_second": 1000.0,
            "rate_limit_burst": 1000.0,
        }
        values.update(overrides)
        return GatewaySettings(**values)

    return make


@pytest.fixture
async def gateway_factory(make_settings: Callable[..., GatewaySettings]) -> AsyncIterator[Callable[..., Any]]:
    made: list[GatewayUnderTest] = []

    async def make(endpoints: Endpoints | None = None, **overrides: Any) -> GatewayUnderTest:
        settings = make_settings(**overrides)
        gw = build_gateway(settings, endpoints=endpoints or Endpoints())
        app = create_app(settings, gateway=gw)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test")
        under = GatewayUnderTest(gw, app, client)
        made.append(under)
        return under

    yield make
    for under in made:
        await under.client.aclose()
        await under.gateway.close()


@pytest.fixture
async def gw(gateway_factory: Callable[..., Any]) -> GatewayUnderTest:
    under: GatewayUnderTest = await gateway_factory()
    return under


@pytest.fixture
def serve_app() -> Callable[..., Any]:
    """`async with serve_app(app) as base_url:` runs the app under uvicorn on loopback."""
    return serve


# --- real backing services, in-process ----------------------------------------------------------

SERVICE_CALLER = Caller("service:ingest", "prison", frozenset({"service"}))


@dataclass
class Backing:
    endpoints: Endpoints
    alerting_address: str
    alerting_channel: grpc.aio.Channel
    identity_address: str

    @property
    def alerting(self) -> alerting_pb2_grpc.AlertingServiceStub:
        return alerting_pb2_grpc.AlertingServiceStub(self.alerting_channel)

    async def publish(
        self,
        agency: str = "prison",
        type: str = "zone_intrusion",
        *,
        camera: str = "cam-1",
        site: str = "site-1",
        subject: str | None = None,
        **fields: Any,
    ) -> str:
        source = common_pb2.Source(kind=common_pb2.SOURCE_KIND_CAMERA, id=camera, site_id=site, name=camera)
        event = new_event(
            agency, type, source, rule_id="rule-1", subject=subject or uuid.uuid4().hex, **fields
        )
        caller = Caller(f"service:ingest-{agency}", agency, frozenset({"service"}))
        resp = await self.alerting.Publish(
            alerting_pb2.PublishRequest(event=event), metadata=caller_metadata(caller, audience="alerting")
        )
        return str(resp.alert_id)

    async def amend(self, alert_id: str, **fields: Any) -> None:
        """Later media for the alert's latest occurrence, as ingest sends its clip around it."""
        caller = Caller("service:ingest", "", frozenset({"service"}))
        md = caller_metadata(caller, audience="alerting")
        alert = (
            await self.alerting.GetAlert(alerting_pb2.GetAlertRequest(alert_id=alert_id), metadata=md)
        ).alert
        event = new_event(
            alert.agency_id,
            alert.type,
            alert.source,
            rule_id=alert.rule_id,
            subject=alert.subject,
            amends=alert.latest.event_id,
            **fields,
        )
        resp = await self.alerting.Publish(alerting_pb2.PublishRequest(event=event), metadata=md)
        assert resp.disposition == alerting_pb2.PUBLISH_DISPOSITION_AMENDED, resp


async def start_identity(tmp_path: Path, alerting: str, inference: str) -> GrpcServer:
    settings = IdentitySettings(
        database_url=f"sqlite:///{tmp_path / 'identity.db'}", data_dir=tmp_path / "identity", port=0
    )
    server, _ = await build_identity(
        settings, port=0, endpoints=Endpoints(alerting=alerting, inference=inference)
    )
    await server.start()
    return server


async def start_fleet(root: Path, endpoints: Endpoints) -> dict[str, GrpcServer]:
    """The real ingest, badge, drone, traffic and federation services (nothing registered or
    configured; federation with no NATS server, so a release that is not a hub)."""
    # Imported here: ingest pulls in FFmpeg and OpenCV, which most tests do not need.
    from kuzet.badge.config import BadgeSettings
    from kuzet.badge.server import build as build_badge
    from kuzet.drone.config import DroneSettings
    from kuzet.drone.server import build as build_drone
    from kuzet.federation.config import FederationSettings
    from kuzet.federation.server import build as build_federation
    from kuzet.ingest.config import IngestSettings
    from kuzet.ingest.server import build as build_ingest
    from kuzet.traffic.config import TrafficSettings
    from kuzet.traffic.server import build as build_traffic

    started: dict[str, GrpcServer] = {}
    for name, settings_cls, build in (
        ("ingest", IngestSettings, build_ingest),
        ("badge", BadgeSettings, build_badge),
        ("drone", DroneSettings, build_drone),
        ("traffic", TrafficSettings, build_traffic),
        ("federation", FederationSettings, build_federation),
    ):
        settings = settings_cls(
            port=free_port_number(), data_dir=root / name, database_url=f"sqlite:///{root / (name + '.db')}"
        )
        if isinstance(settings, BadgeSettings):
            # Not the fixed default device port, which tests running beside these may hold.
            settings.device_port = free_port_number()
        # Ingest reads the other services; traffic sends its hotlist alerts to alerting.
        kwargs = {"endpoints": endpoints} if name in ("ingest", "traffic") else {}
        server = await build(settings, **kwargs)
        await server.start()
        started[name] = server
    return started


@pytest.fixture
async def drone_service(tmp_path: Path) -> AsyncIterator[DroneServer]:
    """A real drone service alone, in-process leadership, events dropped."""
    from kuzet.drone.config import DroneSettings
    from kuzet.drone.leadership import InProcessLeadership, LeaseTable
    from kuzet.drone.server import build as build_drone

    settings = DroneSettings(
        port=free_port_number(),
        data_dir=tmp_path / "drone",
        database_url=f"sqlite:///{tmp_path / 'drone.db'}",
    )
    server = await build_drone(
        settings, leadership=InProcessLeadership("drone-0", table=LeaseTable()), publish_event=lambda e: None
    )
    await server.start()
    yield server
    await server.stop(0)


@pytest.fixture(scope="session")
def fleet_starter() -> Callable[..., Any]:
    """`await fleet_starter(root, endpoints)` -> {"ingest"|"badge"|"drone"|"traffic": started GrpcServer}."""
    return start_fleet


@pytest.fixture
def alerting_overrides() -> dict[str, Any]:
    """Extra AlertingSettings for `backing`; a test module overrides this fixture to change them."""
    return {}


@pytest.fixture
async def backing(tmp_path: Path, alerting_overrides: dict[str, Any]) -> AsyncIterator[Backing]:
    """The real alerting and identity services. Identity has no inference service here (its face
    searches fail; queue and galleries work): it points at a gRPC server that implements nothing."""
    settings = AlertingSettings(
        database_url=f"sqlite:///{tmp_path / 'alerting.db'}",
        data_dir=tmp_path / "alerting",
        escalation_interval_s=3600,
        heartbeat_s=0.5,
        **alerting_overrides,
    )
    server, _app = await build_alerting(settings, port=0)
    await server.start()
    empty = grpc.aio.server()
    empty_port = bind(empty, "127.0.0.1:0", server_credentials())
    await empty.start()
    blank = f"127.0.0.1:{empty_port}"
    identity = await start_identity(tmp_path, server.address, blank)
    # Ingest, badge, drone and traffic point at the blank server until a test asks for `fleet_backing`.
    endpoints = Endpoints(
        alerting=server.address,
        identity=identity.address,
        inference=blank,
        traffic=blank,
        ingest=blank,
        badge=blank,
        drone=blank,
    )
    channel = open_channel(server.address, audience="alerting")
    try:
        yield Backing(endpoints, server.address, channel, identity.address)
    finally:
        await channel.close()
        await identity.stop(0)
        await empty.stop(0)
        await server.stop(0)


@pytest.fixture
async def fleet_backing(backing: Backing, tmp_path: Path) -> AsyncIterator[Backing]:
    """`backing` plus the real ingest, badge, drone, traffic and federation services."""
    fleet = await start_fleet(tmp_path, backing.endpoints)
    endpoints = backing.endpoints.model_copy(update={name: srv.address for name, srv in fleet.items()})
    try:
        yield Backing(endpoints, backing.alerting_address, backing.alerting_channel, backing.identity_address)
    finally:
        for srv in fleet.values():
            await srv.stop(0)


@pytest.fixture
async def stack(gateway_factory: Callable[..., Any], backing: Backing) -> tuple[GatewayUnderTest, Backing]:
    under: GatewayUnderTest = await gateway_factory(backing.endpoints)
    return under, backing


@pytest.fixture
def identity_starter() -> Callable[..., Any]:
    """`await identity_starter(tmp, alerting_address, inference_address)` -> a started GrpcServer."""
    return start_identity


# --- the real traffic service, and what ingest would send it ---------------------------------------

TRAFFIC_INGEST = Caller("service:ingest", "prison", frozenset({"service"}))


@dataclass
class TrafficKit:
    """A started traffic service; `events` holds what it published when no alerting was given."""

    address: str
    events: list[common_pb2.Event]

    @staticmethod
    def profile(name: str = "Ring road km 12", speed_limit_kmh: float = 60.0) -> dict[str, Any]:
        """The body of PUT /api/v1/traffic/cameras/{id}: two lanes, a calibration and a limit."""
        corners = [(200, 300), (1700, 300), (1900, 1000), (0, 1000)]
        road = [(0, 60), (12, 60), (12, 0), (0, 0)]  # metres: 12 m wide, 60 m deep
        return {
            "name": name,
            "site_id": "ring-road",
            "lines": [
                {"id": "l1", "lane": "1", "start": {"x": 100, "y": 700}, "end": {"x": 950, "y": 700}},
                {"id": "l2", "lane": "2", "start": {"x": 950, "y": 700}, "end": {"x": 1800, "y": 700}},
            ],
            "calibration": {
                "image_points": [{"x": x, "y": y} for x, y in corners],
                "ground_points_m": [{"x": x, "y": y} for x, y in road],
            },
            "speed_limit_kmh": speed_limit_kmh,
            "location": {"latitude": 43.2389, "longitude": 76.8897},
        }

    @staticmethod
    def observation(
        camera_id: str,
        line_id: str,
        n: int,
        *,
        at: datetime,
        plate: str = "",
        speed_kmh: float = 0.0,
        vehicle_class: str = "car",
        snapshot: common_pb2.ObjectRef | None = None,
        plate_crop: common_pb2.ObjectRef | None = None,
    ) -> traffic_pb2.VehicleObservation:
        obs = traffic_pb2.VehicleObservation(
            camera_id=camera_id,
            line_id=line_id,
            track_id=n,
            vehicle_class=vehicle_class,
            observation_id=f"{camera_id}-{line_id}-{n}",
            speed_kmh=speed_kmh,
            plate=plate,
            plate_confidence=0.97 if plate else 0.0,
            snapshot=snapshot,
            plate_crop=plate_crop,
        )
        obs.observed_at.FromDatetime(at)
        return obs

    async def record(self, *observations: traffic_pb2.VehicleObservation) -> Any:
        """RecordObservations as ingest calls it."""
        async with open_channel(self.address, audience="traffic", caller=TRAFFIC_INGEST) as channel:
            return await traffic_pb2_grpc.TrafficServiceStub(channel).RecordObservations(
                traffic_pb2.RecordObservationsRequest(observations=observations),
                metadata=caller_metadata(TRAFFIC_INGEST, audience="traffic"),
            )


@pytest.fixture
async def traffic_starter(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """`await traffic_starter(alerting_address="")` -> a TrafficKit; with an alerting address its
    hotlist alerts go there, else into the kit's `events`."""
    from kuzet.traffic.config import TrafficSettings
    from kuzet.traffic.server import build as build_traffic

    started: list[GrpcServer] = []

    async def start(alerting_address: str = "") -> TrafficKit:
        root = tmp_path / f"traffic-{len(started)}"
        settings = TrafficSettings(
            port=free_port_number(), data_dir=root, database_url=f"sqlite:///{root}.db"
        )
        events: list[common_pb2.Event] = []
        if alerting_address:
            server = await build_traffic(settings, endpoints=Endpoints(alerting=alerting_address))
        else:
            server = await build_traffic(settings, publish_event=events.append)
        await server.start()
        started.append(server)
        return TrafficKit(server.address, events)

    yield start
    for server in started:
        await server.stop(0)


# --- the console in headless Chromium (Debian's, driven by Playwright; scripts/setup/browser.sh) ---

# Screenshots of every console page, taken by the browser tests so that they stay true.
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "console"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _need_chromium() -> None:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        missing_component("Chromium is not installed: run scripts/setup/browser.sh")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    _need_chromium()
    pw_api = pytest.importorskip("playwright.async_api", reason="run scripts/setup/browser.sh")
    async with pw_api.async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


async def _sign_in(page: Any, base: str, user: str) -> None:
    await page.goto(base + "/")
    await page.fill("#username", user)
    await page.fill("#password", "kuzet-demo")
    await page.click("#signin-button")
    await page.wait_for_selector("#whoami:not(:empty)")


@pytest.fixture
def sign_in() -> Callable[[Any, str, str], Any]:
    """`await sign_in(page, base_url, demo_user)`: the console's local sign-in, as a user would."""
    return _sign_in
