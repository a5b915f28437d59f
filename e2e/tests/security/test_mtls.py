"""Every gRPC service of `kuzet up` serves mTLS only: a plaintext client, a client without a
certificate and a client with a certificate of another CA cannot connect (UNAVAILABLE) and change
nothing; a client with a certificate of the platform's CA can.

The services run as `kuzet up` runs them (the session's platform: separate processes, the
launcher's own CA); what they hold is read back through the gateway, itself an mTLS client.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kuzet.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from kuzet.badge.v1 import badge_pb2, badge_pb2_grpc
from kuzet.common.config import TlsSettings
from kuzet.common.events import new_event
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.tls import ensure_local_pki, secure_channel
from kuzet.common.v1 import common_pb2
from kuzet.drone.v1 import drone_pb2, drone_pb2_grpc
from kuzet.e2e.platform import Platform
from kuzet.identity.v1 import identity_pb2, identity_pb2_grpc
from kuzet.inference.v1 import inference_pb2, inference_pb2_grpc
from kuzet.ingest.v1 import ingest_pb2, ingest_pb2_grpc

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# What a hostile pod would send: caller metadata claiming an administrator (never reaches a service).
FORGED = (("x-kuzet-subject", "intruder"), ("x-kuzet-roles", "admin,service"))

Attempt = Callable[[grpc.aio.Channel, str], Awaitable[Any]]


async def _alerting(channel: grpc.aio.Channel, marker: str) -> Any:
    event = new_event(
        "police",
        "badge_panic",
        common_pb2.Source(kind=common_pb2.SOURCE_KIND_BADGE, id=marker, site_id="unit-1"),
    )
    return await alerting_pb2_grpc.AlertingServiceStub(channel).Publish(
        alerting_pb2.PublishRequest(event=event), metadata=(*FORGED, ("x-kuzet-agency", "police")), timeout=5
    )


async def _identity(channel: grpc.aio.Channel, marker: str) -> Any:
    request = identity_pb2.CreateGalleryRequest(
        name=marker,
        kind=identity_pb2.GALLERY_KIND_WATCHLIST,
        purpose="mTLS test",
        legal_basis="none: must never be stored",
        owner="prison-admin",
        required_reviewers=2,
        expires_at=to_timestamp(utcnow() + timedelta(days=30)),
    )
    return await identity_pb2_grpc.IdentityServiceStub(channel).CreateGallery(
        request, metadata=(*FORGED, ("x-kuzet-agency", "prison")), timeout=5
    )


async def _ingest(channel: grpc.aio.Channel, marker: str) -> Any:
    camera = ingest_pb2.Camera(
        id=marker,
        agency_id="prison",
        site_id="site-1",
        name=marker,
        url="file:///nonexistent.mp4",
        enabled=False,
    )
    return await ingest_pb2_grpc.IngestServiceStub(channel).CreateCamera(
        ingest_pb2.CreateCameraRequest(camera=camera),
        metadata=(*FORGED, ("x-kuzet-agency", "prison")),
        timeout=5,
    )


async def _badge(channel: grpc.aio.Channel, marker: str) -> Any:
    return await badge_pb2_grpc.BadgeServiceStub(channel).RegisterBadge(
        badge_pb2.RegisterBadgeRequest(badge_id=marker, agency_id="police", unit_id="unit-1"),
        metadata=(*FORGED, ("x-kuzet-agency", "police")),
        timeout=5,
    )


async def _drone(channel: grpc.aio.Channel, marker: str) -> Any:
    drone = drone_pb2.Drone(
        drone_id=marker,
        agency_id="police",
        name=marker,
        home=common_pb2.GeoPoint(latitude=43.24, longitude=76.94),
        system_id=77,
        link_url="udpin:127.0.0.1:1",
    )
    return await drone_pb2_grpc.DroneServiceStub(channel).RegisterDrone(
        drone_pb2.RegisterDroneRequest(drone=drone),
        metadata=(*FORGED, ("x-kuzet-agency", "police")),
        timeout=5,
    )


async def _inference(channel: grpc.aio.Channel, marker: str) -> Any:
    # Inference keeps nothing: the attempt is a read, and nothing can change.
    return await inference_pb2_grpc.InferenceServiceStub(channel).ListModels(
        inference_pb2.ListModelsRequest(), metadata=FORGED, timeout=5
    )


# service -> (what an attacker tries there, the gateway route and user that would show its result)
SERVICES: dict[str, tuple[Attempt, str | None, str]] = {
    "alerting": (_alerting, "/api/v1/alerts", "police-admin"),
    "identity": (_identity, "/api/v1/galleries", "prison-admin"),
    "ingest": (_ingest, "/api/v1/cameras", "prison-admin"),
    "badge": (_badge, "/api/v1/badges", "police-admin"),
    "drone": (_drone, "/api/v1/drones", "police-admin"),
    "inference": (_inference, None, ""),
}


def _other_ca_client(directory: Path) -> TlsSettings:
    env = ensure_local_pki(directory, ["client"])["client"]
    return TlsSettings(
        cert=Path(env["KUZET_TLS_CERT"]), key=Path(env["KUZET_TLS_KEY"]), ca=Path(env["KUZET_TLS_CA"])
    )


def _bad_clients(address: str, platform_ca: bytes, elsewhere: TlsSettings) -> dict[str, grpc.aio.Channel]:
    return {
        "plaintext": grpc.aio.insecure_channel(address),
        # Trusts the platform's CA, so it would accept the server, but has no certificate to show.
        "no client certificate": grpc.aio.secure_channel(
            address, grpc.ssl_channel_credentials(root_certificates=platform_ca)
        ),
        "certificate of another CA": secure_channel(address, settings=elsewhere),
    }


def _platform_ca(platform: Platform) -> bytes:
    return Path(platform.launcher.client_tls_env["KUZET_TLS_CA"]).read_bytes()


async def _serving(channel: grpc.aio.Channel) -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    return int(reply.status)


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_only_clients_with_a_platform_certificate_connect(
    platform: Platform, service: str, tmp_path: Path
) -> None:
    attempt, route, user = SERVICES[service]
    address = platform.address(service)
    platform_ca = _platform_ca(platform)
    marker = f"mtls-{service}-{uuid.uuid4().hex[:10]}"

    for name, channel in _bad_clients(address, platform_ca, _other_ca_client(tmp_path / "elsewhere")).items():
        async with channel:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await attempt(channel, marker)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, f"{service}, {name}: {refused.value}"
            with pytest.raises(grpc.aio.AioRpcError) as probe:
                await _serving(channel)
            assert probe.value.code() == grpc.StatusCode.UNAVAILABLE, f"{service}, {name}: {probe.value}"

    # The process's own client certificate (the launcher's CA) gets through, verifying the
    # server's name (127.0.0.1) on the way.
    async with secure_channel(address) as good:
        assert await _serving(good) == health_pb2.HealthCheckResponse.SERVING

    if route is not None:
        with platform.api(user) as api:
            reply = api.get(route)
        assert reply.status_code == 200, reply.text
        assert marker not in reply.text, f"{service} stored what a client without a valid certificate sent"
