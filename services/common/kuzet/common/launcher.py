"""Runs Kuzet services as separate local processes: `kuzet up`, the demo and the e2e tests.

On one machine the launcher does for the platform what Kubernetes does for the chart: N replicas
of a service run as N processes (each its own port, log file and pod name, sharing the service's
database and object store under the data directory), other services reach them through one
multi-address gRPC target, and a supervisor restarts a replica that exits, with capped
exponential backoff, while every other process keeps running. Services speak mTLS with
certificates from a CA the launcher makes once in the data directory (``tls/``), one certificate
per service and one for clients (``client``: CLI tools, sims, tests).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from kuzet.common.auditkeys import ensure_local_key_file
from kuzet.common.caller import CallerTokens, use_caller_tokens
from kuzet.common.callerkeys import JWKS_FILE, SERVICES, generate_keys, load_keyring
from kuzet.common.config import PLAINTEXT_DEV
from kuzet.common.grpcserver import ServiceSpec
from kuzet.common.tls import ensure_local_pki

GROUP = "kuzet.services"
# What the supervisor last saw of every process, for `kuzet status` and anyone watching the platform.
STATUS_FILE = "supervisor.json"
# Replica i listens on replica 0's port + i * PORT_STRIDE: the default ports (50051-50065, 8080)
# leave that much room, so replicas never land on another service's port.
PORT_STRIDE = 100
# Listeners besides the main port (setting suffix -> the service's own default), which every
# replica needs a port of its own for: kuzet.badge.config.BadgeSettings.device_port.
SIDE_PORTS: dict[str, dict[str, int]] = {"badge": {"DEVICE_PORT": 50065}}
# Caller-token keys, made once under the data directory (KUZET_CALLER_KEYS_DIR names others);
# "tools" is the issuer of the clients this machine runs (sims, benches, `kuzet <tool>`).
CALLER_KEYS_DIR = "caller-keys"
TOOLS_ISSUER = "tools"
# The local CA and certificates, under the data directory; "client" is the holder for clients.
TLS_DIR = "tls"
CLIENT = "client"

Report = Callable[[str], None]


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse_replicas(text: str) -> dict[str, int]:
    """``identity=2,ingest=2`` -> {"identity": 2, "ingest": 2}; ValueError naming a bad entry."""
    out: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, count = item.partition("=")
        if not sep or not count.strip().isdigit() or int(count) < 1:
            raise ValueError(f"bad replica count {item!r}: expected <service>=<n>, n >= 1")
        out[name.strip()] = int(count)
    return out


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


@dataclass(frozen=True)
class Backoff:
    """Restart delays: ``initial_s`` doubling per quick failure up to ``cap_s`` (as the kubelet does)."""

    initial_s: float = 1.0
    cap_s: float = 30.0
    # A process that ran this long before it exited starts again from ``initial_s``.
    reset_after_s: float = 60.0

    def delay(self, failures: int) -> float:
        return float(min(self.cap_s, self.initial_s * 2 ** max(0, failures - 1)))


@dataclass(frozen=True)
class Unit:
    """One process: replica ``index`` of ``count`` of ``service``."""

    service: str
    index: int
    count: int

    @property
    def pod_name(self) -> str:
        return f"{self.service}-{self.index}"

    @property
    def key(self) -> str:
        """The process's name in the launcher and its log file: a lone replica keeps the service's."""
        return self.service if self.count == 1 else self.pod_name


@dataclass
class _Process:
    unit: Unit
    port: int
    side_ports: dict[str, int]
    proc: subprocess.Popen[bytes] | None = None
    state: str = "stopped"  # starting | running | backoff | stopped
    started_at: float = 0.0
    restarts: int = 0
    failures: int = 0
    last_exit: str | None = None
    next_start_at: float | None = None

    def status(self, now: float) -> dict[str, Any]:
        return {
            "service": self.unit.service,
            "replica": self.unit.pod_name,
            "state": self.state,
            "pid": self.proc.pid if self.proc and self.proc.poll() is None else None,
            "port": self.port,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "restart_in_s": round(max(0.0, self.next_start_at - now), 1) if self.next_start_at else None,
        }


@dataclass
class Launcher:
    """Starts services in dependency order, each replica with its own log file, and stops them all.

    ``ports`` fixes replica 0's port of a service; ``free_ports`` gives every listener a free port
    instead of the defaults (tests). ``replicas`` runs that many processes of a service.
    """

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    replicas: dict[str, int] = field(default_factory=dict)
    free_ports: bool = False
    backoff: Backoff = field(default_factory=Backoff)
    # Where supervision says what it did (`kuzet up` prints it beside its own output).
    report: Report = _to_stderr

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.logs = self.data_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.status_path = self.data_dir / STATUS_FILE
        self.specs = installed_services()
        for name, count in self.replicas.items():
            if name not in self.specs:
                raise KeyError(f"service {name!r} is not installed (installed: {', '.join(self.specs)})")
            if count > 1 and self.specs[name].protocol != "grpc":
                raise ValueError(f"{name} serves {self.specs[name].protocol}: run one, behind one port")
        self._lock = threading.RLock()
        self._processes = {p.unit.key: p for p in self._plan()}
        self.caller_keys = self._ensure_caller_keys()
        self._tls_env = self._make_certificates()
        self._supervisor: threading.Thread | None = None
        self._closing = threading.Event()

    # -------------------------------------------------------------------------- layout ---

    def _plan(self) -> list[_Process]:
        planned = []
        for name in self.specs:
            count = self.replicas.get(name, 1)
            base = self._base_port(name)
            for i in range(count):
                unit = Unit(name, i, count)
                sides = {
                    setting: free_port()
                    if self.free_ports
                    else self._side_base(name, setting, default) + i * PORT_STRIDE
                    for setting, default in SIDE_PORTS.get(name, {}).items()
                }
                port = base if i == 0 else (free_port() if self.free_ports else base + i * PORT_STRIDE)
                planned.append(_Process(unit, port, sides))
        return planned

    def _make_certificates(self) -> dict[str, dict[str, str]]:
        """``KUZET_TLS_*`` per service and for clients; none when plaintext-dev is asked for."""
        if self._setting("KUZET_TLS_MODE") == PLAINTEXT_DEV:
            return {}
        return ensure_local_pki(self.data_dir / TLS_DIR, [*self.specs, CLIENT])

    @property
    def client_tls_env(self) -> dict[str, str]:
        """The ``KUZET_TLS_*`` settings with which a client reaches these services (empty in plaintext-dev)."""
        return dict(self._tls_env.get(CLIENT, {}))

    def use_client_certificate(self) -> None:
        """Make this process's clients (open_channel) present the launcher's client certificate."""
        os.environ.update(self.client_tls_env)

    def _ensure_caller_keys(self) -> Path:
        given = self._setting("KUZET_CALLER_KEYS_DIR")
        directory = Path(given).resolve() if given else self.data_dir / CALLER_KEYS_DIR
        if not (directory / JWKS_FILE).exists():
            generate_keys(directory, list(dict.fromkeys([*SERVICES, *self.specs, TOOLS_ISSUER])))
        return directory

    def use_tools_key(self) -> None:
        """This process's clients (sims, benches, the demo) mint caller tokens with the tools key,
        unless the process has a key of its own (KUZET_CALLER_SIGNING_KEY: the tests')."""
        env = local_client_caller_keys(self.caller_keys)
        if env and not os.environ.get("KUZET_CALLER_SIGNING_KEY"):
            keyring = load_keyring(Path(env["KUZET_CALLER_JWKS"]), Path(env["KUZET_CALLER_SIGNING_KEY"]))
            use_caller_tokens(CallerTokens(keyring))

    def _setting(self, name: str) -> str | None:
        return self.env.get(name) or os.environ.get(name)

    def _base_port(self, service: str) -> int:
        if service in self.ports:
            return self.ports[service]
        if self.free_ports:
            return free_port()
        override = self._setting(f"KUZET_{service.upper()}_PORT")
        return int(override) if override else self.specs[service].default_port

    def _side_base(self, service: str, setting: str, default: int) -> int:
        override = self._setting(f"KUZET_{service.upper()}_{setting}")
        return int(override) if override else default

    def units(self, service: str | None = None) -> list[Unit]:
        return [p.unit for p in self._processes.values() if service in (None, p.unit.service)]

    def port_of(self, name: str) -> int:
        """The port of a process (its key) or of a service's first replica."""
        if name in self._processes:
            return self._processes[name].port
        return self._processes[self.units(name)[0].key].port

    def ports_of(self, service: str) -> list[int]:
        return [self._processes[u.key].port for u in self.units(service)]

    def side_port(self, key: str, setting: str) -> int:
        return self._processes[key].side_ports[setting]

    def endpoint(self, service: str) -> str:
        """How other services reach ``service``: one address, or a gRPC target over every replica."""
        ports = self.ports_of(service)
        if self.specs[service].protocol != "grpc":
            return f"http://127.0.0.1:{ports[0]}"
        if len(ports) == 1:
            return f"127.0.0.1:{ports[0]}"
        return "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in ports)

    def url(self, name: str) -> str:
        """The address clients use: a service's (every replica) or one process's (its key)."""
        if name in self.specs:
            return self.endpoint(name)
        process = self._processes[name]
        scheme = "http://" if self.specs[process.unit.service].protocol == "http" else ""
        return f"{scheme}127.0.0.1:{process.port}"

    def environment(self, key: str) -> dict[str, str]:
        process = self._processes[key]
        unit = process.unit
        env = {**os.environ, "KUZET_DATA_DIR": str(self.data_dir), **self.env}
        env.update(self._tls_env.get(unit.service, {}))
        for name in self.specs:
            env[f"KUZET_ENDPOINT_{name.upper()}"] = self.endpoint(name)
        prefix = f"KUZET_{unit.service.upper()}_"
        env[prefix + "PORT"] = str(process.port)
        for setting, port in process.side_ports.items():
            env[prefix + setting] = str(port)
        # The contract every replica-aware service reads, as the chart's downward API gives it.
        env["KUZET_POD_NAME"] = unit.pod_name
        env[prefix + "CALLER_SIGNING_KEY"] = str(self.caller_keys / f"{unit.service}.pem")
        env["KUZET_CALLER_JWKS"] = str(self.caller_keys / JWKS_FILE)
        env[prefix + "REPLICA_ID"] = unit.pod_name
        env["KUZET_ADVERTISE_ADDRESS"] = f"127.0.0.1:{process.port}"
        if not (env.get("KUZET_AUDIT_KEY") or env.get("KUZET_AUDIT_KEY_FILE")):
            # One audit key for the platform, kept in the data directory so restarts still verify.
            env["KUZET_AUDIT_KEY_FILE"] = str(ensure_local_key_file(self.data_dir))
        return env

    @property
    def procs(self) -> dict[str, subprocess.Popen[bytes]]:
        """The live processes by key."""
        with self._lock:
            return {k: p.proc for k, p in self._processes.items() if p.proc and p.proc.poll() is None}

    def log_path(self, key: str) -> Path:
        return self.logs / f"{key}.log"

    # -------------------------------------------------------------------------- processes ---

    def command(self, unit: Unit) -> list[str]:
        return [sys.executable, "-m", "kuzet.common.cli", "serve", unit.service]

    def _spawn(self, process: _Process) -> None:
        out = self.log_path(process.unit.key).open("ab")
        process.proc = subprocess.Popen(
            self.command(process.unit), env=self.environment(process.unit.key), stdout=out, stderr=out
        )
        out.close()
        process.state = "starting"
        process.started_at = time.monotonic()
        process.next_start_at = None

    def _resolve(self, name: str) -> list[_Process]:
        if name in self._processes:
            return [self._processes[name]]
        if name not in self.specs:
            raise KeyError(f"service {name!r} is not installed (installed: {', '.join(self.specs)})")
        return [self._processes[u.key] for u in self.units(name)]

    def spawn(self, name: str) -> None:
        """Start a service's replicas (or one process, by key) without waiting for them."""
        with self._lock:
            for process in self._resolve(name):
                self._spawn(process)
            self._write_status()

    def wait_ready(self, name: str, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        for process in self._resolve(name):
            while not port_open(process.port):
                proc = process.proc
                if proc is None or proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{process.unit.key} did not start: see {self.log_path(process.unit.key)}"
                    )
                time.sleep(0.1)
            with self._lock:
                if process.state == "starting":
                    process.state = "running"
        with self._lock:
            self._write_status()

    def start(self, name: str, ready_timeout: float = 180.0) -> None:
        self.spawn(name)
        self.wait_ready(name, ready_timeout)

    def start_all(self, only: list[str] | None = None) -> list[str]:
        """Start the chosen services together (each retries its dependencies until they are up),
        then supervise them: a process that exits from now on is restarted."""
        chosen = [n for n in self.specs if not only or n in only]
        for name in chosen:
            self.spawn(name)
        for name in chosen:
            self.wait_ready(name)
        self.supervise()
        return chosen

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        """Stop a service's replicas (or one process, by key); the supervisor leaves them stopped."""
        with self._lock:
            processes = self._resolve(name)
            for process in processes:
                process.state = "stopped"
                process.next_start_at = None
        for process in processes:
            proc = process.proc
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with self._lock:
            self._write_status()

    def stop_all(self) -> None:
        self._closing.set()
        if self._supervisor is not None:
            self._supervisor.join()
        for key in reversed(list(self._processes)):
            self.stop(key)

    # -------------------------------------------------------------------------- supervision ---

    def supervise(self, interval_s: float = 0.2) -> None:
        """Watch every process from a background thread until stop_all (idempotent)."""
        if self._supervisor is None:
            self._supervisor = threading.Thread(
                target=self._watch, args=(interval_s,), name="kuzet-supervisor", daemon=True
            )
            self._supervisor.start()

    def _watch(self, interval_s: float) -> None:
        while not self._closing.wait(interval_s):
            with self._lock:
                if self._closing.is_set():
                    return
                if self.check():
                    self._write_status()

    def check(self) -> bool:
        """One supervision step: notice exits, restart what is due, see restarts come up.

        True when anything changed. The supervisor thread calls it; tests may too.
        """
        changed = False
        now = time.monotonic()
        with self._lock:
            for process in self._processes.values():
                changed |= self._step(process, now)
        return changed

    def _step(self, process: _Process, now: float) -> bool:
        key, proc = process.unit.key, process.proc
        if process.state in ("starting", "running") and proc is not None and proc.poll() is not None:
            ran = now - process.started_at
            process.failures = 1 if ran >= self.backoff.reset_after_s else process.failures + 1
            delay = self.backoff.delay(process.failures)
            process.last_exit = describe_exit(proc.returncode)
            process.state = "backoff"
            process.next_start_at = now + delay
            self.report(
                f"supervisor: {key} {process.last_exit} after {ran:.1f} s; restarting in {delay:.1f} s "
                f"(see {self.log_path(key)})"
            )
            return True
        if process.state == "backoff" and process.next_start_at is not None and now >= process.next_start_at:
            self._spawn(process)
            process.restarts += 1
            return True
        if process.state == "starting" and port_open(process.port):
            process.state = "running"
            self.report(f"supervisor: {key} is back on {self.url(key)} (restart {process.restarts})")
            return True
        return False

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            return {
                "launcher_pid": os.getpid(),
                "updated_at": time.time(),
                "processes": {k: p.status(now) for k, p in self._processes.items() if p.proc},
            }

    def _write_status(self) -> None:
        tmp = self.status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status(), indent=1))
        tmp.replace(self.status_path)


