"""Backends are chosen by name from the kuzet.inference.backends entry points."""

from __future__ import annotations

import pydantic
import pytest

from kuzet.common.testing import InstallPlugin
from kuzet.inference.backends.base import BACKENDS
from kuzet.inference.backends.batching import BatchingBackend
from kuzet.inference.backends.embedded import EmbeddedBackend
from kuzet.inference.backends.triton import TritonBackend
from kuzet.inference.catalog import load_catalog
from kuzet.inference.config import InferenceSettings

ECHO = """
from kuzet.inference.backends.base import BackendKind

class Echo:
    name = "echo"

KIND = BackendKind("echo", "returns its inputs", lambda settings, catalog: Echo())
"""


def test_builtin_backends_by_name() -> None:
    catalog = load_catalog()
    assert {"embedded", "triton"} <= set(BACKENDS.keys())
    batching = BACKENDS["embedded"].create(InferenceSettings(), catalog)
    assert isinstance(batching, BatchingBackend)
    assert isinstance(
        BACKENDS["embedded"].create(InferenceSettings(batch_delay_ms=0), catalog), EmbeddedBackend
    )
    triton = BACKENDS["triton"].create(InferenceSettings(backend="triton", triton_url="t:8001"), catalog)
    assert isinstance(triton, TritonBackend) and triton.url == "t:8001"
    with pytest.raises(pydantic.ValidationError, match="unknown backend 'tpu'; installed: embedded, triton"):
        InferenceSettings(backend="tpu")


def test_a_backend_from_another_distribution(install_plugin: InstallPlugin) -> None:
    install_plugin(
        "kuzet-echo", {"kuzet.inference.backends": {"echo": "kuzet_echo:KIND"}}, {"kuzet_echo": ECHO}
    )
    BACKENDS.discover()
    try:
        settings = InferenceSettings(backend="echo")
        assert BACKENDS[settings.backend].create(settings, load_catalog()).name == "echo"
    finally:
        BACKENDS.unregister("echo")
