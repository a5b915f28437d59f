"""Run the real tritonserver shipped in the ``nvidia-pytriton`` wheel on this machine (CI, bench).

That build has only the python backend and runs on CPU; the CI model repository
(``tritonrepo --variant ci``) uses it to run the same ONNX files with onnxruntime. Pitfalls
handled here: the python stub must sit inside the backend directory next to libtriton_python.so,
it links the interpreter's libpython (a pyenv Python is not on the default library path) and
libcudart from ``nvidia_pytriton.libs`` (its relative rpath breaks once the stub is copied).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from kuzet.common.tls import client_credentials, load_tls_settings
from kuzet.inference.tritonrepo import generate


class TritonUnavailable(RuntimeError):
    """The tritonserver binary is not installed (``scripts/setup/triton.sh``)."""


def pytriton_root() -> Path:
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise TritonUnavailable("nvidia-pytriton is not installed: run scripts/setup/triton.sh")
    root = Path(next(iter(spec.submodule_search_locations))) / "tritonserver"
    if not (root / "bin" / "tritonserver").exists():
        raise TritonUnavailable(f"no tritonserver binary under {root}")
    return root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_backends(into: Path) -> Path:
    """A backend directory holding the python backend and the stub for this interpreter."""
    root = pytriton_root()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = root / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub.exists():
        raise TritonUnavailable(f"pytriton has no python backend stub for Python {version}")
    target = into / "python"
    if not target.exists():
        shutil.copytree(root / "backends" / "python", target)
        shutil.copy2(stub, target / "triton_python_backend_stub")
    return into


def server_env() -> dict[str, str]:
    root = pytriton_root()
    libs = [str(sysconfig.get_config_var("LIBDIR") or ""), str(root.parent.parent / "nvidia_pytriton.libs")]
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        [p for p in libs if p] + [env.get("LD_LIBRARY_PATH", "")]
    ).rstrip(os.pathsep)
    return env


def _die_with_parent(cmd: list[str]) -> list[str]:
    """``cmd`` run so that it gets SIGTERM when this process dies: a test run or benchmark that is
    killed must not leave a tritonserver behind. Through setpriv rather than a ``preexec_fn``:
    Python code between fork and exec, in a process whose gRPC threads are busy (the tests' own
    clients), could crash the child before it ran tritonserver ("epoll_wait error: Bad file
    descriptor", then "tritonserver exited" in CI)."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--", *cmd] if setpriv else cmd


def _tls_args() -> list[str]:
    """Triton's own flags for a mutual-TLS gRPC port, from this process's settings."""
    tls = load_tls_settings()
    if tls.plaintext:
        return []
    client_credentials(tls)  # a missing or unreadable file: the same clear error as a service's
    return [
        "--grpc-use-ssl=true",
        "--grpc-use-ssl-mutual=true",
        f"--grpc-server-cert={tls.cert}",
        f"--grpc-server-key={tls.key}",
        f"--grpc-root-cert={tls.ca}",
    ]


class LocalTriton:
    """A tritonserver process on loopback serving the CI model repository.

    Models are loaded explicitly (``--model-control-mode=explicit``) so tests can have a model
    that exists in the repository but is not loaded. Its gRPC port serves mTLS with this
    process's certificate (``KUZET_TLS_*``), as the chart's Triton does, unless plaintext-dev.
    """

    def __init__(self, workdir: Path, models: list[str] | None = None, grpc_port: int = 0) -> None:
        self.workdir = workdir
        self.repository = workdir / "models"
        self.models = models
        self.grpc_port = grpc_port or _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "tritonserver.log"

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def build_repository(self) -> None:
        # Symlinks: the shipped ONNX files are not copied for every test run.
        generate(self.repository, "ci", link=True)
        prepare_backends(self.workdir / "backends")

    def start(self, timeout_s: float = 60.0) -> None:
        if not self.repository.exists():
            self.build_repository()
        cmd = [
            str(pytriton_root() / "bin" / "tritonserver"),
            f"--model-repository={self.repository}",
            f"--backend-directory={self.workdir / 'backends'}",
            "--grpc-address=127.0.0.1",
            f"--grpc-port={self.grpc_port}",
            "--http-address=127.0.0.1",
            f"--http-port={_free_port()}",
            "--allow-metrics=false",
            "--model-control-mode=explicit",
            "--exit-timeout-secs=5",
            "--log-verbose=0",
        ]
        cmd += [f"--load-model={m}" for m in (self.models if self.models is not None else ["*"])]
        cmd += _tls_args()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            _die_with_parent(cmd), stdout=log, stderr=subprocess.STDOUT, env=server_env()
        )
        log.close()
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        import tritonclient.grpc as grpcclient

        deadline = time.monotonic() + timeout_s
        client = grpcclient.InferenceServerClient(self.url, creds=client_credentials())
        last = ""
        try:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"tritonserver exited: {self.log_tail()}")
                try:
                    if client.is_server_ready(client_timeout=1.0):
                        return
                except Exception as exc:  # not listening yet
                    last = str(exc)
                time.sleep(0.2)
        finally:
            client.close()
        raise RuntimeError(f"tritonserver not ready after {timeout_s}s ({last}): {self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None
