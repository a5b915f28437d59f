"""kuzet.common.tls: certificates, what a server refuses, the names a client verifies."""

from __future__ import annotations

import ssl
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kuzet.common.config import ServiceSettings, TlsSettings
from kuzet.common.errors import ConfigError
from kuzet.common.grpcserver import GrpcServer
from kuzet.common.launcher import Launcher, local_client_tls
from kuzet.common.tls import (
    KeyPair,
    client_ssl_context,
    ensure_local_pki,
    host_of,
    issue_cert,
    secure_channel,
)


def _settings(env: dict[str, str]) -> TlsSettings:
    return TlsSettings(
        cert=Path(env["KUZET_TLS_CERT"]), key=Path(env["KUZET_TLS_KEY"]), ca=Path(env["KUZET_TLS_CA"])
    )


async def _health(channel: grpc.aio.Channel) -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    return int(reply.status)


def test_a_server_without_its_certificate_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUZET_TLS_CERT")
    with pytest.raises(ConfigError, match="KUZET_TLS_CERT") as missing:
        GrpcServer(ServiceSettings(), [], [], port=0)
    assert "plaintext-dev" in str(missing.value)
    monkeypatch.setenv("KUZET_TLS_CERT", "/nonexistent/cert.pem")
    with pytest.raises(ConfigError, match=r"cannot read /nonexistent/cert\.pem"):
        GrpcServer(ServiceSettings(), [], [], port=0)
    monkeypatch.setenv("KUZET_TLS_MODE", "plain")
    with pytest.raises(ConfigError, match="KUZET_TLS_MODE"):
        GrpcServer(ServiceSettings(), [], [], port=0)


async def test_plaintext_only_when_development_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUZET_TLS_MODE", "plaintext-dev")
    server = GrpcServer(ServiceSettings(), [], [], port=0)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(server.address) as plain:
            assert await _health(plain) == health_pb2.HealthCheckResponse.SERVING
    finally:
        await server.stop(0)


async def test_the_client_verifies_the_server_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ensure_local_pki(tmp_path, [])
    ca = KeyPair.read(tmp_path / "ca.pem", tmp_path / "ca.key")
    issue_cert(ca, "elsewhere", ["elsewhere.example"]).write(tmp_path / "x.pem", tmp_path / "x.key")
    client = ensure_local_pki(tmp_path, ["client"])["client"]
    monkeypatch.setenv("KUZET_TLS_CERT", str(tmp_path / "x.pem"))
    monkeypatch.setenv("KUZET_TLS_KEY", str(tmp_path / "x.key"))
    monkeypatch.setenv("KUZET_TLS_CA", str(tmp_path / "ca.pem"))
    server = GrpcServer(ServiceSettings(), [], [], port=0)
    await server.start()
    try:
        # Same CA, but the certificate names another host than the one dialled.
        async with secure_channel(server.address, settings=_settings(client)) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await _health(channel)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        # A replica reached by an address its certificate cannot name, vouched for by its service's name.
        async with secure_channel(
            server.address, settings=_settings(client), server_name="elsewhere.example"
        ) as channel:
            assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING
    finally:
        await server.stop(0)


def test_client_ssl_context_for_hand_built_clients(tmp_path: Path) -> None:
    client = _settings(ensure_local_pki(tmp_path, ["client"])["client"])
    context = client_ssl_context(client)
    assert context is not None
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert client_ssl_context(TlsSettings(mode="plaintext-dev")) is None
    with pytest.raises(ConfigError, match="KUZET_TLS_CERT"):
        client_ssl_context(TlsSettings(cert=None, key=client.key, ca=client.ca))


def test_host_of_targets() -> None:
    assert host_of("127.0.0.1:50051") == "127.0.0.1"
    assert host_of("ipv4:127.0.0.1:1,127.0.0.1:2") == "127.0.0.1"
    assert host_of("kuzet-drone:50056") == "kuzet-drone"
    assert host_of("dns:///kuzet-drone.ns.svc:50056") == "kuzet-drone.ns.svc"
    assert host_of("[::1]:5") == "::1"


def test_launcher_makes_its_ca_once_and_a_certificate_per_service(tmp_path: Path) -> None:
    first = Launcher(tmp_path, free_ports=True)
    ca = (tmp_path / "tls" / "ca.pem").read_bytes()
    env = first.environment(first.units("alerting")[0].key)
    cert = x509.load_pem_x509_certificate(Path(env["KUZET_TLS_CERT"]).read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost"} <= set(names.get_values_for_type(x509.DNSName))
    assert "127.0.0.1" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    assert Path(env["KUZET_TLS_CA"]).read_bytes() == ca and env["KUZET_TLS_MODE"] == "mtls"
    assert (Path(env["KUZET_TLS_KEY"]).stat().st_mode & 0o077) == 0, "keys are private to their owner"
    # Another start in the same data directory keeps the CA: clients made earlier stay valid.
    Launcher(tmp_path, free_ports=True)
    assert (tmp_path / "tls" / "ca.pem").read_bytes() == ca
    assert local_client_tls(tmp_path)["KUZET_TLS_CA"] == str(tmp_path / "tls" / "ca.pem")
    assert first.client_tls_env["KUZET_TLS_CERT"].endswith("client.pem")


def test_launcher_in_plaintext_dev_makes_no_certificates(tmp_path: Path) -> None:
    launcher = Launcher(tmp_path, env={"KUZET_TLS_MODE": "plaintext-dev"}, free_ports=True)
    assert not (tmp_path / "tls").exists() and launcher.client_tls_env == {}
    assert launcher.environment(launcher.units("alerting")[0].key)["KUZET_TLS_MODE"] == "plaintext-dev"
