"""POST /api/v1/federation/searches and the console's facilities search, through a real hub:
its federation service and nats-server, one facility joined to it as a leaf node (its own
nats-server, federation service, identity and the shipped face models), and a second facility
whose release is not running. The three-release tests are in services/federation/tests."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kuzet.common.caller import Caller
from kuzet.common.config import Endpoints
from kuzet.common.grpcclient import open_channel
from kuzet.common.grpcserver import GrpcServer
from kuzet.common.testdata import face_photos
from kuzet.common.testing import free_port_number
from kuzet.common.timeutil import to_timestamp
from kuzet.federation.config import FederationSettings
from kuzet.federation.natstesting import NatsServer, wait_for_leafs
from kuzet.federation.server import build as build_federation
from kuzet.identity.v1 import identity_pb2, identity_pb2_grpc
from kuzet.inference.config import InferenceSettings
from kuzet.inference.server import build as build_inference

from .conftest import SCREENSHOTS

pytestmark = pytest.mark.slow

RUNNING, DOWN = "north-1", "east-3"
PURPOSE = "case 2026/118: escape from north-1"
ADMIN = Caller("admin-north", "prison", frozenset({"admin"}))


@dataclass
class Hub:
    federation: GrpcServer
    person_id: str


async def _federation(
    root: Path, name: str, *, alerting: str, identity: str | None = None, **settings: Any
) -> GrpcServer:
    server = await build_federation(
        FederationSettings(
            site_id=name,
            port=free_port_number(),
            data_dir=root / name,
            database_url=f"sqlite:///{root / (name + '-federation.db')}",
            forward_watchlists=False,
            apply_watchlists=False,
            **settings,
        ),
        alerting_address=alerting,
        identity_address=identity,
    )
    await server.start()
    return server


async def _enrol(identity_address: str) -> str:
    """The facility's own watchlist entry, which no hub ever sent it."""
    channel = open_channel(identity_address, audience="identity", caller=ADMIN)
    try:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        gallery = await stub.CreateGallery(
            identity_pb2.CreateGalleryRequest(
                name="escapees",
                kind=identity_pb2.GALLERY_KIND_WATCHLIST,
                purpose="find escaped inmates",
                legal_basis="Penal Code art. 83",
                owner="warden-12",
                expires_at=to_timestamp(datetime.now(UTC) + timedelta(days=30)),
            )
        )
        photo = await asyncio.to_thread(face_photos()["obama"][0].read_bytes)
        enrolled = await stub.EnrolPerson(
            identity_pb2.EnrolPersonRequest(
                gallery_id=gallery.gallery.gallery_id,
                external_id="A-1047",
                display_name="Inmate A-1047",
                images=[identity_pb2.FaceImage(image=photo)],
            )
        )
        assert enrolled.results[0].accepted
        return enrolled.person.person_id
    finally:
        await channel.close()


@pytest.fixture
async def hub(backing: Any, identity_starter: Any, tmp_path: Path) -> AsyncIterator[Hub]:
    inference = await build_inference(
        InferenceSettings(port=free_port_number(), data_dir=tmp_path / "inference")
    )
    inference_address = await inference.start()
    identity = await identity_starter(tmp_path / "identity", backing.alerting_address, inference_address)
    hub_nats = NatsServer(tmp_path / "nats-hub", "hub", leaf_listen=True)
    hub_nats.start()
    hub_nats_leaf = hub_nats.leaf_port
    facility_nats = NatsServer(tmp_path / f"nats-{RUNNING}", RUNNING, leaf_remote=hub_nats_leaf)
    facility_nats.start()
    servers: list[GrpcServer] = []
    try:
        await wait_for_leafs(hub_nats, 1)
        servers.append(
            await _federation(
                tmp_path,
                RUNNING,
                nats_url=facility_nats.url,
                alerting=backing.alerting_address,
                identity=identity.address,
                audit_services=[],
            )
        )
        servers.append(
            await _federation(
                tmp_path,
                "hub",
                role="hub",
                nats_url=hub_nats.url,
                facilities=[RUNNING, DOWN],
                search_timeout_s=1.0,
                alerting=backing.alerting_address,
            )
        )
        yield Hub(servers[-1], await _enrol(identity.address))
    finally:
        for server in reversed(servers):
            await server.stop(0)
        facility_nats.stop()
        hub_nats.stop()
        await identity.stop(0)
        await inference.stop(0)