def local_client_tls(data_dir: Path) -> dict[str, str]:
    """The client certificate's ``KUZET_TLS_*`` of the platform `kuzet up` ran in ``data_dir``
    ({} if it made none), for CLI tools that reach its services."""
    directory = Path(data_dir).resolve() / TLS_DIR
    cert, key, ca = directory / f"{CLIENT}.pem", directory / f"{CLIENT}.key", directory / "ca.pem"
    if not (cert.exists() and key.exists() and ca.exists()):
        return {}
    return {"KUZET_TLS_CERT": str(cert), "KUZET_TLS_KEY": str(key), "KUZET_TLS_CA": str(ca)}


def local_client_caller_keys(directory: Path) -> dict[str, str]:
    """The ``KUZET_CALLER_*`` settings of the tools key in a launcher's key directory ({} if none)."""
    key, jwks = directory / f"{TOOLS_ISSUER}.pem", directory / JWKS_FILE
    if not (key.exists() and jwks.exists()):
        return {}
    return {"KUZET_CALLER_SIGNING_KEY": str(key), "KUZET_CALLER_JWKS": str(jwks)}


def read_status(data_dir: Path) -> dict[str, Any] | None:
    """What the supervisor of the platform in ``data_dir`` last wrote; None if it never ran there."""
    try:
        return dict(json.loads((Path(data_dir) / STATUS_FILE).read_text()))
    except FileNotFoundError:
        return None
