"""Mutual TLS between Kuzet services: settings, a small CA for one machine, gRPC credentials.

Every gRPC server serves only mTLS (a client must present a certificate from the platform's CA)
and every client verifies the server's name against its certificate, unless
``KUZET_TLS_MODE=plaintext-dev`` says otherwise, explicitly, for development. A service uses one
certificate both ways: as the server's, and as the client certificate of the calls it makes.

``kuzet up`` makes its CA with :func:`ensure_local_pki`; the chart gets certificates from
cert-manager or from a CA it keeps in a Secret.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kuzet.common.config import PLAINTEXT_DEV, TlsSettings, load_settings
from kuzet.common.errors import ConfigError

MTLS = "mtls"
# The names a certificate made for one machine answers to (clients dial 127.0.0.1 or localhost).
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class _Pem:
    cert: bytes
    key: bytes
    ca: bytes


def load_tls_settings() -> TlsSettings:
    """The process's TLS settings from the environment, read afresh (tests switch them)."""
    return load_settings(TlsSettings)


def _read(settings: TlsSettings) -> _Pem:
    missing = [name for name in ("cert", "key", "ca") if getattr(settings, name) is None]
    if missing:
        names = ", ".join(f"KUZET_TLS_{name.upper()}" for name in missing)
        raise ConfigError(
            f"mTLS needs {names} (PEM file paths); set KUZET_TLS_MODE=plaintext-dev only for development"
        )
    pem = {}
    for name in ("cert", "key", "ca"):
        path = Path(getattr(settings, name))
        try:
            pem[name] = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"KUZET_TLS_{name.upper()}: cannot read {path}: {exc.strerror}") from None
    return _Pem(**pem)


def server_credentials(settings: TlsSettings | None = None) -> grpc.ServerCredentials | None:
    """Credentials that accept only clients with a certificate from the configured CA (the
    process's settings unless given); None in plaintext-dev. ConfigError names what is missing."""
    tls = settings or load_tls_settings()
    if tls.plaintext:
        return None
    pem = _read(tls)
    return grpc.ssl_server_credentials(
        [(pem.key, pem.cert)], root_certificates=pem.ca, require_client_auth=True
    )


def bind(
    server: grpc.aio.Server | grpc.Server, address: str, credentials: grpc.ServerCredentials | None
) -> int:
    """Listen on ``address`` with ``credentials`` (plaintext when None); the bound port, 0 on failure."""
    if credentials is None:
        return server.add_insecure_port(address)
    return server.add_secure_port(address, credentials)


def channel_credentials(settings: TlsSettings) -> grpc.ChannelCredentials:
    """Credentials that present this process's certificate and trust only the configured CA."""
    pem = _read(settings)
    return grpc.ssl_channel_credentials(
        root_certificates=pem.ca, private_key=pem.key, certificate_chain=pem.cert
    )


def client_credentials(settings: TlsSettings | None = None) -> grpc.ChannelCredentials | None:
    """This process's client credentials (its settings unless given); None in plaintext-dev.
    For gRPC clients that build their own channel (tritonclient)."""
    tls = settings or load_tls_settings()
    return None if tls.plaintext else channel_credentials(tls)


def client_ssl_context(
    settings: TlsSettings | None = None, *, alpn: Sequence[str] = ("h2",)
) -> ssl.SSLContext | None:
    """This process's client side of mTLS for a client that is not a gRPC channel (a hand-built
    HTTP/2 client): its certificate, only the configured CA trusted, the server's name verified
    (pass ``server_hostname`` when connecting), ``alpn`` offered; None in plaintext-dev."""
    tls = settings or load_tls_settings()
    if tls.plaintext:
        return None
    pem = _read(tls)  # names a missing or unreadable file, as for gRPC credentials
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=pem.ca.decode())
    assert tls.cert is not None and tls.key is not None  # _read checked them
    context.load_cert_chain(tls.cert, tls.key)
    context.set_alpn_protocols(list(alpn))
    return context


def host_of(target: str) -> str:
    """The host a gRPC target names: ``h:p`` -> h; ``ipv4:h:p0,h:p1`` (replicas) -> the first h."""
    for scheme in ("ipv4:", "ipv6:", "dns:///", "dns:"):
        if target.startswith(scheme):
            target = target[len(scheme) :]
            break
    first = target.split(",", 1)[0]
    host = first.rsplit(":", 1)[0] if first.count(":") == 1 or first.startswith("[") else first
    return host.strip("[]")


