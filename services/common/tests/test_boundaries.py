"""The import contracts of `make lint` (pyproject.toml, [tool.importlinter]) hold on the tree and
catch a cross-service import: each case adds one probe module to a service or to kuzet.common, as
another portion of the same namespace package, and runs lint-imports with the repository's
configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tmp_path: Path, probes: dict[str, str]) -> subprocess.CompletedProcess[str]:
    for probe, source in probes.items():
        path = tmp_path.joinpath(*probe.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True)
        path.write_text(source)
    paths = [str(tmp_path), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_and_imports_of_generated_stubs_keep_the_contracts(tmp_path: Path) -> None:
    assert LINT_IMPORTS.exists(), "import-linter missing: make dev (requirements-dev.txt)"
    out = lint_imports(
        tmp_path,
        {
            "kuzet.badge.boundary_probe": "from kuzet.drone.v1 import drone_pb2\n",
            "kuzet.common.boundary_probe": "from kuzet.identity.v1 import identity_pb2_grpc\n",
        },
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 kept, 0 broken" in out.stdout, out.stdout


@pytest.mark.parametrize(
    ("probe", "source", "broken"),
    [
        ("kuzet.badge.boundary_probe", "from kuzet.drone.server import SPEC\n", "services never import"),
        (
            "kuzet.common.boundary_probe",
            "from kuzet.identity.server import SPEC\n",
            "kuzet.common imports no service",
        ),
    ],
)
def test_a_cross_service_import_breaks_the_lint(tmp_path: Path, probe: str, source: str, broken: str) -> None:
    out = lint_imports(tmp_path, {probe: source})
    assert out.returncode == 1, out.stdout + out.stderr
    assert broken in out.stdout and "BROKEN" in out.stdout, out.stdout
    assert f"{probe} -> {source.split()[1]}" in out.stdout, out.stdout
