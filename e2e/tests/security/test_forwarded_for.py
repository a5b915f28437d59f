"""Forged X-Forwarded-For at the gateway: a client cannot pick the address its rate limit counts.

The gateway runs in this process behind an ASGI transport whose peer address the test chooses,
as a direct client or as the ingress would reach it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from kuzet.common.config import Endpoints
from kuzet.gateway.app import create_app
from kuzet.gateway.config import GatewaySettings
from kuzet.gateway.context import build_gateway

INGRESS = "10.20.0.7"
Client = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def client_from(tmp_path: Path) -> Client:
    settings = GatewaySettings(
        data_dir=tmp_path / "gateway",
        rate_limit_per_second=0.01,
        rate_limit_burst=3,
        trusted_proxies=["10.20.0.0/24"],
    )
    gw = build_gateway(settings, endpoints=Endpoints())
    app = create_app(settings, gateway=gw)

    @asynccontextmanager
    async def connect(peer: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client

    return connect


async def _codes(client: httpx.AsyncClient, forwarded: list[str]) -> list[int]:
    return [
        (await client.get("/api/v1/config", headers={"X-Forwarded-For": f})).status_code for f in forwarded
    ]


async def test_a_direct_client_cannot_escape_its_limit_with_forged_headers(client_from: Client) -> None:
    async with client_from("203.0.113.50") as attacker:
        forged = ["1.1.1.1", "2.2.2.2", "3.3.3.3, 10.20.0.7", "not-an-address", "4.4.4.4"]
        assert await _codes(attacker, forged) == [200, 200, 200, 429, 429]


async def test_clients_behind_the_ingress_are_limited_apart_and_cannot_forge_a_hop(
    client_from: Client,
) -> None:
    async with client_from(INGRESS) as ingress:
        # The client sent "9.9.9.<n>" itself; the ingress appended the address it saw.
        spoofed = [f"9.9.9.{n}, 198.51.100.1" for n in range(5)]
        assert await _codes(ingress, spoofed) == [200, 200, 200, 429, 429]
        assert await _codes(ingress, ["198.51.100.2"]) == [200]


async def test_oversized_and_garbage_forwarded_headers_get_no_server_error(client_from: Client) -> None:
    async with client_from(INGRESS) as ingress:
        headers: list[str | bytes] = [", ".join(["10.20.0.9"] * 2000), ",,,", "::::", b"\xc3\xa9\xff"]
        for header in headers:
            resp = await ingress.get("/api/v1/config", headers={"X-Forwarded-For": header})
            assert resp.status_code in (200, 429), (header[:40], resp.status_code)


def test_a_bad_trusted_proxy_setting_stops_the_gateway(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an IP address or CIDR range"):
        GatewaySettings(data_dir=tmp_path, trusted_proxies=["the-ingress"])
