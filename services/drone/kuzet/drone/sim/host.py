"""Runs many simulated vehicles in one thread: one socket each, polled with a selector.

Link URLs are from the vehicle's side:
- "udpout:HOST:PORT": send to a ground station listening there (the service uses udpin).
- "udpin:HOST:PORT":  listen there and answer whoever spoke last (the service uses udpout).
- "tcpin:HOST:PORT":  accept one TCP client at a time, like SITL's serial-over-TCP (service: tcp).
"""

from __future__ import annotations

import contextlib
import functools
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

from kuzet.drone.sim.vehicle import SimVehicle, VehicleConfig

TICK_S = 0.01


@dataclass
class _Endpoint:
    kind: str
    sock: socket.socket
    peer: tuple[str, int] | None = None
    client: socket.socket | None = None
    vehicle: SimVehicle | None = None
    pending: list[bytes] = field(default_factory=list)


def _split(url: str) -> tuple[str, str, int]:
    kind, host, port = url.split(":")
    return kind, host, int(port)


class SimHost:
    """Owns vehicles and their sockets; call start() then stop()."""

    def __init__(self) -> None:
        self._sel = selectors.DefaultSelector()
        self._endpoints: list[_Endpoint] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        # By system id (unique per host in tests) and in the order added (benchmarks reuse ids).
        self.vehicles: dict[int, SimVehicle] = {}
        self.ordered: list[SimVehicle] = []

    def add(self, config: VehicleConfig, link_url: str) -> SimVehicle:
        kind, host, port = _split(link_url)
        if kind == "udpout":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((host, 0))
            ep = _Endpoint(kind, sock, peer=(host, port))
        elif kind == "udpin":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            ep = _Endpoint(kind, sock)
        elif kind == "tcpin":
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(1)
            ep = _Endpoint(kind, sock)
        else:
            raise ValueError(f"unsupported simulator link {link_url!r}")
        sock.setblocking(False)
        vehicle = SimVehicle(config, functools.partial(self._send, ep))
        ep.vehicle = vehicle
        with self._lock:
            self._endpoints.append(ep)
            self._sel.register(sock, selectors.EVENT_READ, ep)
            self.vehicles[config.system_id] = vehicle
            self.ordered.append(vehicle)
        return vehicle

    def bound_port(self, system_id: int) -> int:
        for ep in self._endpoints:
            if ep.vehicle is not None and ep.vehicle.config.system_id == system_id:
                return int(ep.sock.getsockname()[1])
        raise KeyError(system_id)

    def _send(self, ep: _Endpoint, data: bytes) -> None:
        try:
            if ep.kind == "tcpin":
                if ep.client is not None:
                    ep.client.sendall(data)
            elif ep.peer is not None:
                ep.sock.sendto(data, ep.peer)
        except (BlockingIOError, ConnectionRefusedError):
            pass  # UDP to a ground station that is not listening yet: lost, as on a radio
        except OSError:
            if ep.kind == "tcpin" and ep.client is not None:
                self._drop_client(ep)

    def _drop_client(self, ep: _Endpoint) -> None:
        if ep.client is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(ep.client)
            ep.client.close()
            ep.client = None

    def start(self) -> SimHost:
        self._thread = threading.Thread(target=self._run, name="mavlink-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for ep in self._endpoints:
            self._drop_client(ep)
            ep.sock.close()
        self._sel.close()

    def __enter__(self) -> SimHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                events = self._sel.select(timeout=TICK_S)
            for key, _ in events:
                ep: _Endpoint = key.data
                self._readable(ep, key.fileobj)  # type: ignore[arg-type]
            now = time.monotonic()
            if now - last >= TICK_S:
                dt, last = now - last, now
                for ep in self._endpoints:
                    v = ep.vehicle
                    assert v is not None
                    if v.active:
                        v.step(dt)
                    if now >= v.wake:
                        v.due_messages(now)

    def _readable(self, ep: _Endpoint, sock: socket.socket) -> None:
        v = ep.vehicle
        assert v is not None
        if ep.kind == "tcpin" and sock is ep.sock:
            client, _ = sock.accept()
            self._drop_client(ep)
            client.setblocking(False)
            ep.client = client
            self._sel.register(client, selectors.EVENT_READ, ep)
            return
        try:
            if ep.kind == "tcpin":
                data = sock.recv(65536)
                if not data:
                    self._drop_client(ep)
                    return
                v.receive(data)
                return
            for _ in range(64):  # drain what is queued without starving the clock
                data, addr = sock.recvfrom(65536)
                if ep.kind == "udpin" and v.link_up:
                    ep.peer = addr
                v.receive(data)
        except (BlockingIOError, ConnectionRefusedError, ConnectionResetError):
            pass
