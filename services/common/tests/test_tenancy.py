"""The tenancy file the chart renders: an agency's sites, and a clear error for any other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kuzet.common.errors import ConfigError, InvalidArgument
from kuzet.common.tenancy import load_tenancy


def test_sites_are_checked_against_the_charts_tenancy(tmp_path: Path) -> None:
    path = tmp_path / "tenancy.json"
    agencies = [{"id": "prison", "name": "Prison Service", "sites": [{"id": "block-a"}, {"id": "block-b"}]}]
    path.write_text(json.dumps({"region": "north", "agencies": agencies}))
    tenancy = load_tenancy(str(path))
    assert tenancy.region == "north" and tenancy.sites == {"prison": frozenset({"block-a", "block-b"})}
    tenancy.check_site("prison", "block-a", "camera.site_id")
    with pytest.raises(
        InvalidArgument, match="'block-z' is not a site of agency prison \\(its sites: block-a, block-b\\)"
    ):
        tenancy.check_site("prison", "block-z", "camera.site_id")
    with pytest.raises(InvalidArgument, match="agency 'police' is not a tenant"):
        tenancy.check_site("police", "district-1", "camera.site_id")


def test_without_a_tenancy_any_site_goes_and_a_broken_file_is_a_config_error(tmp_path: Path) -> None:
    load_tenancy("").check_site("prison", "anywhere", "camera.site_id")
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"region": "", "agencies": []}))  # the chart's default values
    load_tenancy(str(empty)).check_site("prison", "anywhere", "camera.site_id")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="tenancy file"):
        load_tenancy(str(broken))
