"""Caller tokens at every gRPC service of the running platform (separate processes, each with its
own key from the launcher): forged, unsigned, plain, expired, replayed-to-another-service and
missing tokens are UNAUTHENTICATED with the reason, and the call changes nothing; a valid token
passes; health checks need none."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kuzet.common.caller import TOKEN_KEY, Caller, CallerTokens, caller_metadata
from kuzet.common.callerkeys import generate_keys, load_keyring
from kuzet.common.events import new_event
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.tls import secure_channel
from kuzet.common.v1 import common_pb2
from kuzet.e2e.platform import Platform

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

AGENCY = "police"
ADMIN = Caller("tokens-admin", AGENCY, frozenset({"admin", "service"}))
Metadata = list[tuple[str, str]]


@dataclass
class Target:
    """One service: a call that would change something, and a check that it did not."""

    attempt: Callable[[grpc.aio.Channel, Metadata], Awaitable[Any]]
    unchanged: Callable[[grpc.aio.Channel, Metadata], Awaitable[bool]]


async def _not_found(call: Awaitable[Any]) -> bool:
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc.code() == grpc.StatusCode.NOT_FOUND
    return False


def _targets(tag: str) -> dict[str, Target]:
    from kuzet.alerting.v1 import alerting_pb2, alerting_pb2_grpc
    from kuzet.badge.v1 import badge_pb2, badge_pb2_grpc
    from kuzet.drone.v1 import drone_pb2, drone_pb2_grpc
    from kuzet.identity.v1 import identity_pb2, identity_pb2_grpc
    from kuzet.inference.v1 import inference_pb2, inference_pb2_grpc
    from kuzet.ingest.v1 import ingest_pb2, ingest_pb2_grpc

    source = common_pb2.Source(kind=common_pb2.SOURCE_KIND_BADGE, id=tag, site_id="unit-1")

    async def alerts_without_it(ch: grpc.aio.Channel, md: Metadata) -> bool:
        listed = await alerting_pb2_grpc.AlertingServiceStub(ch).ListAlerts(
            alerting_pb2.ListAlertsRequest(), metadata=md
        )
        return all(a.source.id != tag for a in listed.alerts)

    async def galleries_without_it(ch: grpc.aio.Channel, md: Metadata) -> bool:
        listed = await identity_pb2_grpc.IdentityServiceStub(ch).ListGalleries(
            identity_pb2.ListGalleriesRequest(), metadata=md
        )
        return all(g.name != tag for g in listed.galleries)

    async def models_listed(ch: grpc.aio.Channel, md: Metadata) -> bool:
        # Inference keeps nothing: a valid token gets its answer.
        listed = await inference_pb2_grpc.InferenceServiceStub(ch).ListModels(
            inference_pb2.ListModelsRequest(), metadata=md
        )
        return bool(listed.models)

    return {
        "alerting": Target(
            lambda ch, md: alerting_pb2_grpc.AlertingServiceStub(ch).Publish(
                alerting_pb2.PublishRequest(event=new_event(AGENCY, "badge_panic", source)), metadata=md
            ),
            alerts_without_it,
        ),
        "badge": Target(
            lambda ch, md: badge_pb2_grpc.BadgeServiceStub(ch).RegisterBadge(
                badge_pb2.RegisterBadgeRequest(badge_id=tag, agency_id=AGENCY, unit_id="unit-1"), metadata=md
            ),
            lambda ch, md: _not_found(
                badge_pb2_grpc.BadgeServiceStub(ch).GetBadge(
                    badge_pb2.GetBadgeRequest(badge_id=tag), metadata=md
                )
            ),
        ),
        "drone": Target(
            lambda ch, md: drone_pb2_grpc.DroneServiceStub(ch).RegisterDrone(
                drone_pb2.RegisterDroneRequest(
                    drone=drone_pb2.Drone(
                        drone_id=tag,
                        agency_id=AGENCY,
                        name=tag,
                        home=common_pb2.GeoPoint(latitude=43.2, longitude=76.9),
                        system_id=77,
                        link_url="udpin:127.0.0.1:9",
                    )
                ),
                metadata=md,
            ),
            lambda ch, md: _not_found(
                drone_pb2_grpc.DroneServiceStub(ch).GetDrone(
                    drone_pb2.GetDroneRequest(drone_id=tag), metadata=md
                )
            ),
        ),
        "identity": Target(
            lambda ch, md: identity_pb2_grpc.IdentityServiceStub(ch).CreateGallery(
                identity_pb2.CreateGalleryRequest(
                    name=tag,
                    kind=identity_pb2.GALLERY_KIND_WATCHLIST,
                    purpose="token test",
                    legal_basis="none: must never be stored",
                    owner="tokens-admin",
                    required_reviewers=2,
                    expires_at=to_timestamp(utcnow() + timedelta(days=7)),
                ),
                metadata=md,
            ),
            galleries_without_it,
        ),
        "inference": Target(
            lambda ch, md: inference_pb2_grpc.InferenceServiceStub(ch).ListModels(
                inference_pb2.ListModelsRequest(), metadata=md
            ),
            models_listed,
        ),
        "ingest": Target(
            lambda ch, md: ingest_pb2_grpc.IngestServiceStub(ch).CreateCamera(
                ingest_pb2.CreateCameraRequest(
                    camera=ingest_pb2.Camera(
                        id=tag,
                        agency_id=AGENCY,
                        site_id="unit-1",
                        name=tag,
                        url="rtsp://127.0.0.1:9/none",
                        analytic_fps=1,
                        enabled=False,
                    )
                ),
                metadata=md,
            ),
            lambda ch, md: _not_found(
                ingest_pb2_grpc.IngestServiceStub(ch).GetCamera(
                    ingest_pb2.GetCameraRequest(camera_id=tag), metadata=md
                )
            ),
        ),
    }


SERVICES = sorted(_targets("x"))


def _bad_tokens(service: str, keys: Path, elsewhere: Path) -> dict[str, tuple[Metadata, str]]:
    """Each bad caller for ``service``: its metadata and the reason the service must give."""
    real = CallerTokens(load_keyring(keys / "jwks.json", keys / "tests.pem"))
    # A key of the same name as a real service's that is not the platform's, and a stranger's.
    forger = CallerTokens(load_keyring(elsewhere / "jwks.json", elsewhere / "gateway.pem"))
    stranger = CallerTokens(load_keyring(elsewhere / "jwks.json", elsewhere / "mallory.pem"))
    claims = jwt.decode(real.mint(ADMIN, service), options={"verify_signature": False})
    other = next(s for s in SERVICES if s != service)
    return {
        "forged": ([(TOKEN_KEY, forger.mint(ADMIN, service))], "signature does not verify"),
        "unknown key": ([(TOKEN_KEY, stranger.mint(ADMIN, service))], "unknown key 'mallory'"),
        "unsigned": (
            [(TOKEN_KEY, jwt.encode(claims, None, algorithm="none", headers={"kid": "tests"}))],
            "algorithm 'none' is not accepted",
        ),
        "plain metadata": (
            [
                ("x-kuzet-subject", ADMIN.subject),
                ("x-kuzet-agency", AGENCY),
                ("x-kuzet-roles", "admin,service"),
            ],
            "no caller token",
        ),
        "expired": ([(TOKEN_KEY, real.mint(ADMIN, service, now=time.time() - 120))], "caller token expired"),
        "replayed to another service": (
            [(TOKEN_KEY, real.mint(ADMIN, other))],
            f"audience {other!r}, not {service!r}",
        ),
        "missing": ([], "no caller token"),
    }


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("elsewhere-keys")
    generate_keys(directory, ["gateway", "mallory"])
    return directory


@pytest.mark.parametrize("service", SERVICES)
async def test_only_a_valid_token_for_this_service_gets_in(
    platform: Platform, caller_keys_dir: Path, elsewhere: Path, service: str
) -> None:
    tag = f"tok-{service}-{uuid.uuid4().hex[:8]}"
    target = _targets(tag)[service]
    valid = caller_metadata(ADMIN, audience=service)
    async with secure_channel(platform.address(service)) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        for kind, (metadata, reason) in _bad_tokens(service, caller_keys_dir, elsewhere).items():
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await target.attempt(channel, metadata)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED, (service, kind, err.value.details())
            assert reason in (err.value.details() or ""), (service, kind, err.value.details())
            assert await target.unchanged(channel, valid), (service, kind)
