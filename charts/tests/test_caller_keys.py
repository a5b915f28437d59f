"""The chart's caller-token keys: required, from an operator's Secret (or dev files), and each
component mounts its own private key and the JWKS only."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml
from chartlib import CHART, KEYS, SCENARIOS, Scenario, effective_values, helm_binary, render

from kuzet.common.callerkeys import SERVICES, generate_keys

MOUNT = "/etc/kuzet-caller-keys"


def template(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm_binary(), "template", "kz", str(CHART), *args], capture_output=True, text=True
    )


def workloads(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each component's pod spec (migration Jobs have no part in caller tokens)."""
    return {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d["spec"]["template"]["spec"]
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
        and d["metadata"]["labels"]["app.kubernetes.io/component"] in SERVICES
    }


def test_the_chart_refuses_to_render_without_caller_keys() -> None:
    out = template()
    assert out.returncode != 0
    assert "kuzet keys generate" in out.stderr and "callerKeys.existingSecret" in out.stderr


def test_each_component_mounts_its_own_key_and_the_jwks_only() -> None:
    for scenario in SCENARIOS:
        docs = render(scenario)
        values = effective_values(scenario)
        secret = values["callerKeys"]["existingSecret"] or "caller-keys"
        enabled = {n for n, c in values["components"].items() if c["enabled"] and n in SERVICES}
        specs = workloads(docs)
        assert set(specs) == enabled, scenario.name
        for name, spec in specs.items():
            (volume,) = [v for v in spec["volumes"] if v["name"] == "caller-keys"]
            assert volume["secret"]["secretName"] == secret
            assert volume["secret"]["defaultMode"] == 0o400
            assert [i["key"] for i in volume["secret"]["items"]] == [f"{name}.pem", "jwks.json"]
            (container,) = spec["containers"]
            (mount,) = [m for m in container["volumeMounts"] if m["name"] == "caller-keys"]
            assert mount == {"name": "caller-keys", "mountPath": MOUNT, "readOnly": True}
            env = {e["name"]: e.get("value") for e in container["env"]}
            assert env[f"KUZET_{name.upper()}_CALLER_SIGNING_KEY"] == f"{MOUNT}/{name}.pem"
            assert env["KUZET_CALLER_JWKS"] == f"{MOUNT}/jwks.json"
            assert not any("CALLER_SECRET" in k for k in env)
        # The operator's Secret is used as it is: the chart makes none.
        assert not [d for d in docs if d["kind"] == "Secret" and "caller" in d["metadata"]["name"]]


def test_dev_files_become_the_secret_and_every_file_is_required(tmp_path: Path) -> None:
    generate_keys(tmp_path, SERVICES)
    files = [f"callerKeys.files.{p.name.replace('.', chr(92) + '.')}={p}" for p in sorted(tmp_path.iterdir())]
    args = [a for f in files for a in ("--set-file", f)]
    out = template(*args)
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    (secret,) = [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "kz-kuzet-caller-keys"]
    assert set(secret["stringData"]) == {"jwks.json", *(f"{s}.pem" for s in SERVICES)}
    assert secret["stringData"]["jwks.json"] == (tmp_path / "jwks.json").read_text()
    missing = template(*[a for f in files if "gateway" not in f for a in ("--set-file", f)])
    assert missing.returncode != 0 and "callerKeys.files has no gateway.pem" in missing.stderr


def test_no_hmac_caller_secret_is_left() -> None:
    for path in [*CHART.rglob("*.yaml"), *CHART.rglob("*.tpl"), *CHART.rglob("*.json"), CHART / "README.md"]:
        text = path.read_text()
        assert "callerSecret" not in text and "KUZET_CALLER_SECRET" not in text, path
    assert render(Scenario("keys", sets=(KEYS,)))