def secure_channel(
    target: str,
    *,
    settings: TlsSettings | None = None,
    server_name: str | None = None,
    options: Sequence[tuple[str, Any]] = (),
    interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None,
) -> grpc.aio.Channel:
    """An aio channel to ``target`` with this process's mTLS credentials (plaintext in plaintext-dev).

    The server's certificate must name the target's host, or ``server_name`` where the target is
    an address the certificate cannot know (a replica's pod IP, reached as one of its Service).
    """
    tls = settings or load_tls_settings()
    opts = list(options)
    if tls.plaintext:
        return grpc.aio.insecure_channel(target, options=opts, interceptors=interceptors)
    if server_name is None and "," in target:
        # gRPC would verify the whole multi-address path (`127.0.0.1:a,127.0.0.1:b`) as a host
        # name; every address of such a target is a replica of one service, named by the first.
        server_name = host_of(target)
    if server_name:
        opts.append(("grpc.ssl_target_name_override", server_name))
    return grpc.aio.secure_channel(target, channel_credentials(tls), options=opts, interceptors=interceptors)


# ---------------------------------------------------------------------- making certificates ---


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, PEM."""

    cert: bytes
    key: bytes

    def write(self, cert_path: Path, key_path: Path) -> None:
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        cert_path.write_bytes(self.cert)
        key_path.touch(mode=0o600)
        key_path.chmod(0o600)
        key_path.write_bytes(self.key)

    @classmethod
    def read(cls, cert_path: Path, key_path: Path) -> KeyPair:
        return cls(cert_path.read_bytes(), key_path.read_bytes())


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _now() -> datetime.datetime:
    # A minute back so that a peer whose clock is slightly behind accepts a fresh certificate.
    return datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)


_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def make_ca(common_name: str = "Kuzet local CA", days: int = 3650) -> KeyPair:
    """A self-signed CA that may sign leaf certificates only."""
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now())
        .not_valid_after(_now() + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def issue_cert(ca: KeyPair, common_name: str, names: Sequence[str], days: int = 825) -> KeyPair:
    """A leaf certificate for ``names`` (DNS names or IP addresses), good as server and as client."""
    if not names:
        raise ValueError("a certificate needs at least one name")
    ca_cert = x509.load_pem_x509_certificate(ca.cert)
    ca_key = serialization.load_pem_private_key(ca.key, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key must be an EC key (made by make_ca)")
    key = _new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now())
        .not_valid_after(_now() + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def ensure_local_pki(directory: Path, holders: Sequence[str]) -> dict[str, dict[str, str]]:
    """A CA in ``directory`` (made once, kept) and a loopback certificate per holder.

    Returns, per holder, the ``KUZET_TLS_*`` settings that make a process use its certificate.
    Certificates are issued afresh on each call: cheap, and a holder added later gets one.
    """
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    ca_cert, ca_key = directory / "ca.pem", directory / "ca.key"
    if ca_cert.exists() and ca_key.exists():
        ca = KeyPair.read(ca_cert, ca_key)
    else:
        ca = make_ca()
        ca.write(ca_cert, ca_key)
    out = {}
    for holder in holders:
        cert, key = directory / f"{holder}.pem", directory / f"{holder}.key"
        issue_cert(ca, holder, LOOPBACK_NAMES).write(cert, key)
        out[holder] = {
            "KUZET_TLS_MODE": MTLS,
            "KUZET_TLS_CERT": str(cert),
            "KUZET_TLS_KEY": str(key),
            "KUZET_TLS_CA": str(ca_cert),
        }
    return out


def use_local_pki(directory: Path, holder: str) -> None:
    """Make this process, and the processes it starts, use ``holder``'s certificate of the CA in
    ``directory`` (tests and benchmarks), unless the environment names a certificate or asks for
    plaintext-dev."""
    if os.environ.get("KUZET_TLS_CERT") or os.environ.get("KUZET_TLS_MODE") == PLAINTEXT_DEV:
        return
    os.environ.update(ensure_local_pki(directory, [holder])[holder])
