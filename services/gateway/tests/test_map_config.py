"""The live map's base layer setting: what /api/v1/config says, and what the content policy allows."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kuzet.gateway.config import GatewaySettings


async def test_no_tile_server_means_site_plans_only(gateway_factory: Any) -> None:
    gw = await gateway_factory()
    resp = await gw.client.get("/api/v1/config")
    assert resp.json()["map"] == {"tile_url": None, "attribution": "", "max_zoom": 19}
    assert "img-src 'self' data: blob:;" in resp.headers["content-security-policy"]


async def test_the_agencys_tile_server_is_named_and_allowed(gateway_factory: Any) -> None:
    url = "https://tiles.prison.example:8443/osm/{z}/{x}/{y}.png"
    gw = await gateway_factory(map_tile_url=url, map_tile_attribution="© OpenStreetMap contributors")
    resp = await gw.client.get("/api/v1/config")
    assert resp.json()["map"]["tile_url"] == url
    policy = resp.headers["content-security-policy"]
    assert "img-src 'self' data: blob: https://tiles.prison.example:8443;" in policy
    # Only images: scripts and connections stay with the gateway.
    assert "script-src 'self';" in policy and "connect-src 'self' ws: wss:;" in policy


@pytest.mark.parametrize(
    "url",
    ["tiles.example/{z}/{x}/{y}.png", "https://tiles.example/tile.png", "javascript:alert(1)/{z}/{x}/{y}"],
)
def test_a_tile_url_must_be_http_with_its_placeholders(url: str) -> None:
    with pytest.raises(ValidationError, match="map_tile_url"):
        GatewaySettings(map_tile_url=url)