def _photo() -> str:
    return base64.b64encode(face_photos()["obama"][1].read_bytes()).decode()


async def test_a_search_finds_a_facilitys_entry_reports_the_unreachable_one_and_is_in_the_hubs_trail(
    gateway_factory: Any, hub: Hub
) -> None:
    gw = await gateway_factory(Endpoints(federation=hub.federation.address))

    resp = await gw.client.post(
        "/api/v1/federation/searches",
        json={"image": _photo(), "purpose": PURPOSE},
        headers=gw.auth("prison-investigator"),
    )

    assert resp.status_code == 200, resp.text
    body = resp.json()
    running, down = body["results"]
    assert (running["site"], running["status"]) == (RUNNING, "SITE_STATUS_OK")
    assert running["candidates"][0]["person_id"] == hub.person_id
    assert running["candidates"][0]["external_id"] == "A-1047"
    assert (down["site"], down["status"]) == (DOWN, "SITE_STATUS_UNREACHABLE")
    trail = await gw.client.get(
        "/api/v1/audit",
        params={"service": "federation", "action_prefix": "federation.search"},
        headers=gw.auth("prison-auditor"),
    )
    assert trail.status_code == 200, trail.text
    (record,) = trail.json()["records"]
    assert record["seq"] == body["audit_seq"]
    assert "prison-investigator" in record["actor"]
    assert record["details"]["purpose"] == PURPOSE
    assert [s["status"] for s in record["details"]["sites"]] == ["SITE_STATUS_OK", "SITE_STATUS_UNREACHABLE"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"image": "not base64!", "purpose": "case 7"}, "image must be base64"),
        ({"image": "aGVsbG8=", "purpose": "case 7", "sites": ["west-9"]}, "west-9"),
        ({"image": "aGVsbG8=", "purpose": ""}, "purpose"),
    ],
    ids=["bad-image", "unknown-site", "no-purpose"],
)
async def test_bad_searches_are_400_with_the_reason(
    gateway_factory: Any, hub: Hub, body: dict[str, Any], message: str
) -> None:
    gw = await gateway_factory(Endpoints(federation=hub.federation.address))
    resp = await gw.client.post(
        "/api/v1/federation/searches", json=body, headers=gw.auth("prison-investigator")
    )
    assert resp.status_code == 400, resp.text
    assert message in resp.text


@pytest.mark.browser
async def test_an_investigator_searches_the_facilities_from_the_console(
    browser: Any, gateway_factory: Any, serve_app: Any, sign_in: Any, hub: Hub, tmp_path: Path
) -> None:
    gw = await gateway_factory(Endpoints(federation=hub.federation.address))
    photo = tmp_path / "probe.jpg"
    photo.write_bytes(base64.b64decode(_photo()))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with serve_app(gw.app) as base:
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await sign_in(page, base, "prison-investigator")
        await page.click('#tabs button[data-view="sites-search"]')

        # No purpose: nothing is sent.
        await page.set_input_files("#site-search-photo", str(photo))
        await page.click("#site-search-button")
        assert "A purpose is required" in await page.locator("#site-search-error").inner_text()

        await page.fill("#site-search-purpose", PURPOSE)
        await page.click("#site-search-button")
        found = page.locator(f'#site-search-rows tr[data-site="{RUNNING}"]')
        await found.wait_for()
        text = await found.inner_text()
        assert "found" in text and "A-1047 · Inmate A-1047" in text and "above threshold" in text
        assert (
            "unreachable: not searched"
            in await page.locator(f'#site-search-rows tr[data-site="{DOWN}"]').inner_text()
        )
        assert "on record" in await page.locator("#site-search-note").inner_text()
        await page.screenshot(path=str(SCREENSHOTS / "25-facilities-search.png"), full_page=True)

        # An operator has no such tab.
        await page.click("#signout")
        await sign_in(page, base, "prison-operator")
        assert await page.locator('#tabs button[data-view="sites-search"]').count() == 0
        assert errors == []
