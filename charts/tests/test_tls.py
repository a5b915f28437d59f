"""The chart's mTLS: a certificate per component from a CA the chart keeps (or from cert-manager),
mounted by its component, good for a real gRPC handshake under the names the other components dial."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import grpc
import pytest
from chartlib import CHART, STORES_EGRESS, Scenario, render
from cryptography import x509
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from kubernetes import client
from test_install import helm

from kuzet.common.config import TlsSettings
from kuzet.common.k8stest import KubeApiServer, kube_apiserver  # noqa: F401 - fixture
from kuzet.common.tls import bind, secure_channel, server_credentials

GRPC_COMPONENTS = {"alerting", "badge", "drone", "federation", "identity", "inference", "ingest", "traffic"}
CERT_MANAGER = Scenario(
    "cert-manager",
    (STORES_EGRESS,),
    sets=("tls.certManager.enabled=true", "tls.certManager.issuerRef.name=kuzet-ca", "triton.enabled=true",
          "objectStore.existingSecret=s3"),
)  # fmt: skip


def _kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def _component(doc: dict[str, Any]) -> str:
    return str(doc["metadata"]["labels"]["app.kubernetes.io/component"])


def _workloads(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {_component(d): d for d in docs if d["kind"] in ("Deployment", "StatefulSet")}


def _secret(docs: list[dict[str, Any]], name: str) -> dict[str, bytes]:
    (doc,) = [d for d in _kind(docs, "Secret") if d["metadata"]["name"] == name]
    return {k: base64.b64decode(v) for k, v in doc["data"].items()}


def _names(pem: bytes) -> set[str]:
    cert = x509.load_pem_x509_certificate(pem)
    return set(
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    )


def test_each_component_gets_a_certificate_of_the_charts_ca_for_its_service_names() -> None:
    docs = render(Scenario("default"))
    ca = _secret(docs, "kz-kuzet-tls-ca")
    (ca_doc,) = [d for d in _kind(docs, "Secret") if d["metadata"]["name"] == "kz-kuzet-tls-ca"]
    # Upgrades read it back (lookup); uninstalling leaves it, as certificates made from it may live on.
    assert ca_doc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    for comp, workload in _workloads(docs).items():
        secret = _secret(docs, f"kz-kuzet-{comp}-tls")
        assert secret["ca.crt"] == ca["tls.crt"]
        issuer = x509.load_pem_x509_certificate(secret["ca.crt"]).subject
        assert x509.load_pem_x509_certificate(secret["tls.crt"]).issuer == issuer
        service = f"kz-kuzet-{comp}"
        names = _names(secret["tls.crt"])
        assert {service, f"{service}.default.svc", f"{service}.default.svc.cluster.local"} <= names, comp
        if workload["kind"] == "StatefulSet":
            assert f"*.{service}-headless.default.svc.cluster.local" in names
        pod = workload["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["KUZET_TLS_MODE"] == "mtls"
        mount = next(m for m in container["volumeMounts"] if m["name"] == "tls")
        assert mount["mountPath"] == "/etc/kuzet/tls" and mount["readOnly"]
        assert {env["KUZET_TLS_CERT"], env["KUZET_TLS_KEY"], env["KUZET_TLS_CA"]} == {
            "/etc/kuzet/tls/tls.crt", "/etc/kuzet/tls/tls.key", "/etc/kuzet/tls/ca.crt",
        }  # fmt: skip
        volume = next(v for v in pod["volumes"] if v["name"] == "tls")
        assert volume["secret"]["secretName"] == f"kz-kuzet-{comp}-tls"
        if comp in GRPC_COMPONENTS:
            # The kubelet's gRPC probe cannot present a certificate.
            assert container["readinessProbe"]["tcpSocket"] == {"port": "grpc"}
    assert "tls.key" not in {
        k
        for d in _kind(docs, "Secret")
        if d["metadata"]["name"].endswith("-tls")
        for k in d["data"]
        if k == "ca.key"
    }


def _write(tmp: Path, secret: dict[str, bytes]) -> TlsSettings:
    tmp.mkdir(parents=True, exist_ok=True)
    for name, data in secret.items():
        (tmp / name).write_bytes(data)
    return TlsSettings(cert=tmp / "tls.crt", key=tmp / "tls.key", ca=tmp / "ca.crt")


async def _check(address: str, settings: TlsSettings, server_name: str) -> grpc.StatusCode:
    async with secure_channel(address, settings=settings, server_name=server_name) as channel:
        try:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


def test_the_charts_certificates_make_a_real_mtls_handshake(tmp_path: Path) -> None:
    docs = render(Scenario("default"))
    other = render(Scenario("default"), release="elsewhere")  # another install, another CA
    alerting = _write(tmp_path / "alerting", _secret(docs, "kz-kuzet-alerting-tls"))
    gateway = _write(tmp_path / "gateway", _secret(docs, "kz-kuzet-gateway-tls"))
    stranger = _write(tmp_path / "stranger", _secret(other, "elsewhere-kuzet-gateway-tls"))

    async def scenario() -> dict[str, grpc.StatusCode]:
        server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
        port = bind(server, "127.0.0.1:0", server_credentials(alerting))
        await server.start()
        address = f"127.0.0.1:{port}"
        try:
            return {
                # As the gateway dials alerting: by the Service's name, verified against the SANs.
                "gateway": await _check(address, gateway, "kz-kuzet-alerting"),
                "qualified": await _check(address, gateway, "kz-kuzet-alerting.default.svc.cluster.local"),
                "wrong name": await _check(address, gateway, "kz-kuzet-identity"),
                "other install": await _check(address, stranger, "kz-kuzet-alerting"),
            }
        finally:
            await server.stop(0)

    seen = asyncio.run(scenario())
    assert seen == {
        "gateway": grpc.StatusCode.OK,
        "qualified": grpc.StatusCode.OK,
        "wrong name": grpc.StatusCode.UNAVAILABLE,
        "other install": grpc.StatusCode.UNAVAILABLE,
    }


def test_cert_manager_issues_the_certificates_when_asked() -> None:
    docs = render(CERT_MANAGER)
    certificates = {d["spec"]["secretName"]: d for d in _kind(docs, "Certificate")}
    holders = set(_workloads(docs))
    assert set(certificates) == {f"kz-kuzet-{c}-tls" for c in holders}
    assert "triton" in holders
    for cert in certificates.values():
        assert cert["apiVersion"] == "cert-manager.io/v1"
        assert cert["spec"]["issuerRef"] == {"name": "kuzet-ca", "kind": "Issuer", "group": "cert-manager.io"}
        assert set(cert["spec"]["usages"]) >= {"server auth", "client auth"}
        assert cert["spec"]["commonName"] in cert["spec"]["dnsNames"]
    # Nothing made by the chart itself: no CA, no certificate Secrets.
    assert not [d for d in _kind(docs, "Secret") if d["metadata"]["name"].endswith(("-tls", "-tls-ca"))]


def test_cert_manager_needs_an_issuer() -> None:
    with pytest.raises(AssertionError, match=r"tls\.certManager\.issuerRef\.name"):
        render(Scenario("cert-manager-no-issuer", sets=("tls.certManager.enabled=true",)))


def test_plaintext_only_by_explicit_value() -> None:
    with pytest.raises(AssertionError, match="/tls/mode': value must be one of 'mtls', 'plaintext-dev'"):
        render(Scenario("bad-mode", sets=("tls.mode=plaintext",)))
    docs = render(Scenario("plaintext-dev", sets=("tls.mode=plaintext-dev",)))
    assert not [d for d in _kind(docs, "Secret") if d["metadata"]["name"].endswith(("-tls", "-tls-ca"))]
    for comp, workload in _workloads(docs).items():
        pod = workload["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["KUZET_TLS_MODE"] == "plaintext-dev" and "KUZET_TLS_CERT" not in env
        assert "tls" not in {v["name"] for v in pod["volumes"]}
        if comp in GRPC_COMPONENTS:
            assert "grpc" in container["readinessProbe"]


def test_triton_serves_grpc_with_mutual_tls() -> None:
    sets = ("triton.enabled=true", "objectStore.existingSecret=s3")
    for mode, mutual in (("mtls", True), ("plaintext-dev", False)):
        docs = render(Scenario(f"triton-{mode}", (STORES_EGRESS,), sets=(*sets, f"tls.mode={mode}")))
        pod = _workloads(docs)["triton"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        args = set(container["args"])
        if mutual:
            assert {
                "--grpc-use-ssl=true", "--grpc-use-ssl-mutual=true", "--grpc-server-cert=/etc/kuzet/tls/tls.crt",
                "--grpc-server-key=/etc/kuzet/tls/tls.key", "--grpc-root-cert=/etc/kuzet/tls/ca.crt",
            } <= args  # fmt: skip
            assert {"tls"} <= {m["name"] for m in container["volumeMounts"]}
            assert "kz-kuzet-triton" in _names(_secret(docs, "kz-kuzet-triton-tls")["tls.crt"])
        else:
            assert not {a for a in args if a.startswith("--grpc-use-ssl")}


def test_the_ca_is_kept_across_upgrades_and_uninstall(kube_apiserver: KubeApiServer) -> None:  # noqa: F811
    """Against a real API server: Helm's lookup finds the CA on upgrade (certificates issued before
    stay valid), and uninstalling leaves it."""
    ns = kube_apiserver.create_namespace("kuzet-tls")
    args = [str(CHART), "-n", ns, "--timeout", "60s", *Scenario("install").args()]

    def read(name: str) -> dict[str, bytes]:
        api = kube_apiserver.api_client()
        try:
            secret = client.CoreV1Api(api).read_namespaced_secret(name, ns)
            return {k: base64.b64decode(v) for k, v in secret.data.items()}
        finally:
            api.close()

    installed = helm(kube_apiserver, "install", "kuzet", *args)
    assert installed.returncode == 0, installed.stderr
    ca = read("kuzet-tls-ca")
    upgraded = helm(kube_apiserver, "upgrade", "kuzet", *args, "--set", "components.gateway.replicas=3")
    assert upgraded.returncode == 0, upgraded.stderr
    assert read("kuzet-tls-ca") == ca
    leaf = read("kuzet-alerting-tls")
    assert leaf["ca.crt"] == ca["tls.crt"]
    subject = x509.load_pem_x509_certificate(ca["tls.crt"]).subject
    assert x509.load_pem_x509_certificate(leaf["tls.crt"]).issuer == subject
    uninstalled = helm(kube_apiserver, "uninstall", "kuzet", "-n", ns)
    assert uninstalled.returncode == 0, uninstalled.stderr
    assert read("kuzet-tls-ca") == ca
