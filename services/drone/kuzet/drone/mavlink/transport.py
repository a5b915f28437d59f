"""Byte transports for a MAVLink link, on the asyncio loop (non-blocking sockets, epoll).

No thread per link: a datagram or a TCP chunk is parsed in its callback (a few microseconds per
message with pymavlink), which lets one process hold hundreds of links at 10 Hz.

URLs follow pymavlink's spelling from the ground station's side:
- "udpin:HOST:PORT": listen; replies go to whoever sent last (the vehicle's udpout).
- "udpout:HOST:PORT": send to the vehicle listening there.
- "tcp:HOST:PORT": connect to the vehicle (SITL style); reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

OnBytes = Callable[[bytes], None]


def parse_link_url(url: str) -> tuple[str, str, int]:
    """Validate a link URL; raises ValueError with the reason."""
    parts = url.split(":")
    if len(parts) != 3 or parts[0] not in ("udpin", "udpout", "tcp"):
        raise ValueError(f"link URL {url!r} must be udpin:HOST:PORT, udpout:HOST:PORT or tcp:HOST:PORT")
    kind, host, port_text = parts
    if not host:
        raise ValueError(f"link URL {url!r} has no host")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"link URL {url!r} has a bad port") from None
    if not 0 < port < 65536:
        raise ValueError(f"link URL {url!r} has a port outside 1..65535")
    return kind, host, port


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, owner: Transport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.owner.kind == "udpin":
            self.owner.peer = addr
        self.owner.on_bytes(data)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable while the vehicle is not listening: a lost packet, nothing more.
        pass


class _Tcp(asyncio.Protocol):
    def __init__(self, owner: Transport) -> None:
        self.owner = owner

    def data_received(self, data: bytes) -> None:
        self.owner.on_bytes(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner.tcp_lost()


class Transport:
    def __init__(self, url: str, on_bytes: OnBytes) -> None:
        self.kind, self.host, self.port = parse_link_url(url)
        self.url = url
        self.on_bytes = on_bytes
        self.peer: Any = None
        self._transport: Any = None
        self._tcp_task: asyncio.Task[None] | None = None
        self._closed = False

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        if self.kind == "udpin":
            self._transport, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(self.host, self.port)
            )
        elif self.kind == "udpout":
            self.peer = (self.host, self.port)
            self._transport, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self), remote_addr=(self.host, self.port)
            )
        else:
            self._tcp_task = asyncio.create_task(self._tcp_connect_loop())

    async def _tcp_connect_loop(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = 0.2
        while not self._closed:
            if self._transport is None:
                try:
                    self._transport, _ = await loop.create_connection(
                        lambda: _Tcp(self), self.host, self.port
                    )
                    backoff = 0.2
                except OSError:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
            await asyncio.sleep(0.5)

    def tcp_lost(self) -> None:
        self._transport = None

    def write(self, data: bytes) -> None:
        t = self._transport
        if t is None:
            return
        if self.kind == "tcp":
            t.write(data)
        elif self.kind == "udpout":
            t.sendto(data)
        elif self.peer is not None:
            t.sendto(data, self.peer)

    async def close(self) -> None:
        self._closed = True
        if self._tcp_task is not None:
            self._tcp_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tcp_task
        if self._transport is not None:
            self._transport.close()
            self._transport = None
