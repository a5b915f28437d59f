"""The service images are built elsewhere (no container engine here): check them by construction."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from chartlib import ROOT

IMAGES = {
    "inference": 50051,
    "identity": 50052,
    "alerting": 50053,
    "ingest": 50054,
    "badge": 50055,
    "drone": 50056,
    "traffic": 50057,
    "federation": 50058,
    "gateway": 8080,
}
BASE = re.compile(r"^python:3\.11\.\d+-slim-bookworm$")


def stages(text: str) -> list[list[str]]:
    """Instructions (continuations joined) grouped per FROM."""
    joined = re.sub(r"\\\n", " ", text)
    out: list[list[str]] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            out.append([])
        if out:
            out[-1].append(line)
    return out


DOCKERFILE = ROOT / "services" / "Dockerfile"


def test_one_recipe_builds_every_image() -> None:
    """A service folder holds no Dockerfile of its own: the build argument SERVICE picks it."""
    assert DOCKERFILE.exists()
    own = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "services").glob("*/Dockerfile"))
    assert own == [], f"per-service Dockerfiles are back: {own}"


def test_dockerfile_rules() -> None:
    builder, final = stages(DOCKERFILE.read_text())
    assert re.match(r"FROM (\S+) AS builder$", builder[0]), builder[0]
    assert BASE.match(builder[0].split()[1]) and BASE.match(final[0].split()[1]), "pinned slim base"
    assert not any(i.upper().startswith("ADD ") for s in (builder, final) for i in s), "no ADD"
    # Compilers in the builder only; the final stage installs nothing from apt or PyPI.
    assert any("build-essential" in i for i in builder)
    assert not any(re.search(r"apt-get|gcc|build-essential|pip install", i) for i in final), final
    assert "COPY --from=builder /opt/kuzet /opt/kuzet" in final
    users = [i for i in final if i.startswith("USER ")]
    assert users == ["USER 10001:10001"], users
    assert "EXPOSE ${PORT}" in final
    assert 'ENTRYPOINT ["kuzet", "serve"]' in final
    env = " ".join(i for i in final if i.startswith("ENV "))
    assert "KUZET_IMAGE_SERVICE=${SERVICE}" in env and "KUZET_HOST=0.0.0.0" in env
    # Only the named service (plus the shared runtime and protos) goes into the image.
    copies = [i.split()[1] for i in builder if i.startswith("COPY ")]
    assert copies == ["protos/python", "services/common", "services/${SERVICE}"]


def test_build_script_builds_each_chart_component_on_its_port() -> None:
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-images.sh"), "--dry-run", "--tag", "t1"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.splitlines()
    built = {}
    for line in out:
        args = line.split()
        assert args[:4] == ["docker", "build", "-f", "services/Dockerfile"], line
        build_args = dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "--build-arg")
        built[build_args["SERVICE"]] = int(build_args["PORT"])
        assert args[-3:] == ["-t", f"ghcr.io/kuzet/{build_args['SERVICE']}:t1", "."], line
    assert built == IMAGES


def test_image_names_its_service_and_binds_all_interfaces(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the image's environment does inside: `kuzet serve` with no argument serves
    KUZET_IMAGE_SERVICE, and KUZET_HOST is the fallback of each service's own host setting."""
    from kuzet.common import cli
    from kuzet.gateway.config import GatewaySettings

    served: list[str] = []
    monkeypatch.setattr(cli, "serve", lambda name: served.append(name) or 0)
    monkeypatch.setenv("KUZET_IMAGE_SERVICE", "gateway")
    assert cli.main(["serve"]) == 0 and served == ["gateway"]
    monkeypatch.delenv("KUZET_IMAGE_SERVICE")
    with pytest.raises(SystemExit):
        cli.main(["serve"])
    monkeypatch.setenv("KUZET_HOST", "0.0.0.0")
    monkeypatch.delenv("KUZET_GATEWAY_HOST", raising=False)
    monkeypatch.delenv("KUZET_GATEWAY_PORT", raising=False)
    assert GatewaySettings().listen_address == f"0.0.0.0:{IMAGES['gateway']}"


@pytest.mark.parametrize("service", sorted(IMAGES))
def test_image_runs_the_services_entry_point(service: str) -> None:
    pyproject = ROOT / "services" / service / "pyproject.toml"
    if not pyproject.exists():
        pytest.fail(f"services/{service}/pyproject.toml is missing: the image cannot be built")
    meta = tomllib.loads(pyproject.read_text())
    assert service in meta["project"]["entry-points"]["kuzet.services"]
    assert "kuzet-common" in meta["project"]["dependencies"]


@pytest.mark.parametrize("service", [*sorted(IMAGES), "common"])
def test_images_need_no_other_kuzet_distribution(service: str) -> None:
    """An image builds wheels of protos, common and its service only: a runtime dependency on
    another kuzet-* distribution would be fetched from a package index, or not found."""
    kuzet = {
        n
        for n in _requirement_names(ROOT / "services" / service / "pyproject.toml")
        if n.startswith("kuzet-")
    }
    assert kuzet <= {"kuzet-common", "kuzet-protos"}, f"services/{service}/pyproject.toml depends on {kuzet}"


def test_hadolint_clean() -> None:
    hadolint = ROOT / ".tools" / "bin" / "hadolint"
    assert os.access(hadolint, os.X_OK), "hadolint missing: run scripts/setup/helm.sh"
    out = subprocess.run(
        [str(hadolint), "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_build_context_excludes_tests_and_tooling() -> None:
    ignore = (ROOT / ".dockerignore").read_text().split()
    for entry in (".venv", ".git", "services/*/tests", ".tools", ".kuzet"):
        assert entry in ignore, entry
    assert Path(ROOT / "services" / "common" / "pyproject.toml").exists()


def _requirement_names(pyproject: Path) -> set[str]:
    deps = tomllib.loads(pyproject.read_text())["project"].get("dependencies", [])
    return {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower() for d in deps}


def test_lease_holders_images_ship_the_kubernetes_client() -> None:
    """An image has only declared dependencies: a Lease holder needs the `kubernetes` client in them."""
    import yaml

    values = yaml.safe_load((ROOT / "charts" / "kuzet" / "values.yaml").read_text())
    common = _requirement_names(ROOT / "services" / "common" / "pyproject.toml")
    for name, component in values["components"].items():
        if not component.get("leases"):
            continue
        declared = common | _requirement_names(ROOT / "services" / name / "pyproject.toml")
        assert "kubernetes" in declared, (
            f"the {name} image would crash in Kubernetes mode (kuzet.common.k8s imports `kubernetes`): "
            "declare kubernetes in services/common/pyproject.toml dependencies"
        )
