"""pytest plugin: caller-token keys for the session (loaded by the root config).

Every service's key, and a "tests" key that the tests' own clients mint with, are made once per
session; the processes the tests start inherit them (the launcher takes KUZET_CALLER_KEYS_DIR),
so every server verifies tokens as in production.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from kuzet.common.callerkeys import use_ephemeral_keys

_KEYS: tempfile.TemporaryDirectory[str] | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _KEYS
    _KEYS = use_ephemeral_keys("tests")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _KEYS is not None:
        _KEYS.cleanup()


@pytest.fixture(scope="session")
def caller_keys_dir() -> Path:
    """The session's key directory: ``<issuer>.pem`` per service and "tests", and ``jwks.json``."""
    given = os.environ.get("KUZET_CALLER_KEYS_DIR")
    if not given:
        pytest.fail("no caller keys in this session (KUZET_CALLER_KEYS_DIR)")
    return Path(given)
