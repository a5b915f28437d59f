"""Rendering helpers for the chart tests: the chart is rendered with the real Helm binary."""

from __future__ import annotations

import copy
import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "kuzet"
EXAMPLES = sorted((CHART / "examples").glob("*.yaml"))
TARGET_KUBE = "1.30.0"


def helm_binary() -> str:
    candidate = ROOT / ".tools" / "bin" / "helm"
    found = str(candidate) if os.access(candidate, os.X_OK) else shutil.which("helm")
    if not found:
        raise RuntimeError("helm not found: run scripts/setup/helm.sh")
    return found


# An operator's Secret with the keys `kuzet keys generate` writes: every scenario names one.
KEYS = "callerKeys.existingSecret=caller-keys"
KEYS_FILE = Path(__file__).parent / "values" / "caller-keys.yaml"


@dataclass(frozen=True)
class Scenario:
    """A values combination the chart must render correctly."""

    name: str
    values_files: tuple[Path, ...] = ()
    sets: tuple[str, ...] = ()

    def args(self) -> list[str]:
        out: list[str] = []
        for f in (KEYS_FILE, *self.values_files):
            out += ["-f", str(f)]
        for s in self.sets:
            out += ["--set", s]
        return out


STORES_EGRESS = Path(__file__).parent / "values" / "collector-and-stores-egress.yaml"

SCENARIOS = [
    Scenario("default"),
    *(Scenario(f"example:{p.stem}", (p,)) for p in EXAMPLES),
    # The badge device port open to a load balancer and exposed by its own Service.
    Scenario("badge-devices", (Path(__file__).parent / "values" / "badge-devices.yaml",)),
    # Production-like without an example file: external Secrets, Triton on, a collector; every
    # egress rule names its peers (the render fails on one without).
    Scenario(
        "existing-secrets-triton",
        (STORES_EGRESS,),
        sets=(
            "database.existingSecret=pg",
            "objectStore.existingSecret=s3",
            "triton.enabled=true",
            "telemetry.otlpEndpoint=collector:4317",
        ),
    ),
    # Each service its own least-privilege database role; the owner's URL for the Jobs only.
    Scenario(
        "runtime-roles",
        (STORES_EGRESS,),
        sets=(
            "database.existingSecret=pg",
            "database.runtimeRoles.enabled=true",
            "database.runtimeRoles.existingSecret=pg-runtime",
        ),
    ),
]


def render(scenario: Scenario, kube_version: str = TARGET_KUBE, release: str = "kz") -> list[dict[str, Any]]:
    """The rendered manifests (a private copy: tests may not disturb each other)."""
    return copy.deepcopy(_render(scenario, kube_version, release))


@functools.cache
def _render(scenario: Scenario, kube_version: str, release: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [helm_binary(), "template", release, str(CHART), "--kube-version", kube_version, *scenario.args()],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise AssertionError(f"helm template failed for {scenario.name}:\n{out.stderr}")
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def _merge(base: dict[str, Any], override: dict[str, Any]) -> None:
    for key, value in override.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def effective_values(scenario: Scenario) -> dict[str, Any]:
    """The effective values of the scenario (chart defaults merged with its files, as Helm does)."""
    merged: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    for f in (KEYS_FILE, *scenario.values_files):
        _merge(merged, yaml.safe_load(f.read_text()) or {})
    for s in scenario.sets:
        key, _, raw = s.partition("=")
        node = merged
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(raw)
    return merged
