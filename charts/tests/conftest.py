"""Fixtures of the chart tests (helpers in chartlib.py, importable from the test modules)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

# The repository runs pytest in importlib mode, which does not put test folders on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from chartlib import SCENARIOS, Scenario, effective_values, render


@pytest.fixture(params=SCENARIOS, ids=lambda s: s.name)
def scenario(request: pytest.FixtureRequest) -> Scenario:
    return request.param


@pytest.fixture
def manifests(scenario: Scenario) -> list[dict[str, Any]]:
    return render(scenario)


@pytest.fixture
def values(scenario: Scenario) -> dict[str, Any]:
    return effective_values(scenario)
