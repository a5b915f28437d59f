"""The chart's audit key Secret and anchor settings (templates/audit-secret.yaml, _audit.tpl)."""

from __future__ import annotations

import base64
import re
import subprocess
from typing import Any

import pytest
from chartlib import CHART, STORES_EGRESS, Scenario, helm_binary, render

from kuzet.common.auditkeys import load_keyring
from kuzet.common.config import AuditSettings

# Federation's own trail records the hub's cross-site searches; at a facility it also reads the
# others' anchors, from the same store, to send them up to the hub.
AUDITING = {"alerting", "badge", "drone", "federation", "gateway", "identity", "ingest", "traffic"}
WITH_S3 = (
    "objectStore.endpoint=minio:9000",
    "objectStore.bucket=kuzet",
    "objectStore.accessKey=access",
    "objectStore.secretKey=secret-key-value",
    "database.url=postgresql://kuzet@pg:5432/kuzet",
)


def _containers(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for d in docs:
        if d.get("kind") in ("Deployment", "StatefulSet"):
            comp = d["metadata"]["labels"]["app.kubernetes.io/component"]
            (c,) = d["spec"]["template"]["spec"]["containers"]
            out[comp] = c
    return out


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def _secret(docs: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((d for d in docs if d.get("kind") == "Secret" and d["metadata"]["name"] == name), None)


def test_the_key_is_generated_once_kept_and_given_to_auditing_components_only() -> None:
    docs = render(Scenario("audit-default"))
    secret = _secret(docs, "kz-kuzet-audit-key")
    assert secret is not None
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    key = base64.b64decode(secret["data"]["audit-key"]).decode()
    assert re.fullmatch(r"helm-[a-z0-9]{8}:[A-Za-z0-9]{48}", key)
    keys = load_keyring(AuditSettings(key=key))  # what the services will accept
    assert keys.current.key_id == key.split(":")[0]
    containers = _containers(docs)
    for comp, container in containers.items():
        env = _env(container)
        if comp in AUDITING:
            ref = env["KUZET_AUDIT_KEY"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "kz-kuzet-audit-key", "key": "audit-key"}
            old = env["KUZET_AUDIT_OLD_KEYS"]["valueFrom"]["secretKeyRef"]
            assert old["optional"] is True and old["key"] == "old-audit-keys"
            assert env["KUZET_AUDIT_ANCHOR_INTERVAL_S"]["value"] == "60"
            assert env["KUZET_AUDIT_ANCHOR_RETENTION_DAYS"]["value"] == "2557"
            # No object store in this install: anchors fall back to files (no variable).
            assert "KUZET_AUDIT_ANCHOR_URL" not in env
        else:
            assert not [n for n in env if n.startswith("KUZET_AUDIT_")], comp
    assert set(containers) >= AUDITING


def test_anchors_go_to_the_object_store_under_object_lock() -> None:
    docs = render(Scenario("audit-s3", (STORES_EGRESS,), sets=WITH_S3))
    containers = _containers(docs)
    for comp in AUDITING:
        env = _env(containers[comp])
        names = list(env)
        url = env["KUZET_AUDIT_ANCHOR_URL"]["value"]
        assert url == "s3://$(KUZET_S3_BUCKET)?endpoint=$(KUZET_S3_ENDPOINT)&secure=true&object_lock=true"
        # $(VAR) expansion sees only variables defined earlier; each variable once (drone has
        # no object store of its own and gets the S3 variables for its anchors).
        for var in ("KUZET_S3_BUCKET", "KUZET_S3_ENDPOINT", "KUZET_S3_ACCESS_KEY", "KUZET_S3_SECRET_KEY"):
            assert names.count(var) == 1 and names.index(var) < names.index("KUZET_AUDIT_ANCHOR_URL"), comp
        settings = AuditSettings(
            anchor_url=url.replace("$(KUZET_S3_BUCKET)", "kuzet").replace(
                "$(KUZET_S3_ENDPOINT)", "minio:9000"
            ),
            anchor_interval_s=float(env["KUZET_AUDIT_ANCHOR_INTERVAL_S"]["value"]),
            anchor_retention_days=int(env["KUZET_AUDIT_ANCHOR_RETENTION_DAYS"]["value"]),
            anchor_prefix=env["KUZET_AUDIT_ANCHOR_PREFIX"]["value"],
        )
        assert settings.anchor_retention_days == 2557
    # Drone and federation write anchors to S3 (and a facility's federation reads the others'
    # there), with no object store of their own, so their NetworkPolicies let them reach it.
    for comp in ("drone", "federation"):
        policy = next(
            d
            for d in docs
            if d.get("kind") == "NetworkPolicy" and d["metadata"]["name"] == f"kz-kuzet-{comp}-egress"
        )
        ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}
        assert {443, 9000} <= ports, comp


def test_an_existing_secret_and_a_separate_anchor_bucket() -> None:
    docs = render(
        Scenario(
            "audit-existing",
            (STORES_EGRESS,),
            sets=(*WITH_S3, "audit.existingSecret=my-audit", "audit.anchors.bucket=kuzet-anchors"),
        )
    )
    assert _secret(docs, "kz-kuzet-audit-key") is None
    env = _env(_containers(docs)["identity"])
    assert env["KUZET_AUDIT_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "my-audit"
    assert env["KUZET_AUDIT_ANCHOR_URL"]["value"].startswith(
        "s3://kuzet-anchors?endpoint=$(KUZET_S3_ENDPOINT)"
    )


@pytest.mark.parametrize(
    "bad",
    ["audit.anchors.retentionDays=0", "audit.anchors.intervalSeconds=0", "audit.components={inference}"],
)
def test_schema_rejects_bad_audit_values(bad: str) -> None:
    out = subprocess.run(
        [helm_binary(), "template", "kz", str(CHART), *Scenario("x").args(), "--set", bad],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0 and "audit" in out.stderr
