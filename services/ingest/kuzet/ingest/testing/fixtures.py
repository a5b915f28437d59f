"""Pytest fixtures for ingest and e2e tests: generated clips and a real RTSP server.

Enable with ``pytest_plugins = ["kuzet.ingest.testing.fixtures"]`` in a conftest.py.

    def test_x(rtsp_server, walking_clip):
        server = rtsp_server({"walk": walking_clip})   # started, stopped after the test
        url = server.url("walk")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kuzet.common.testing import missing_component
from kuzet.ingest.testing import videotest as vt
from kuzet.ingest.testing.rtsp import RtspServer, rtsp_available


@pytest.fixture(scope="session")
def walking_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """640x360 H.264, 16 s: a person walks through a zone, across a line, and falls (see walking_scenario)."""
    return vt.write_h264(vt.walking_scenario(640, 360), tmp_path_factory.mktemp("clips") / "walk.mp4")


@pytest.fixture(scope="session")
def walking_face_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same walk with a real face photo (face_recognition's obama.jpg) on the walker, 1280x720."""
    from kuzet.common import testdata

    face = testdata.face_photos()["obama"][0]
    spec = vt.walking_scenario(1280, 720, face=face)
    return vt.write_h264(spec, tmp_path_factory.mktemp("clips") / "walk_face.mp4")


@pytest.fixture
def rtsp_server() -> Iterator[Callable[[dict[str, Path]], RtspServer]]:
    """Factory: start a gst-rtsp-server serving {mount: mp4}; skipped when it is not installed."""
    if not rtsp_available():
        missing_component("gst-rtsp-server missing: run scripts/setup/rtsp.sh")
    started: list[RtspServer] = []

    def start(mounts: dict[str, Path]) -> RtspServer:
        server = RtspServer(mounts)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
