"""A real RTSP server (GStreamer's gst-rtsp-server, Debian packages) as a subprocess for tests.

The venv cannot import Debian's `gi`, so the server runs under /usr/bin/python3
(scripts/setup/rtsp.sh installs the packages). Use as a context manager or through the
``rtsp_server`` pytest fixture in :mod:`kuzet.ingest.testing.fixtures`.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

__all__ = ["RtspServer", "RtspUnavailable", "rtsp_available"]

_SCRIPT = Path(__file__).with_name("rtsp_server_main.py")
SYSTEM_PYTHON = os.environ.get("KUZET_RTSP_PYTHON", "/usr/bin/python3")


class RtspUnavailable(RuntimeError):
    """gst-rtsp-server is not installed (run scripts/setup/rtsp.sh)."""


def rtsp_available() -> bool:
    probe = (
        "import gi; gi.require_version('Gst','1.0'); gi.require_version('GstRtspServer','1.0');"
        "from gi.repository import GstRtspServer"
    )
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RtspServer:
    """Serves MP4 files at rtsp://127.0.0.1:<port>/<mount>; restartable on the same port."""

    def __init__(self, mounts: dict[str, Path], port: int | None = None) -> None:
        self.mounts = dict(mounts)
        self.port = port or _free_port()
        self._proc: subprocess.Popen[str] | None = None

    def url(self, mount: str) -> str:
        return f"rtsp://127.0.0.1:{self.port}/{mount}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 15.0) -> None:
        if self.running:
            return
        args = [SYSTEM_PYTHON, str(_SCRIPT), str(self.port)]
        args += [f"{m}={p}" for m, p in self.mounts.items()]
        self._proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout
        assert self._proc.stdout is not None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._proc.stdout], [], [], 0.2)
            if ready and self._proc.stdout.readline().strip() == "READY":
                return
            if self._proc.poll() is not None:
                err = self._proc.stderr.read() if self._proc.stderr else ""
                raise RtspUnavailable(f"RTSP server exited ({self._proc.returncode}): {err.strip()[-500:]}")
        self.stop()
        raise RtspUnavailable("RTSP server did not become ready")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        if down_for:
            time.sleep(down_for)
        self.start()

    def __enter__(self) -> RtspServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
