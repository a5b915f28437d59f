"""The whole platform, started once for the scenarios as separate processes on loopback."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from kuzet.e2e.platform import Platform


@pytest.fixture(scope="session")
def platform() -> Iterator[Platform]:
    # Kept after the run (gitignored) so that a failed scenario can be read service by service.
    data_dir = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e-platform"
    shutil.rmtree(data_dir, ignore_errors=True)
    plat = Platform(data_dir)
    try:
        plat.start()
        yield plat
    finally:
        plat.stop()
