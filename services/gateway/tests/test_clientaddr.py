"""Rate limits count X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kuzet.gateway.clientaddr import client_address, parse_networks
from kuzet.gateway.config import GatewaySettings

PROXIES = parse_networks(["10.0.0.0/8", "fd00::1"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # Not from a proxy: the header is the client's own claim and is ignored.
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        ("10.1.2.3", [], "10.1.2.3"),
        ("10.1.2.3", ["198.51.100.1"], "198.51.100.1"),
        # A client that prepends a forged hop: the ingress appended the real one on the right.
        ("10.1.2.3", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
        # Two proxies in the chain, and the header split over two lines.
        ("10.1.2.3", ["198.51.100.1", "10.9.9.9"], "198.51.100.1"),
        ("fd00::1", ["2001:db8::5"], "2001:db8::5"),
        # Garbage stops the walk at the last address a trusted proxy vouched for.
        ("10.1.2.3", ["198.51.100.1, not-an-ip"], "10.1.2.3"),
        ("10.1.2.3", ["not-an-ip, 10.4.4.4"], "10.4.4.4"),
        ("10.1.2.3", ["10.4.4.4"], "10.4.4.4"),
    ],
)
def test_client_address(peer: str, forwarded: list[str], expected: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


def test_a_bad_trusted_proxy_setting_is_refused_with_its_value() -> None:
    with pytest.raises(ValidationError, match="'ingress' is not an IP address or CIDR range"):
        GatewaySettings(trusted_proxies=["10.0.0.0/8", "ingress"])


async def _codes(gw: Any, forwarded: list[str]) -> list[int]:
    return [
        (await gw.client.get("/api/v1/config", headers={"X-Forwarded-For": f})).status_code for f in forwarded
    ]


async def test_rate_limit_buckets_follow_trusted_forwarded_addresses(gateway_factory: Any) -> None:
    # The test client's peer address is 127.0.0.1.
    behind = await gateway_factory(
        rate_limit_per_second=0.01, rate_limit_burst=2, trusted_proxies=["127.0.0.1"]
    )
    assert await _codes(behind, ["198.51.100.1"] * 3) == [200, 200, 429]
    assert await _codes(behind, ["198.51.100.2"]) == [200]  # another client behind the same proxy
    direct = await gateway_factory(rate_limit_per_second=0.01, rate_limit_burst=2)
    # Without trusted proxies a client cannot buy a fresh budget with a made-up header.
    assert await _codes(direct, ["198.51.100.1", "198.51.100.2", "198.51.100.3"]) == [200, 200, 429]
