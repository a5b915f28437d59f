"""The client address that rate limits count against.

Behind an ingress every request comes from the ingress's address, so all clients would share
one budget; X-Forwarded-For names the real client, but anyone can send that header. It is
believed only when the direct peer is one of the configured trusted proxies, and then only up
to the first hop that is not itself a trusted proxy (read from the right, as each proxy
appends the address it saw).
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from starlette.requests import HTTPConnection

Network = IPv4Network | IPv6Network


def parse_networks(values: Sequence[str]) -> list[Network]:
    """Addresses or CIDR ranges; a bad entry raises ValueError naming it."""
    out: list[Network] = []
    for value in values:
        try:
            out.append(ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or CIDR range") from None
    return out


def _address(value: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(value.strip())
    except ValueError:
        return None


def _trusted(address: IPv4Address | IPv6Address | None, proxies: Sequence[Network]) -> bool:
    return address is not None and any(address in net for net in proxies)


def client_address(peer: str, forwarded_for: Sequence[str], proxies: Sequence[Network]) -> str:
    """``peer`` unless it is a trusted proxy; then the nearest forwarded hop that is not."""
    if not _trusted(_address(peer), proxies):
        return peer
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # Garbage in the chain: what lies further left cannot be trusted either.
            return client
        client = str(address)
        if not _trusted(address, proxies):
            return client
    return client


def connection_address(conn: HTTPConnection, proxies: Sequence[Network]) -> str:
    peer = conn.client.host if conn.client else "?"
    return client_address(peer, conn.headers.getlist("x-forwarded-for"), proxies)
