"""Runs Kuzet services as separate local processes: `kuzet up`, the demo and the e2e tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

from kuzet.common.grpcserver import ServiceSpec

GROUP = "kuzet.services"


def installed_services() -> dict[str, ServiceSpec]:
    """Every service installed in this environment, in start order (dependencies first).

    A service whose code cannot be imported is left out, loudly: nothing pretends to run.
    """
    specs = []
    for ep in entry_points(group=GROUP):
        try:
            specs.append(ep.load())
        except ImportError as exc:
            print(f"warning: service {ep.name} is installed but cannot be loaded: {exc}", file=sys.stderr)
    return {spec.name: spec for spec in sorted(specs, key=lambda s: (s.order, s.name))}


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


@dataclass
class Launcher:
    """Starts services in dependency order, each with its own log file, and stops them all."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.logs = self.data_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.specs = installed_services()

    def port_of(self, name: str) -> int:
        if name in self.ports:
            return self.ports[name]
        override = self.env.get(f"KUZET_{name.upper()}_PORT") or os.environ.get(f"KUZET_{name.upper()}_PORT")
        return int(override) if override else self.specs[name].default_port

    def environment(self) -> dict[str, str]:
        env = {**os.environ, "KUZET_DATA_DIR": str(self.data_dir), **self.env}
        for name in self.specs:
            port = self.port_of(name)
            env[f"KUZET_{name.upper()}_PORT"] = str(port)
            if self.specs[name].protocol == "grpc":
                env[f"KUZET_ENDPOINT_{name.upper()}"] = f"127.0.0.1:{port}"
            else:
                env[f"KUZET_ENDPOINT_{name.upper()}"] = f"http://127.0.0.1:{port}"
        return env

    def spawn(self, name: str) -> None:
        if name not in self.specs:
            raise KeyError(f"service {name!r} is not installed (installed: {', '.join(self.specs)})")
        out = (self.logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "kuzet.common.cli", "serve", name],
            env=self.environment(),
            stdout=out,
            stderr=out,
        )
        out.close()

    def wait_ready(self, name: str, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while not port_open(self.port_of(name)):
            if self.procs[name].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start: see {self.logs / (name + '.log')}")
            time.sleep(0.1)

    def start(self, name: str, ready_timeout: float = 180.0) -> None:
        self.spawn(name)
        self.wait_ready(name, ready_timeout)

    def start_all(self, only: list[str] | None = None) -> list[str]:
        """Start the chosen services together (each retries its dependencies until they are up)."""
        chosen = [n for n in self.specs if not only or n in only]
        for name in chosen:
            self.spawn(name)
        for name in chosen:
            self.wait_ready(name)
        return chosen

    def url(self, name: str) -> str:
        scheme = "http://" if self.specs[name].protocol == "http" else ""
        return f"{scheme}127.0.0.1:{self.port_of(name)}"

    def exited(self) -> dict[str, int]:
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop(name)
