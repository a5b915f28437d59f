"""Three releases on one machine: a hub and two facilities, each its own nats-server (JetStream in
its own domain, the facilities leaf nodes of the hub; kuzet.federation.natstesting), its own
alerting over its own SQLite database, and its own federation service. Facility A reaches the hub
through a TCP relay the test can cut, which is the WAN link."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from kuzet.alerting.config import AlertingSettings
from kuzet.alerting.server import Alerting
from kuzet.alerting.server import build as build_alerting
from kuzet.alerting.v1 import alerting_pb2_grpc
from kuzet.common.caller import Caller, caller_metadata
from kuzet.common.config import AuditSettings, Endpoints
from kuzet.common.grpcserver import GrpcServer
from kuzet.common.testing import free_port_number
from kuzet.common.tls import secure_channel
from kuzet.federation.config import FederationSettings
from kuzet.federation.natstesting import NatsServer, WanLink, start_topology
from kuzet.federation.server import FederationServer
from kuzet.federation.server import build as build_federation
from kuzet.identity.config import IdentitySettings
from kuzet.identity.server import build as build_identity
from kuzet.inference.config import InferenceSettings
from kuzet.inference.server import build as build_inference

HUB = "hub"
SITES = ("site-a", "site-b")
SERVICE = Caller("service:ingest", "prison", frozenset({"service"}))


def md(caller: Caller) -> list[tuple[str, str]]:
    return caller_metadata(caller, audience="alerting")


@dataclass
class Release:
    """One Helm release's worth of the platform: its NATS server, alerting and federation."""

    site: str
    nats: NatsServer
    alerting: GrpcServer
    app: Alerting
    federation: FederationServer
    channel: grpc.aio.Channel
    identity: GrpcServer | None = None

    def stub(self) -> alerting_pb2_grpc.AlertingServiceStub:
        return alerting_pb2_grpc.AlertingServiceStub(self.channel)

    async def close(self) -> None:
        await self.channel.close()
        await self.federation.stop(0)
        await self.alerting.stop(0)
        if self.identity is not None:
            await self.identity.stop(0)


async def start_release(
    site: str,
    nats_server: NatsServer,
    workdir: Path,
    *,
    facilities: list[str] | None = None,
    inference_address: str = "",
    hub_domain: str = HUB,
    upstream: str = "",
) -> Release:
    """A facility's release, or with ``facilities`` a hub's (whose own domain is ``hub_domain``;
    a region under the hub ``upstream``)."""
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    alerting_settings = AlertingSettings(
        database_url=f"sqlite:///{data_dir / 'alerting.db'}",
        data_dir=data_dir,
        escalation_interval_s=3600,
        heartbeat_s=0.5,
    )
    alerting, app = await build_alerting(alerting_settings, port=0)
    await alerting.start()
    identity = None
    if inference_address:
        identity, _ = await build_identity(
            IdentitySettings(
                database_url=f"sqlite:///{data_dir / 'identity.db'}", data_dir=data_dir, publish_events=False
            ),
            port=0,
            endpoints=Endpoints(inference=inference_address, alerting=alerting.address),
        )
        await identity.start()
    settings = FederationSettings(
        role="hub" if facilities is not None else "facility",
        site_id=site,
        nats_url=nats_server.url,
        facilities=facilities or [],
        hub_domain=hub_domain,
        upstream_domain=upstream,
        data_dir=data_dir,
        audit_services=["alerting"],
        audit_interval_s=0.2,
        apply_watchlists=identity is not None,
        forward_watchlists=identity is not None,
        retry_s=0.2,
        search_timeout_s=3.0,
    )
    federation = await build_federation(
        settings,
        port=0,
        alerting_address=alerting.address,
        identity_address=identity.address if identity is not None else None,
        audit=AuditSettings(anchor_interval_s=1.0),
    )
    await federation.start()
    return Release(site, nats_server, alerting, app, federation, secure_channel(alerting.address), identity)


@dataclass
class Federation:
    hub: Release
    facilities: dict[str, Release]
    link: WanLink


@pytest.fixture
async def federation(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Federation]:
    """Three releases; ``indirect`` parametrisation with ``{"identity": True}`` adds an identity
    service to each release (one inference service serves them all: it keeps no state)."""
    options = getattr(request, "param", {})
    inference: GrpcServer | None = None
    inference_address = ""
    if options.get("identity"):
        # port=0 would mean "the default port" to GrpcServer: take a free one instead.
        settings = InferenceSettings(port=free_port_number(), data_dir=tmp_path / "inference")
        inference = await build_inference(settings)
        inference_address = await inference.start()
    # Only site A reaches the hub through the link the test cuts.
    topology = await start_topology(tmp_path, HUB, list(SITES), linked=[SITES[0]])
    releases: list[Release] = []
    try:
        facilities = {}
        for site, server in topology.facilities.items():
            facilities[site] = await start_release(
                site, server, tmp_path / site, inference_address=inference_address
            )
            releases.append(facilities[site])
        hub = await start_release(
            HUB, topology.hub, tmp_path / HUB, facilities=list(SITES), inference_address=inference_address
        )
        releases.append(hub)
        yield Federation(hub, facilities, topology.link)
    finally:
        for release in releases:
            await release.close()
        await topology.link.close()
        topology.stop()
        if inference is not None:
            await inference.stop(0)
