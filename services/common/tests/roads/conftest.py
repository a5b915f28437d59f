from __future__ import annotations

import pytest

from kuzet.common.roads.synthetic import SyntheticCamera


@pytest.fixture
def camera() -> SyntheticCamera:
    return SyntheticCamera()
