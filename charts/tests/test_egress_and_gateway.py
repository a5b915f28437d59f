"""No egress rule that allows any host; the gateway's issuers (with their agencies) and trusted
proxies as chart values, rendered into its settings."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import yaml
from chartlib import CHART, STORES_EGRESS, Scenario, helm_binary, render
from kubernetes import client

from kuzet.common.k8stest import KubeApiServer, kube_apiserver  # noqa: F401 - fixture
from kuzet.gateway.config import GatewaySettings


def _template(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm_binary(), "template", "kz", str(CHART), *Scenario("x").args(), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def _gateway_config(docs: list[dict[str, Any]]) -> dict[str, str]:
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "kz-kuzet-gateway-env"]
    return dict(cm["data"])


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (("--set", "database.existingSecret=pg"), "database.egress"),
        (("--set", "objectStore.existingSecret=s3"), "objectStore.egress"),
        (("--set", "telemetry.otlpEndpoint=collector:4317"), "telemetry.egress"),
        (("--set", "components.drone.extraEgress[0].ports[0]=14550"), "components.drone.extraEgress[0]"),
        (
            ("--set-json", 'components.gateway.extraEgress=[{"ports": [443], "to": []}]'),
            "components.gateway.extraEgress[0]",
        ),
    ],
)
def test_an_egress_rule_without_peers_fails_the_render(args: tuple[str, ...], where: str) -> None:
    out = _template(*args)
    assert out.returncode != 0
    assert f"{where}: a NetworkPolicy egress rule needs `to`" in out.stderr, out.stderr
    assert "would be open to every address" in out.stderr


def test_egress_rules_with_peers_render_them() -> None:
    docs = render(
        Scenario(
            "stores-and-api",
            (STORES_EGRESS,),
            sets=(
                "database.existingSecret=pg",
                "objectStore.existingSecret=s3",
                "telemetry.otlpEndpoint=collector:4317",
                "global.kubernetesApi.cidrs={10.96.0.1/32}",
            ),
        )
    )
    policies = [d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"].endswith("-egress")]
    assert policies
    for np in policies:
        for rule in np["spec"]["egress"]:
            assert rule.get("to"), f"{np['metadata']['name']}: {rule}"
    ingest = next(np for np in policies if np["metadata"]["name"] == "kz-kuzet-ingest-egress")
    api = [r for r in ingest["spec"]["egress"] if {p["port"] for p in r["ports"]} == {443, 6443}]
    assert api and api[0]["to"] == [{"ipBlock": {"cidr": "10.96.0.1/32"}}]


def test_gateway_issuers_and_trusted_proxies_become_its_settings() -> None:
    docs = render(
        Scenario(
            "gateway-issuers",
            sets=(
                "components.gateway.issuers[0].issuer=https://sso.prison.example/realms/staff",
                "components.gateway.issuers[0].agencies={prison}",
                "components.gateway.issuers[1].issuer=https://sso.police.example/realms/officers",
                "components.gateway.issuers[1].agencies={police,traffic}",
                "components.gateway.trustedProxies={10.42.0.0/16,192.0.2.7}",
            ),
        )
    )
    config = _gateway_config(docs)
    assert json.loads(config["KUZET_GATEWAY_ISSUERS"]) == [
        "https://sso.prison.example/realms/staff",
        "https://sso.police.example/realms/officers",
    ]
    assert json.loads(config["KUZET_GATEWAY_ISSUER_AGENCIES"]) == {
        "https://sso.prison.example/realms/staff": ["prison"],
        "https://sso.police.example/realms/officers": ["police", "traffic"],
    }
    assert json.loads(config["KUZET_GATEWAY_TRUSTED_PROXIES"]) == ["10.42.0.0/16", "192.0.2.7"]
    # The gateway reads them as rendered.
    settings = GatewaySettings.model_validate(
        {
            "issuers": json.loads(config["KUZET_GATEWAY_ISSUERS"]),
            "issuer_agencies": json.loads(config["KUZET_GATEWAY_ISSUER_AGENCIES"]),
            "trusted_proxies": json.loads(config["KUZET_GATEWAY_TRUSTED_PROXIES"]),
        }
    )
    assert settings.issuer_agencies["https://sso.police.example/realms/officers"] == ["police", "traffic"]
    # Nothing set: no such settings (the gateway's own defaults apply).
    default = _gateway_config(render(Scenario("default")))
    assert not {"KUZET_GATEWAY_ISSUER_AGENCIES", "KUZET_GATEWAY_TRUSTED_PROXIES"} & set(default)


@pytest.mark.parametrize(
    "bad",
    [
        ("components.gateway.issuers[0].issuer=https://sso.example",),  # no agencies
        (
            "components.gateway.issuers[0].issuer=http://sso.example",
            "components.gateway.issuers[0].agencies={prison}",
        ),
        ("components.gateway.trustedProxies={not-an-address}",),
    ],
)
def test_schema_refuses_bad_gateway_values(bad: tuple[str, ...]) -> None:
    out = _template(*(a for s in bad for a in ("--set", s)))
    assert out.returncode != 0 and "values don't meet the specifications of the schema" in out.stderr, (
        out.stderr
    )


def test_issuers_in_both_places_fail() -> None:
    out = _template(
        "--set",
        "components.gateway.issuers[0].issuer=https://sso.example",
        "--set",
        "components.gateway.issuers[0].agencies={prison}",
        "--set-string",
        "components.gateway.env.KUZET_GATEWAY_ISSUERS=[]",
    )
    assert out.returncode != 0 and "not in env.KUZET_GATEWAY_ISSUERS" in out.stderr, out.stderr


def test_kubernetes_api_egress_uses_the_api_servers_own_addresses(kube_apiserver: KubeApiServer) -> None:  # noqa: F811
    """No cidrs given: rendered against a cluster, the Lease holders reach only the addresses the
    API server publishes for itself (Endpoints default/kubernetes)."""
    core: Any = client.CoreV1Api(kube_apiserver.api_client())
    try:
        published = core.read_namespaced_endpoints("kubernetes", "default")
    except client.ApiException:
        # This bare API server runs no endpoint reconciler: publish what a cluster's would.
        published = core.create_namespaced_endpoints(
            "default",
            client.V1Endpoints(
                metadata=client.V1ObjectMeta(name="kubernetes"),
                subsets=[
                    client.V1EndpointSubset(
                        addresses=[client.V1EndpointAddress(ip="10.0.0.1")],
                        ports=[client.CoreV1EndpointPort(name="https", port=6443)],
                    )
                ],
            ),
        )
    expected = [{"ipBlock": {"cidr": f"{a.ip}/32"}} for s in published.subsets for a in s.addresses]
    out = subprocess.run(
        [
            helm_binary(),
            "--kubeconfig",
            str(kube_apiserver.kubeconfig),
            "template",
            "kz",
            str(CHART),
            *Scenario("api").args(),
            "--dry-run=server",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    ingest = next(
        d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "kz-kuzet-ingest-egress"
    )
    (api,) = [r for r in ingest["spec"]["egress"] if {p["port"] for p in r["ports"]} == {443, 6443}]
    assert api.get("to") == expected, api
