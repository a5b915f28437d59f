"""Replica counts the chart allows: only what each component supports and has tested, and the
replica contract's environment (pod name, advertise address) on every pod."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartlib import CHART, KEYS, ROOT, helm_binary

# The evidence behind each "tested" entry, stated here independently of the chart: a test that
# runs two replicas of the service on one database and checks that they agree.
REPLICA_TESTS = {
    "alerting": "services/alerting/tests/test_replicas.py",
    "identity": "services/identity/tests/test_replicas.py",
    "ingest": "services/ingest/tests/test_ownership.py",
    "badge": "services/badge/tests/test_replicas.py",
    "drone": "services/drone/tests/test_replicas.py",
    "traffic": "services/traffic/tests/test_replicas.py",
}
# Keep nothing another replica would need: inference is a pure function of the frame; the
# gateway's sessions are bearer tokens, its audit appends are serialised by the database.
STATELESS = {"inference", "gateway"}
TABLE = re.compile(r'(\{\{- define "kuzet\.multiReplica" -\}\}\n)(.*?)(\n\{\{- end -\}\})', re.S)


def support_table(chart: Path = CHART) -> dict[str, str]:
    found = TABLE.search((chart / "templates" / "_helpers.tpl").read_text())
    assert found, "the kuzet.multiReplica table is missing from _helpers.tpl"
    return dict(yaml.safe_load(found.group(2)))


def most_replicas(component: dict[str, Any]) -> int:
    scaling = component.get("autoscaling") or {}
    return int(scaling["maxReplicas"] if scaling.get("enabled") else component["replicas"])


def test_the_support_table_is_backed_by_tests() -> None:
    table = support_table()
    assert set(table.values()) <= {"tested", "stateless", "no"}
    for name, support in table.items():
        if support == "tested":
            assert (ROOT / REPLICA_TESTS[name]).is_file(), f"{name}: no replica test"
        elif support == "stateless":
            assert name in STATELESS, f"{name} is not known to be stateless"


def test_defaults_scale_only_what_supports_it(values: dict[str, Any]) -> None:
    table = support_table()
    for name, component in values["components"].items():
        if component["enabled"] and most_replicas(component) > 1:
            assert table.get(name, "no") != "no", name


@pytest.fixture
def chart_without(tmp_path: Path) -> Any:
    """A copy of the chart whose table says ``name`` is one replica only."""

    def copy(name: str) -> Path:
        chart = tmp_path / "kuzet"
        shutil.copytree(CHART, chart)
        helpers = chart / "templates" / "_helpers.tpl"
        text = helpers.read_text()
        table = {**support_table(), name: "no"}
        body = "\n".join(f"{k}: {v}" for k, v in table.items())
        helpers.write_text(TABLE.sub(lambda m: m.group(1) + body + m.group(3), text))
        return chart

    return copy


def template(chart: Path, *sets: str) -> subprocess.CompletedProcess[str]:
    args = [a for s in (KEYS, *sets) for a in ("--set", s)]
    return subprocess.run(
        [helm_binary(), "template", "kz", str(chart), *args], capture_output=True, text=True, check=False
    )


def test_scaling_a_one_replica_component_fails_the_render(chart_without: Any) -> None:
    chart = chart_without("badge")
    refused = template(chart)  # the defaults run badge at 2
    assert refused.returncode != 0
    assert "components.badge: badge has no tested multi-replica support" in refused.stderr
    autoscaled = template(
        chart,
        "components.badge.replicas=1",
        "components.badge.autoscaling.enabled=true",
        "components.badge.autoscaling.minReplicas=1",
        "components.badge.autoscaling.maxReplicas=3",
        "components.badge.autoscaling.targetCPUUtilizationPercentage=70",
    )
    assert autoscaled.returncode != 0 and "not 3" in autoscaled.stderr
    assert template(chart, "components.badge.replicas=1").returncode == 0


def test_every_pod_knows_its_name_and_advertise_address(manifests: list[dict[str, Any]]) -> None:
    for doc in manifests:
        if doc["kind"] not in ("Deployment", "StatefulSet") or doc["metadata"]["name"].endswith("triton"):
            continue
        (container,) = doc["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        names = list(env)
        port = container["ports"][0]["containerPort"]
        assert env["KUZET_POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        assert env["KUZET_POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
        assert env["KUZET_ADVERTISE_ADDRESS"]["value"] == f"$(KUZET_POD_IP):{port}"
        # $(VAR) expansion only sees variables defined earlier in the list.
        assert names.index("KUZET_POD_IP") < names.index("KUZET_ADVERTISE_ADDRESS")
