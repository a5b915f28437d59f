"""A real Kubernetes API server (kube-apiserver 1.20 + etcd) on loopback, for tests.

``scripts/setup/kube-apiserver.sh`` builds the binary once from Debian's ``kubernetes`` source
package and caches it outside the repository; this module only runs it. There are no controllers
or scheduler, so objects are stored and validated but no Pod ever runs: exactly what Lease-based
coordination and ``helm install`` need.

Use the ``kube_apiserver`` fixture (import it into a test module or conftest), or
:class:`KubeApiServer` directly.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SETUP_HINT = "run scripts/setup/kube-apiserver.sh (builds it once, ~10-20 min, then cached)"


def kube_apiserver_binary() -> Path:
    """The cached kube-apiserver (``KUZET_KUBE_APISERVER`` overrides); a clear error when absent."""
    explicit = os.environ.get("KUZET_KUBE_APISERVER")
    if explicit:
        path = Path(explicit)
    else:
        cache = Path(os.environ.get("KUZET_CACHE_DIR", Path.home() / ".cache" / "kuzet"))
        path = cache / "kube-apiserver-1.20" / "kube-apiserver"
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"kube-apiserver not found at {path}: {SETUP_HINT}")
    return path


def etcd_binary() -> Path:
    found = shutil.which("etcd") or ("/usr/bin/etcd" if os.access("/usr/bin/etcd", os.X_OK) else None)
    if not found:
        raise RuntimeError(f"etcd not found (Debian package etcd-server): {SETUP_HINT}")
    return Path(found)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_service_account_key(path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


class KubeApiServer:
    """etcd + kube-apiserver in ``workdir``; token auth, RBAC, TLS with a self-signed cert."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.token = uuid.uuid4().hex
        self.port = 0
        self.kubeconfig = workdir / "kubeconfig"
        self._procs: list[subprocess.Popen[bytes]] = []

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 120.0) -> None:
        apiserver = kube_apiserver_binary()
        etcd = etcd_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        client_port, peer_port, self.port = _free_port(), _free_port(), _free_port()
        etcd_url = f"http://127.0.0.1:{client_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        self._spawn(
            "etcd",
            [
                str(etcd),
                "--name=kuzet-test",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=kuzet-test={peer_url}",
                "--log-level=warn",
            ],
        )
        self._wait(lambda: self._etcd_healthy(etcd_url), timeout_s, "etcd")

        tokens = self.workdir / "tokens.csv"
        # The test client is a cluster admin (group system:masters); RBAC is on all the same.
        tokens.write_text(f'{self.token},kuzet-test-admin,kuzet-test-admin,"system:masters"\n')
        tokens.chmod(0o600)
        sa_key = self.workdir / "sa.key"
        _write_service_account_key(sa_key)
        certs = self.workdir / "certs"
        self._spawn(
            "kube-apiserver",
            [
                str(apiserver),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.port}",
                "--insecure-port=0",
                f"--cert-dir={certs}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={sa_key}",
                f"--service-account-signing-key-file={sa_key}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--enable-priority-and-fairness=false",
                "--profiling=false",
                "--v=0",
            ],
        )
        self._wait(self._ready, timeout_s, "kube-apiserver")
        self._write_kubeconfig(certs / "apiserver.crt")

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        self._procs.append(subprocess.Popen(argv, stdout=log, stderr=log, cwd=self.workdir))

    def _wait(self, check: object, timeout_s: float, name: str) -> None:
        assert callable(check)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for proc in self._procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited ({proc.returncode}); see logs in {self.workdir}")
            if check():
                return
            time.sleep(0.25)
        raise RuntimeError(f"{name} not ready after {timeout_s:.0f}s; see logs in {self.workdir}")

    @staticmethod
    def _etcd_healthy(url: str) -> bool:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:  # noqa: S310 - loopback
                return resp.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def _ready(self) -> bool:
        # The serving cert does not exist until the server wrote it; readiness only needs TLS.
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        req = urllib.request.Request(  # noqa: S310 - loopback URL we built
            f"{self.server}/readyz", headers={"Authorization": f"Bearer {self.token}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=2, context=ctx) as resp:  # noqa: S310
                return resp.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def _write_kubeconfig(self, ca: Path) -> None:
        self.kubeconfig.write_text(
            f"""apiVersion: v1
kind: Config
clusters:
- name: kuzet-test
  cluster:
    server: {self.server}
    certificate-authority: {ca}
users:
- name: admin
  user:
    token: {self.token}
contexts:
- name: kuzet-test
  context: {{cluster: kuzet-test, user: admin, namespace: default}}
current-context: kuzet-test
"""
        )
        self.kubeconfig.chmod(0o600)

    def api_client(self) -> Any:
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def create_namespace(self, prefix: str = "kuzet-test") -> str:
        from kubernetes import client

        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        api = self.api_client()
        try:
            client.CoreV1Api(api).create_namespace(
                client.V1Namespace(metadata=client.V1ObjectMeta(name=name))
            )
        finally:
            api.close()
        return name

    def kill(self) -> None:
        """Abrupt loss of the control plane (SIGKILL), for outage tests."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self._procs:
            proc.wait(10)
        self._procs.clear()

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self._procs):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self._procs.clear()


@pytest.fixture(scope="session")
def kube_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApiServer]:
    """A running API server for the whole session (fails, never skips, when it is not built)."""
    server = KubeApiServer(tmp_path_factory.mktemp("kube-apiserver"))
    try:
        server.start()
        yield server
    finally:
        server.stop()
