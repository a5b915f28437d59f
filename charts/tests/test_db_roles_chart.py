"""database.runtimeRoles: pods connect as their own role, only the migration Jobs as the owner."""

from __future__ import annotations

import subprocess
from typing import Any

from chartlib import CHART, KEYS_FILE, SCENARIOS, STORES_EGRESS, helm_binary, render

ROLES = next(s for s in SCENARIOS if s.name == "runtime-roles")
OWNER, RUNTIME = "pg", "pg-runtime"


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def _ref(env: dict[str, dict[str, Any]], name: str) -> tuple[str, str]:
    ref = env[name]["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


def test_pods_use_their_runtime_url_and_never_the_owners() -> None:
    docs = render(ROLES)
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    with_db = 0
    for d in workloads:
        spec = d["spec"]["template"]["spec"]
        for c in spec.get("initContainers", []) + spec["containers"]:
            env = _env(c)
            assert not any(k.endswith("RUNTIME_DATABASE_URL") for k in env)
            for name in [k for k in env if k.endswith("_DATABASE_URL")]:
                svc = name.removeprefix("KUZET_").removesuffix("_DATABASE_URL").lower()
                assert _ref(env, name) == (RUNTIME, svc), d["metadata"]["name"]
                with_db += 1
            refs = [
                e["valueFrom"]["secretKeyRef"]["name"]
                for e in env.values()
                if "secretKeyRef" in e.get("valueFrom", {})
            ]
            assert OWNER not in refs, f"{d['metadata']['name']} mounts the owner's database URL"
    assert with_db == 8  # alerting, badge, drone, federation, gateway, identity, ingest, traffic


def test_migration_jobs_get_the_owner_and_the_runtime_url() -> None:
    jobs = [d for d in render(ROLES) if d["kind"] == "Job"]
    assert len(jobs) == 8
    for j in jobs:
        svc = j["metadata"]["name"].removeprefix("kz-kuzet-").removesuffix("-migrate")
        (c,) = j["spec"]["template"]["spec"]["containers"]
        env = _env(c)
        assert _ref(env, f"KUZET_{svc.upper()}_DATABASE_URL") == (OWNER, "database-url")
        assert _ref(env, f"KUZET_{svc.upper()}_RUNTIME_DATABASE_URL") == (RUNTIME, svc)


def test_off_by_default_jobs_and_pods_share_the_url() -> None:
    default_db = next(s for s in SCENARIOS if s.name == "existing-secrets-triton")
    for d in render(default_db):
        if d["kind"] in ("Deployment", "StatefulSet", "Job"):
            for c in d["spec"]["template"]["spec"]["containers"]:
                assert not any(k.endswith("RUNTIME_DATABASE_URL") for k in _env(c))


def _template(*sets: str) -> subprocess.CompletedProcess[str]:
    args = [helm_binary(), "template", "kz", str(CHART), "-f", str(KEYS_FILE), "-f", str(STORES_EGRESS)]
    for s in sets:
        args += ["--set", s]
    return subprocess.run(args, capture_output=True, text=True, check=False)


def test_schema_refuses_runtime_roles_without_their_secret_owner_or_job() -> None:
    on = "database.runtimeRoles.enabled=true"
    no_secret = _template("database.existingSecret=pg", on)
    assert no_secret.returncode != 0 and "runtimeRoles/existingSecret" in no_secret.stderr
    no_owner = _template(on, "database.runtimeRoles.existingSecret=x")
    assert no_owner.returncode != 0 and "/database/existingSecret" in no_owner.stderr
    # The Job is what makes and grants the roles.
    no_job = _template(
        "database.existingSecret=pg",
        on,
        "database.runtimeRoles.existingSecret=x",
        "database.migrations.enabled=false",
    )
    assert no_job.returncode != 0 and "/database/migrations/enabled" in no_job.stderr
    assert (
        _template("database.existingSecret=pg", on, "database.runtimeRoles.existingSecret=x").returncode == 0
    )
