"""Plug-in registries: decorator registration, entry-point discovery, conflicts, broken plug-ins."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from kuzet.common.plugins import Registry
from kuzet.common.testing import InstallPlugin

GROUP = "kuzet.tests.shapes"


@dataclass(frozen=True)
class Shape:
    name: str
    sides: int


def shapes() -> Registry[str, Shape]:
    return Registry("shape", GROUP, key=lambda shape: shape.name)


def test_registered_items_are_found_by_their_own_key() -> None:
    reg = shapes()
    square = reg.register(Shape("square", 4))
    assert reg["square"] is square and "square" in reg and reg.get("circle") is None
    assert reg.register(square) is square  # the same object again: nothing changes
    with pytest.raises(ValueError, match="'square' is claimed by both"):
        reg.register(Shape("square", 5))
    with pytest.raises(KeyError, match="unknown shape 'circle' \\(known: square\\)"):
        reg["circle"]
    reg.unregister("square")
    assert reg.keys() == []


def test_entry_points_of_installed_distributions(
    install_plugin: InstallPlugin, caplog: pytest.LogCaptureFixture
) -> None:
    # The plug-in's own module cannot import this test module: it duck-types a Shape.
    source = "from types import SimpleNamespace\nTRIANGLE = SimpleNamespace(name='triangle', sides=3)\n"
    install_plugin(
        "kuzet-test-shapes",
        {GROUP: {"triangle": "kuzet_test_shapes:TRIANGLE", "broken": "kuzet_test_nowhere:X"}},
        {"kuzet_test_shapes": source},
    )
    reg = shapes()
    with caplog.at_level(logging.WARNING, logger="kuzet.common.plugins"):
        assert reg["triangle"].sides == 3  # the first lookup loads the group
    assert "'broken = kuzet_test_nowhere:X' is installed but cannot be loaded" in caplog.text
    assert reg.keys() == ["triangle"]

    # A distribution installed later is found by discover(); the ones loaded are not loaded again.
    install_plugin(
        "kuzet-test-more",
        {GROUP: {"hexagon": "kuzet_test_more:HEX"}},
        {
            "kuzet_test_more": "from types import SimpleNamespace\nHEX = SimpleNamespace(name='hexagon', sides=6)\n"
        },
    )
    assert reg.get("hexagon") is None
    caplog.clear()
    reg.discover()
    assert reg.keys() == ["triangle", "hexagon"] and "broken" not in caplog.text
    reg.unregister("hexagon")  # an entry-point plug-in removed is found again by the next scan
    reg.discover()
    assert reg.keys() == ["triangle", "hexagon"]
