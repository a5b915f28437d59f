"""Properties of the rendered chart: hardening, probes, network isolation, secrets, API versions."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from chartlib import (
    CHART,
    KEYS,
    ROOT,
    SCENARIOS,
    TARGET_KUBE,
    Scenario,
    effective_values,
    helm_binary,
    render,
)

from kuzet.common.config import Endpoints, ServiceSettings, load_settings

SERVICES = [
    "inference",
    "identity",
    "alerting",
    "ingest",
    "badge",
    "drone",
    "traffic",
    "federation",
    "gateway",
]
PORTS = {
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
# The badge service's second listener (kuzet.badge.config: device_port, default 50065): Connect only.
DEVICE_PORT_DEFAULT = 50065
# Who calls whom, as ARCHITECTURE.md draws it (stated here independently of values.yaml, so a
# values edit that opens an extra path fails this test).
CALLERS: dict[str, set[str]] = {
    "inference": {"ingest", "identity", "gateway"},
    # The hub's federation follows identity's watchlist changes; a facility's applies them.
    "identity": {"ingest", "federation", "gateway"},
    # A facility's federation follows its alerting; a hub's publishes the facilities' into it.
    "alerting": {"ingest", "identity", "badge", "drone", "traffic", "federation", "gateway"},
    "ingest": {"gateway"},
    "badge": {"gateway"},
    # The diagram's alert -> drone "dispatch" is a pilot's decision taken in the console, so it
    # reaches drone through the gateway; alerting itself never calls drone. Ingest reports what
    # a drone camera's video shows (ReportDetections) and checks a camera's drone exists.
    "drone": {"gateway", "ingest"},
    # Ingest records its traffic cameras' observations; the gateway serves the traffic page.
    "traffic": {"ingest", "gateway"},
    # A hub investigator's cross-site search (the rest of its work is background tasks).
    "federation": {"gateway"},
    "gateway": set(),
    "triton": {"inference"},
}
WORKLOADS = ("Deployment", "StatefulSet", "Job")
COMPONENT = "app.kubernetes.io/component"


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for d in docs:
        if d["kind"] in WORKLOADS:
            tpl = d["spec"]["template"]
            yield f"{d['kind']}/{d['metadata']['name']}", tpl["metadata"].get("labels", {}), tpl["spec"]


def component_of(doc: dict[str, Any]) -> str:
    return str(doc["metadata"]["labels"][COMPONENT])


# -------------------------------------------------------------------------------- tooling ---


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_helm_lint(scenario: Scenario) -> None:
    out = subprocess.run(
        [helm_binary(), "lint", "--strict", str(CHART), *scenario.args()], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_schema_rejects_unknown_calls_and_weak_security() -> None:
    for bad in (
        "components.alerting.calls[0]=bogus",
        "containerSecurityContext.readOnlyRootFilesystem=false",
    ):
        out = subprocess.run(
            [helm_binary(), "template", "kz", str(CHART), "--set", KEYS, "--set", bad],
            capture_output=True,
            text=True,
        )
        assert out.returncode != 0 and "values don't meet the specifications" in out.stderr, bad


def test_schema_and_template_reject_bad_device_port_values() -> None:
    for bad in (
        "components.badge.device.port=0",
        "components.badge.device.port=65536",
        "components.badge.device.port=devices",
        "components.badge.device.maxStreams=0",
        "components.badge.device.service.type=ClusterIP",
        "components.badge.device.service.port=70000",
        "components.badge.device.service.externalTrafficPolicy=Nowhere",
        "components.badge.device.service.loadBalancerSourceRanges[0]=everyone",
        "components.badge.device.bogus=1",
    ):
        out = subprocess.run(
            [helm_binary(), "template", "kz", str(CHART), "--set", KEYS, "--set", bad],
            capture_output=True,
            text=True,
        )
        assert out.returncode != 0 and "values don't meet the specifications" in out.stderr, bad
    for bad, message in (
        ("components.badge.device.port=50055", "must differ from components.badge.port"),
        (
            "components.ingest.device.port=50066,components.ingest.device.maxStreams=10",
            "only the badge service has a device port",
        ),
    ):
        out = subprocess.run(
            [helm_binary(), "template", "kz", str(CHART), "--set", KEYS, "--set", bad],
            capture_output=True,
            text=True,
        )
        assert out.returncode != 0 and message in out.stderr, bad


def test_kubernetes_validate_strict(manifests: list[dict[str, Any]], tmp_path: Any) -> None:
    path = tmp_path / "rendered.yaml"
    path.write_text("\n---\n".join(json.dumps(d) for d in manifests))
    out = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "kubernetes-validate"),
            "--strict",
            "-k",
            TARGET_KUBE,
            "--quiet",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


# ---------------------------------------------------------------------- workloads/pods ---


def test_every_container_is_hardened_with_resources(manifests: list[dict[str, Any]]) -> None:
    for where, _labels, spec in pod_specs(manifests):
        pod_sc = spec.get("securityContext", {})
        assert pod_sc.get("runAsNonRoot") is True, where
        assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        for c in spec.get("initContainers", []) + spec["containers"]:
            name = f"{where}:{c['name']}"
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(res.get(part, {})), f"{name} lacks {part}"
            sc = c.get("securityContext", {})
            assert sc.get("allowPrivilegeEscalation") is False, name
            assert sc.get("readOnlyRootFilesystem") is True, name
            assert sc.get("runAsNonRoot") is True, name
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], name
            assert not sc.get("capabilities", {}).get("add"), name
            assert sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
            assert sc.get("privileged") in (None, False), name
            # A read-only root needs a writable /tmp.
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{name} has no /tmp volume"
            vols = {v["name"]: v for v in spec.get("volumes", [])}
            assert "emptyDir" in vols[mounts["/tmp"]], name


def test_long_running_containers_have_probes(manifests: list[dict[str, Any]]) -> None:
    for d in manifests:
        if d["kind"] not in ("Deployment", "StatefulSet"):
            continue
        comp = component_of(d)
        for c in d["spec"]["template"]["spec"]["containers"]:
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert probe in c, f"{comp}:{c['name']} lacks {probe}"
            if comp in PORTS and comp != "gateway":
                # TCP: the port serves mTLS only and the kubelet's gRPC probe cannot show a
                # certificate (test_tls.py: native gRPC health checking under plaintext-dev).
                assert c["readinessProbe"]["tcpSocket"] == {"port": "grpc"}
                assert c["livenessProbe"]["tcpSocket"] == {"port": "grpc"}
            elif comp == "gateway":
                assert c["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_images_are_pinned_and_not_latest(manifests: list[dict[str, Any]]) -> None:
    for where, _labels, spec in pod_specs(manifests):
        for c in spec.get("initContainers", []) + spec["containers"]:
            image = c["image"]
            assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), f"{where}: {image}"


def test_only_lease_holders_get_api_credentials(
    manifests: list[dict[str, Any]], values: dict[str, Any]
) -> None:
    holders = {n for n, c in values["components"].items() if c.get("enabled") and c.get("leases")}
    assert holders == {"alerting", "badge", "drone", "identity", "ingest", "traffic"}
    for where, labels, spec in pod_specs(manifests):
        assert spec.get("automountServiceAccountToken") is (labels.get(COMPONENT) in holders), where
    roles = by_kind(manifests, "Role")
    assert len(roles) == 1
    assert roles[0]["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
        }
    ]
    (binding,) = by_kind(manifests, "RoleBinding")
    assert {s["name"] for s in binding["subjects"]} == {f"kz-kuzet-{h}" for h in holders}


def test_components_kinds_pdbs_hpas_and_spread(
    manifests: list[dict[str, Any]], values: dict[str, Any]
) -> None:
    workloads = {component_of(d): d for d in manifests if d["kind"] in ("Deployment", "StatefulSet")}
    enabled = {n for n, c in values["components"].items() if c["enabled"]}
    expected = enabled | ({"triton"} if values["triton"]["enabled"] else set())
    assert set(workloads) == expected
    assert workloads["ingest"]["kind"] == "StatefulSet"
    assert workloads["ingest"]["spec"]["serviceName"] == "kz-kuzet-ingest-headless"
    hpas = {component_of(d) for d in by_kind(manifests, "HorizontalPodAutoscaler")}
    assert hpas == {
        n for n in ("gateway", "inference", "identity") if values["components"][n]["autoscaling"]["enabled"]
    }
    pdbs = {component_of(d) for d in by_kind(manifests, "PodDisruptionBudget")}
    assert pdbs == {n for n in expected if (values["components"].get(n) or values["triton"]).get("pdb")}
    for comp, d in workloads.items():
        spec = d["spec"]["template"]["spec"]
        if values["topologySpread"]["enabled"]:
            keys = {t["topologyKey"] for t in spec["topologySpreadConstraints"]}
            assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}, comp
        if comp in hpas:
            assert "replicas" not in d["spec"], f"{comp}: the HPA owns replicas"


def test_services_name_their_ports(manifests: list[dict[str, Any]], values: dict[str, Any]) -> None:
    device = values["components"]["badge"]["device"]
    for svc in by_kind(manifests, "Service"):
        comp = component_of(svc)
        names = [p["name"] for p in svc["spec"]["ports"]]
        if svc["metadata"]["name"] == "kz-kuzet-badge-devices":
            assert names == ["devices"]
            assert svc["spec"]["ports"][0]["targetPort"] == "devices"
        elif comp == "gateway":
            assert names == ["http"]
        elif comp == "triton":
            assert names == ["grpc", "metrics"]
        elif comp == "badge":
            assert names == ["grpc", "devices"]
            assert [p["port"] for p in svc["spec"]["ports"]] == [PORTS[comp], device["port"]]
            assert svc["spec"]["ports"][1]["targetPort"] == "devices"
        else:
            assert names == ["grpc"]
            assert svc["spec"]["ports"][0]["port"] == PORTS[comp]


def test_triton_component(manifests: list[dict[str, Any]], values: dict[str, Any]) -> None:
    if not values["triton"]["enabled"]:
        assert not [d for d in manifests if d["metadata"]["labels"].get(COMPONENT) == "triton"]
        return
    (dep,) = [d for d in by_kind(manifests, "Deployment") if component_of(d) == "triton"]
    spec = dep["spec"]["template"]["spec"]
    (triton,) = spec["containers"]
    assert triton["image"].startswith("nvcr.io/nvidia/tritonserver:")
    assert triton["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert spec["nodeSelector"]["nvidia.com/gpu.present"] == "true"
    assert any(t["key"] == "nvidia.com/gpu" for t in spec["tolerations"])
    assert "--model-repository=/models" in triton["args"]
    assert {p["name"] for p in triton["ports"]} == {"grpc", "http", "metrics"}
    (fetch,) = spec["initContainers"]
    assert fetch["args"][:3] == ["--config-dir=/tmp/mc", "mirror", "--overwrite"]
    env = {e["name"]: e for e in fetch["env"]}
    assert "secretKeyRef" in env["KUZET_S3_SECRET_KEY"]["valueFrom"]
    # The inference service is told where Triton is.
    cm = config_maps(manifests)["kz-kuzet-inference-env"]
    assert cm["KUZET_ENDPOINT_TRITON"] == "kz-kuzet-triton:8001"


def test_old_api_server_gets_old_api_versions_and_tcp_probes() -> None:
    docs = render(Scenario("default"), kube_version="1.20.0")
    assert {d["apiVersion"] for d in by_kind(docs, "PodDisruptionBudget")} == {"policy/v1beta1"}
    assert {d["apiVersion"] for d in by_kind(docs, "HorizontalPodAutoscaler")} == {"autoscaling/v2beta2"}
    ingest = next(d for d in by_kind(docs, "StatefulSet"))
    assert ingest["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["tcpSocket"] == {
        "port": "grpc"
    }


# ------------------------------------------------------------------------ configuration ---


def config_maps(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {d["metadata"]["name"]: d.get("data", {}) for d in by_kind(docs, "ConfigMap")}


def container_env(docs: list[dict[str, Any]], comp: str) -> dict[str, dict[str, Any]]:
    (d,) = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet") and component_of(d) == comp]
    (c,) = d["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e for e in c.get("env", [])}


def test_env_names_follow_kuzet_common_config(
    manifests: list[dict[str, Any]], values: dict[str, Any]
) -> None:
    fields = set(ServiceSettings.model_fields)
    assert {
        "host",
        "port",
        "database_url",
        "object_store_url",
        "otlp_endpoint",
        "log_level",
        "data_dir",
    } <= fields
    cms = config_maps(manifests)
    for comp, c in values["components"].items():
        if not c["enabled"]:
            continue
        svc = comp.upper()
        cm = cms[f"kz-kuzet-{comp}-env"]
        assert cm[f"KUZET_{svc}_HOST"] == "0.0.0.0"
        assert cm[f"KUZET_{svc}_PORT"] == str(PORTS[comp])
        assert cm["KUZET_DATA_DIR"] == "/var/lib/kuzet"
        assert cm["KUZET_LOG_LEVEL"] in ("DEBUG", "INFO", "WARNING", "ERROR")
        if values["telemetry"]["otlpEndpoint"]:
            assert cm["KUZET_OTLP_ENDPOINT"] == values["telemetry"]["otlpEndpoint"]
        # Endpoints of exactly the callees (the ones kuzet.common.config.Endpoints knows).
        endpoints = {k.removeprefix("KUZET_ENDPOINT_").lower() for k in cm if k.startswith("KUZET_ENDPOINT_")}
        callees = {n for n in c["calls"] if (n == "triton" and values["triton"]["enabled"]) or n in SERVICES}
        assert endpoints == {n for n in callees if (values["components"].get(n) or {}).get("enabled", True)}
        assert (endpoints - {"triton"}) <= set(Endpoints.model_fields)
        for callee in endpoints - {"triton"}:
            assert cm[f"KUZET_ENDPOINT_{callee.upper()}"] == f"kz-kuzet-{callee}:{PORTS[callee]}"
        env = container_env(manifests, comp)
        db_configured = bool(values["database"]["existingSecret"] or values["database"]["url"])
        if c["database"] and db_configured:
            assert "secretKeyRef" in env[f"KUZET_{svc}_DATABASE_URL"]["valueFrom"]
        else:
            assert f"KUZET_{svc}_DATABASE_URL" not in env
        os_configured = bool(values["objectStore"]["existingSecret"] or values["objectStore"]["endpoint"])
        if c["objectStore"] and os_configured:
            url = env[f"KUZET_{svc}_OBJECT_STORE_URL"]["value"]
            assert url.startswith("s3://$(KUZET_S3_BUCKET)?endpoint=$(KUZET_S3_ENDPOINT)")
            for key in ("KUZET_S3_ACCESS_KEY", "KUZET_S3_SECRET_KEY", "KUZET_S3_BUCKET", "KUZET_S3_ENDPOINT"):
                assert "secretKeyRef" in env[key]["valueFrom"]
                # $(VAR) expansion only sees variables defined earlier in the list.
                assert list(env).index(key) < list(env).index(f"KUZET_{svc}_OBJECT_STORE_URL")
        assert env["KUZET_POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


SECRETISH = re.compile(r"(PASSWORD|SECRET|TOKEN|ACCESS_KEY|PRIVATE|DATABASE_URL|DSN|CREDENTIAL)", re.I)
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


def test_no_secret_values_in_config_maps(manifests: list[dict[str, Any]]) -> None:
    secret_values = set()
    for s in by_kind(manifests, "Secret"):
        secret_values |= {v for v in (s.get("stringData") or {}).values() if len(v) >= 6}
    for name, data in config_maps(manifests).items():
        for key, value in data.items():
            assert not SECRETISH.search(key), f"ConfigMap {name} has a secret-looking key {key}"
            assert not URL_WITH_PASSWORD.search(value), f"ConfigMap {name}:{key} holds credentials"
            for secret in secret_values:
                assert secret not in value, f"ConfigMap {name}:{key} holds a Secret's value"
    # Nor inline in a pod's env: secrets only arrive through secretKeyRef.
    for where, _labels, spec in pod_specs(manifests):
        for c in spec.get("initContainers", []) + spec["containers"]:
            for e in c.get("env", []):
                if SECRETISH.search(e["name"]) and e["name"] != "KUZET_TENANCY_FILE":
                    assert "valueFrom" in e, f"{where}: {e['name']} is inline"
                for secret in secret_values:
                    assert secret not in str(e.get("value", "")), f"{where}: {e['name']} holds a secret"


def test_dev_secrets_exist_only_for_inline_values(
    manifests: list[dict[str, Any]], values: dict[str, Any]
) -> None:
    names = {s["metadata"]["name"] for s in by_kind(manifests, "Secret")}
    assert ("kz-kuzet-database" in names) == bool(
        values["database"]["url"] and not values["database"]["existingSecret"]
    )
    for s in by_kind(manifests, "Secret"):
        if s["metadata"]["name"].endswith(("-tls", "-tls-ca")):
            continue  # certificates (templates/tls.yaml): no migration reads them
        # The audit key is no hook: made once and kept across upgrades (templates/audit-secret.yaml);
        # the caller keys are the operator's (or, dev, made with the release).
        if s["metadata"]["name"] not in ("kz-kuzet-caller-keys", "kz-kuzet-audit-key"):
            # Migration hooks read them, so they are hooks that run first.
            assert s["metadata"]["annotations"]["helm.sh/hook-weight"] == "-20"


def test_migrations_are_pre_install_upgrade_hooks(
    manifests: list[dict[str, Any]], values: dict[str, Any]
) -> None:
    jobs = by_kind(manifests, "Job")
    db_configured = bool(values["database"]["existingSecret"] or values["database"]["url"])
    expected = (
        {n for n, c in values["components"].items() if c["enabled"] and c["database"]}
        if db_configured
        else set()
    )
    assert {
        j["metadata"]["name"].removeprefix("kz-kuzet-").removesuffix("-migrate") for j in jobs
    } == expected
    for j in jobs:
        ann = j["metadata"]["annotations"]
        assert ann["helm.sh/hook"] == "pre-install,pre-upgrade"
        (c,) = j["spec"]["template"]["spec"]["containers"]
        comp = j["metadata"]["name"].removeprefix("kz-kuzet-").removesuffix("-migrate")
        assert c["command"] == ["python", "-m", "kuzet.common.migratejob", comp]
        assert j["spec"]["template"]["spec"]["serviceAccountName"] == "kz-kuzet-migrations"
    if jobs:
        (sa,) = [
            s for s in by_kind(manifests, "ServiceAccount") if s["metadata"]["name"] == "kz-kuzet-migrations"
        ]
        assert int(sa["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0


def test_tenancy_config_lists_agencies_and_sites(
    manifests: list[dict[str, Any]], values: dict[str, Any]
) -> None:
    tenancy = json.loads(config_maps(manifests)["kz-kuzet-tenancy"]["tenancy.json"])
    assert tenancy["region"] == values["global"]["region"]
    assert tenancy["agencies"] == values.get("agencies", [])


def test_example_region_has_prison_and_police() -> None:
    docs = render(next(s for s in SCENARIOS if s.name == "example:region-prison-police"))
    tenancy = json.loads(config_maps(docs)["kz-kuzet-tenancy"]["tenancy.json"])
    assert {a["kind"] for a in tenancy["agencies"]} == {"prison", "police"}
    assert all(a["sites"] for a in tenancy["agencies"])


# ----------------------------------------------------------------------- network policy ---


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert not selector.get("matchExpressions"), "tests only model matchLabels"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _pods(manifests: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [labels for _w, labels, _s in pod_specs(manifests)]


def _port_matches(rule_ports: list[dict[str, Any]] | None, port: int, names: set[str]) -> bool:
    if not rule_ports:
        return True
    return any(p.get("port") in (port, *names) for p in rule_ports)


def allowed_sources(manifests: list[dict[str, Any]], target: dict[str, str], port: int, port_names: set[str]):  # type: ignore[no-untyped-def]
    """Components (in this release) and external peers NetworkPolicies let reach ``target:port``."""
    pods = _pods(manifests)
    components: set[str] = set()
    external: list[dict[str, Any]] = []
    selected = False
    for np in by_kind(manifests, "NetworkPolicy"):
        spec = np["spec"]
        if "Ingress" not in spec["policyTypes"] or not _selects(spec["podSelector"], target):
            continue
        selected = True
        for rule in spec.get("ingress") or []:
            assert rule.get("from"), (
                f"{np['metadata']['name']}: an ingress rule without 'from' allows everyone"
            )
            if not _port_matches(rule.get("ports"), port, port_names):
                continue
            for peer in rule["from"]:
                if set(peer) == {"podSelector"}:
                    matched = {p[COMPONENT] for p in pods if _selects(peer["podSelector"], p)}
                    assert matched, f"{np['metadata']['name']}: selector matches no pod: {peer}"
                    components |= matched
                else:
                    external.append(peer)
    return selected, components, external


def test_default_deny_covers_every_pod(manifests: list[dict[str, Any]]) -> None:
    (deny,) = [
        np for np in by_kind(manifests, "NetworkPolicy") if np["metadata"]["name"].endswith("default-deny")
    ]
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    for labels in _pods(manifests):
        assert _selects(deny["spec"]["podSelector"], labels)


def test_every_service_port_admits_exactly_its_callers(
    manifests: list[dict[str, Any]], values: dict[str, Any]
) -> None:
    enabled = {n for n, c in values["components"].items() if c["enabled"]}
    for svc in by_kind(manifests, "Service"):
        if svc["spec"].get("clusterIP") == "None":
            continue  # headless twin of a Service checked below
        comp = component_of(svc)
        target = next(p for p in _pods(manifests) if _selects({"matchLabels": svc["spec"]["selector"]}, p))
        container_ports = {
            cp["name"]: cp["containerPort"]
            for _w, labels, spec in pod_specs(manifests)
            if labels == target
            for c in spec["containers"]
            for cp in c.get("ports", [])
        }
        for port in svc["spec"]["ports"]:
            # NetworkPolicies name the pod's port: a Service may publish it under another number.
            number = container_ports.get(port.get("targetPort"), port["port"])
            selected, components, external = allowed_sources(
                manifests, target, number, {port["name"], port.get("targetPort")}
            )
            assert selected, f"no NetworkPolicy selects {comp}"
            where = f"{comp}:{port['name']}"
            if port["name"] == "metrics":
                assert components == set(), where
                assert external == values["triton"]["metricsFrom"], where
                continue
            rules = (values["components"].get(comp) or {}).get("extraIngress", [])
            if port["name"] == "devices":
                # Badges only, from the peers they come through: no component, and the API
                # port's extraIngress peers only where a rule names the device port.
                assert components == set(), where
                device = values["components"][comp]["device"]
                extra = [
                    peer
                    for rule in rules
                    if _port_matches(
                        [
                            q if isinstance(q, dict) else {"port": q}
                            for q in rule.get("ports") or [PORTS[comp]]
                        ],
                        number,
                        {"devices"},
                    )
                    for peer in rule["from"]
                ]
                assert external == device["from"] + extra, where
                continue
            assert components == CALLERS[comp] & enabled, where
            extra = [peer for rule in rules for peer in rule["from"]]
            assert external == extra, where


def test_egress_reaches_exactly_the_callees(manifests: list[dict[str, Any]], values: dict[str, Any]) -> None:
    enabled = {n for n, c in values["components"].items() if c["enabled"]}
    if values["triton"]["enabled"]:
        enabled.add("triton")
    pods = _pods(manifests)
    for comp in enabled:
        me = next(p for p in pods if p[COMPONENT] == comp)
        reached: set[str] = set()
        for np in by_kind(manifests, "NetworkPolicy"):
            spec = np["spec"]
            if "Egress" not in spec["policyTypes"] or not _selects(spec["podSelector"], me):
                continue
            for rule in spec.get("egress") or []:
                assert rule.get("ports"), f"{np['metadata']['name']}: egress rule open on every port"
                for peer in rule.get("to", []):
                    if set(peer) == {"podSelector"}:
                        reached |= {p[COMPONENT] for p in pods if _selects(peer["podSelector"], p)}
        callees = {callee for callee, callers in CALLERS.items() if comp in callers and callee in enabled}
        assert reached == callees, comp


def test_dns_and_dependencies_egress(manifests: list[dict[str, Any]], values: dict[str, Any]) -> None:
    policies = {np["metadata"]["name"]: np["spec"] for np in by_kind(manifests, "NetworkPolicy")}
    for comp, c in values["components"].items():
        if not c["enabled"]:
            continue
        egress = policies[f"kz-kuzet-{comp}-egress"]["egress"]
        dns = egress[0]
        assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
        ports = [{p["port"] for p in rule["ports"]} for rule in egress]
        if c["database"] and (values["database"]["existingSecret"] or values["database"]["url"]):
            assert set(values["database"]["egress"]["ports"]) in ports, comp
        if values["telemetry"]["otlpEndpoint"]:
            assert set(values["telemetry"]["egress"]["ports"]) in ports, comp


def test_network_check_catches_a_call_the_architecture_does_not_draw() -> None:
    # badge -> identity is not drawn; opening it in values must break the exact-callers property.
    docs = render(Scenario("undrawn", sets=("components.badge.calls={alerting,identity}",)))
    target = next(p for p in _pods(docs) if p[COMPONENT] == "identity")
    _selected, components, _external = allowed_sources(docs, target, PORTS["identity"], {"grpc"})
    assert components == CALLERS["identity"] | {"badge"} != CALLERS["identity"]


def settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"kuzet.{service}.config")
    found: list[type[ServiceSettings]] = [
        c
        for _n, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, ServiceSettings) and c is not ServiceSettings
    ]
    (cls,) = [c for c in found if c.service_name == service]
    return cls


# Stand-ins for Secret-backed variables: the kubelet fills them in from the Secrets.
SECRET_STANDINS = {
    "DATABASE_URL": "postgresql://kuzet:pw@db:5432/kuzet",
    "KUZET_S3_ENDPOINT": "minio:9000",
    "KUZET_S3_BUCKET": "kuzet",
    "KUZET_S3_ACCESS_KEY": "ak",
    "KUZET_S3_SECRET_KEY": "sk",
}


def pod_environment(docs: list[dict[str, Any]], comp: str) -> dict[str, str]:
    """The environment the container would see, as the kubelet builds it."""
    env = dict(config_maps(docs)[f"kz-kuzet-{comp}-env"])
    for name, e in container_env(docs, comp).items():
        if "value" in e:
            env[name] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), ""), e["value"])
        elif "fieldRef" in e["valueFrom"]:
            env[name] = f"kz-kuzet-{comp}-0"
        else:
            env[name] = next((v for k, v in SECRET_STANDINS.items() if name.endswith(k)), "from-a-secret")
    return env


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_each_service_accepts_the_charts_settings(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = render(scenario)
    values = effective_values(scenario)
    for comp, c in values["components"].items():
        if not c["enabled"]:
            continue
        cls = settings_class(comp)
        env = pod_environment(docs, comp)
        prefix = f"KUZET_{comp.upper()}_"
        # extra="ignore" would silently drop a misspelt variable: every one must be a field.
        unknown = {k for k in env if k.startswith(prefix)} - {prefix + f.upper() for f in cls.model_fields}
        assert not unknown, f"{comp}: variables no setting reads: {sorted(unknown)}"
        for key in [k for k in os.environ if k.startswith("KUZET_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings: Any = load_settings(cls)  # raises ConfigError naming every bad value
        assert settings.listen_port == PORTS[comp]
        assert settings.host == "0.0.0.0"
        if c["database"] and (values["database"]["existingSecret"] or values["database"]["url"]):
            assert settings.database_url.startswith("postgresql://")
        if c["objectStore"] and (
            values["objectStore"]["existingSecret"] or values["objectStore"]["endpoint"]
        ):
            assert settings.object_store_url.startswith("s3://kuzet?endpoint=minio:9000")
        if comp == "ingest":
            assert settings.replica_id == "kz-kuzet-ingest-0"
            # The live replica set comes from the membership Leases, not a fixed pod list.
            assert settings.replicas == []
            assert settings.lease_duration_s == c["leaseDurationSeconds"]
        if comp == "drone":
            assert settings.leadership == "kubernetes"
        if comp == "badge":
            assert settings.device_port == c["device"]["port"] != settings.listen_port
            assert settings.device_max_streams == c["device"]["maxStreams"]
        if comp == "inference" and values["triton"]["enabled"]:
            assert settings.backend == "triton"
            assert settings.triton_url == "kz-kuzet-triton:8001"
        monkeypatch.undo()


def test_ingresses_are_tls_and_reach_a_named_service_port(
    manifests: list[dict[str, Any]], values: dict[str, Any]
) -> None:
    services = {
        s["metadata"]["name"]: {p["name"] for p in s["spec"]["ports"]} for s in by_kind(manifests, "Service")
    }
    ingresses = by_kind(manifests, "Ingress")
    assert {component_of(i) for i in ingresses} == {
        n
        for n, ing in values.get("ingress", {}).items()
        if ing["enabled"] and values["components"][n]["enabled"]
    }
    for ing in ingresses:
        spec = ing["spec"]
        assert spec["tls"] and spec["tls"][0]["secretName"]
        for rule in spec["rules"]:
            assert rule["host"] in spec["tls"][0]["hosts"]
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["port"]["name"] in services[backend["name"]]
        # The controller is admitted by a NetworkPolicy peer from values, not by an open port
        # (the badge Ingress reaches the device port, whose peers are device.from).
        component = values["components"][component_of(ing)]
        peers = component["device"]["from"] if component_of(ing) == "badge" else component["extraIngress"]
        assert peers, component_of(ing)


# ------------------------------------------------------------------- badge device port ---


def test_badge_device_port_is_declared_exposed_and_admitted(
    manifests: list[dict[str, Any]], values: dict[str, Any]
) -> None:
    badge = values["components"]["badge"]
    device = badge["device"]
    # Container port `devices` and the settings the service reads (KUZET_BADGE_DEVICE_*).
    (dep,) = [d for d in by_kind(manifests, "Deployment") if component_of(d) == "badge"]
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {
        "grpc": PORTS["badge"],
        "devices": device["port"],
    }
    cm = config_maps(manifests)["kz-kuzet-badge-env"]
    assert cm["KUZET_BADGE_DEVICE_PORT"] == str(device["port"])
    assert cm["KUZET_BADGE_DEVICE_MAX_STREAMS"] == str(device["maxStreams"])
    # Probes stay on the API port (TCP: it serves mTLS only).
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["tcpSocket"] == {"port": "grpc"}, probe
    # Only the badge has a device port.
    for other in by_kind(manifests, "ConfigMap"):
        if other["metadata"]["name"] != "kz-kuzet-badge-env":
            assert not any("DEVICE_PORT" in k for k in other.get("data", {})), other["metadata"]["name"]
    # The device port is admitted exactly from device.from, on that port alone; those peers get
    # nothing on the API port.
    (np,) = [
        n for n in by_kind(manifests, "NetworkPolicy") if n["metadata"]["name"] == "kz-kuzet-badge-ingress"
    ]
    device_rules = [r for r in np["spec"]["ingress"] if {p["port"] for p in r["ports"]} == {device["port"]}]
    if device["from"]:
        assert device_rules == [
            {"from": device["from"], "ports": [{"port": device["port"], "protocol": "TCP"}]}
        ]
    else:
        assert device_rules == []
    api_peers = [
        peer
        for r in np["spec"]["ingress"]
        if any(p["port"] == PORTS["badge"] for p in r["ports"])
        for peer in r["from"]
    ]
    assert not [peer for peer in device["from"] if peer in api_peers]
    # The Service of its own, only when asked for.
    exposed = [s for s in by_kind(manifests, "Service") if s["metadata"]["name"] == "kz-kuzet-badge-devices"]
    if not device["service"]["enabled"]:
        assert exposed == []
        return
    (svc,) = exposed
    spec = svc["spec"]
    assert spec["type"] == device["service"]["type"]
    assert spec["selector"][COMPONENT] == "badge"
    assert spec["ports"] == [
        {
            "name": "devices",
            "port": device["service"]["port"],
            "targetPort": "devices",
            "protocol": "TCP",
            "appProtocol": "grpc",
        }
    ]
    assert svc["metadata"].get("annotations", {}) == device["service"]["annotations"]
    if device["service"]["type"] == "LoadBalancer":
        assert spec.get("loadBalancerSourceRanges", []) == device["service"]["loadBalancerSourceRanges"]
    assert spec.get("externalTrafficPolicy", "") == device["service"]["externalTrafficPolicy"]


def test_badge_device_port_as_node_port() -> None:
    docs = render(
        Scenario(
            "devices-nodeport",
            sets=(
                "components.badge.device.service.enabled=true",
                "components.badge.device.service.type=NodePort",
                "components.badge.device.service.nodePort=30065",
                "components.badge.device.service.loadBalancerSourceRanges={10.0.0.0/8}",
            ),
        )
    )
    (svc,) = [s for s in by_kind(docs, "Service") if s["metadata"]["name"] == "kz-kuzet-badge-devices"]
    assert svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["ports"][0]["nodePort"] == 30065
    assert svc["spec"]["ports"][0]["port"] == 443
    # Source ranges are a cloud load balancer's; a NodePort Service does not carry them.
    assert "loadBalancerSourceRanges" not in svc["spec"]
    # Without device.from the default deny keeps the device port closed.
    (np,) = [n for n in by_kind(docs, "NetworkPolicy") if n["metadata"]["name"] == "kz-kuzet-badge-ingress"]
    assert all(p["port"] != DEVICE_PORT_DEFAULT for r in np["spec"]["ingress"] for p in r["ports"])


def test_badge_device_port_can_be_left_out() -> None:
    docs = render(Scenario("no-device", sets=("components.badge.device=null",)))
    (dep,) = [d for d in by_kind(docs, "Deployment") if component_of(d) == "badge"]
    assert [p["name"] for p in dep["spec"]["template"]["spec"]["containers"][0]["ports"]] == ["grpc"]
    (svc,) = [s for s in by_kind(docs, "Service") if component_of(s) == "badge"]
    assert [p["name"] for p in svc["spec"]["ports"]] == ["grpc"]
    assert "KUZET_BADGE_DEVICE_PORT" not in config_maps(docs)["kz-kuzet-badge-env"]
