"""Federations on one machine for tests and benchmarks: nats-server processes (JetStream in their
own domains, facilities as leaf nodes of the hub) and a WAN link that can be cut.

Each server gets its own port and store directory; nothing here touches another NATS server on
the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsServer:
    """One release's nats-server, JetStream in ``domain``; a leaf node of ``leaf_remote`` if given,
    listening for leaf nodes of its own with ``leaf_listen`` (a region: both)."""

    def __init__(
        self,
        workdir: Path,
        domain: str,
        *,
        leaf_listen: bool = False,
        leaf_advertise: int = 0,
        leaf_remote: int = 0,
    ) -> None:
        self.domain = domain
        self.port = free_port()
        self.leaf_port = free_port() if leaf_listen else 0
        workdir.mkdir(parents=True, exist_ok=True)
        parts = []
        if leaf_listen:
            # Leaf nodes learn the advertised address and reconnect there: the WAN link's, so that
            # a cut link stays cut.
            advertise = leaf_advertise or self.leaf_port
            parts.append(f"listen: 127.0.0.1:{self.leaf_port}, advertise: '127.0.0.1:{advertise}'")
        if leaf_remote:
            parts.append(f"reconnect: 1, remotes: [ {{ url: 'nats-leaf://127.0.0.1:{leaf_remote}' }} ]")
        leaf = f"leafnodes {{ {', '.join(parts)} }}" if parts else ""
        self.config = workdir / "nats.conf"
        self.config.write_text(
            f"listen: 127.0.0.1:{self.port}\nserver_name: {domain}\n"
            f"jetstream {{ domain: {domain}, store_dir: '{workdir / 'js'}' }}\n{leaf}\n"
        )
        self.log = workdir / "nats.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([NATS_SERVER, "-c", str(self.config)], stdout=out, stderr=out)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nats-server {self.domain} did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


class WanLink:
    """A TCP relay to the hub's leaf port: ``cut()`` drops every connection and refuses new ones."""

    def __init__(self) -> None:
        self.port = free_port()
        self.target_port = 0
        self.up = True
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self, target_port: int) -> None:
        self.target_port = target_port
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        handler.add_done_callback(self._handlers.discard)
        if not self.up:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    def cut(self) -> None:
        self.up = False
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        self.up = True

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        # The aborted connections end their handlers; wait for them, so none is left to the
        # event loop's shutdown.
        await asyncio.gather(*self._handlers, return_exceptions=True)


@dataclass
class Topology:
    """A hub's nats-server and its facilities', the ``linked`` ones reaching it through ``link``."""

    hub: NatsServer
    facilities: dict[str, NatsServer]
    link: WanLink

    def stop(self) -> None:
        for server in [*self.facilities.values(), self.hub]:
            server.stop()


async def start_topology(workdir: Path, hub: str, sites: list[str], linked: list[str]) -> Topology:
    """Start the servers and wait until every facility is a leaf node of the hub."""
    link = WanLink()
    hub_server = NatsServer(workdir / hub, hub, leaf_listen=True, leaf_advertise=link.port)
    hub_server.start()
    topology = Topology(hub_server, {}, link)
    try:
        await link.start(hub_server.leaf_port)
        for site in sites:
            remote = link.port if site in linked else hub_server.leaf_port
            server = NatsServer(workdir / site, site, leaf_remote=remote)
            topology.facilities[site] = server
            server.start()
        await wait_for_leafs(hub_server, len(sites))
    except BaseException:
        await link.close()
        topology.stop()
        raise
    return topology


async def wait_for_leafs(hub: NatsServer, count: int, timeout_s: float = 15.0) -> None:
    """Until ``count`` leaf nodes are connected to the hub (its log says so)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if hub.log.read_text().count("Leafnode connection created") >= count:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{count} leaf nodes did not connect to the hub: {hub.log.read_text()[-2000:]}")
