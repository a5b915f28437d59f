"""Keys for caller tokens: one Ed25519 private key per issuing service, and a JWKS of them all.

A key directory (what `kuzet keys generate` writes, the chart's Secret holds and `kuzet up`
keeps in its data directory) has ``<issuer>.pem`` per issuer and ``jwks.json`` with every
issuer's public key, its ``kid`` being the issuer's name. A service mounts its own PEM and the
JWKS; its issuer name is the ``kid`` of the JWKS entry that matches its key, so a key cannot be
used under another service's name.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from kuzet.common.errors import ConfigError

JWKS_FILE = "jwks.json"

# Every service that makes or serves gRPC calls; `kuzet keys generate` writes one key for each.
SERVICES = (
    "alerting",
    "badge",
    "drone",
    "federation",
    "gateway",
    "identity",
    "inference",
    "ingest",
    "traffic",
)

SigningKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
ALGORITHMS = ("EdDSA", "ES256")


@dataclass(frozen=True)
class Keyring:
    """The verification keys of every issuer and, for a process that mints, its own key."""

    public_keys: dict[str, Any]
    issuer: str = ""
    signing_key: SigningKey | None = field(default=None, repr=False)

    @property
    def algorithm(self) -> str:
        return "ES256" if isinstance(self.signing_key, ec.EllipticCurvePrivateKey) else "EdDSA"


def generate_keys(directory: Path, issuers: tuple[str, ...] | list[str] = SERVICES) -> Path:
    """Write a fresh private key per issuer and the JWKS of them all; returns the JWKS path."""
    directory.mkdir(parents=True, exist_ok=True)
    keys = []
    for issuer in issuers:
        private = ed25519.Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path = directory / f"{issuer}.pem"
        # Created owner-only: the file is never readable by others, not even for an instant.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key()))
        keys.append({**jwk, "kid": issuer, "use": "sig", "alg": "EdDSA"})
    jwks = directory / JWKS_FILE
    jwks.write_text(json.dumps({"keys": keys}, indent=2) + "\n")
    return jwks


def use_ephemeral_keys(issuer: str) -> tempfile.TemporaryDirectory[str] | None:
    """Keys for a run on one machine that starts its own services (tests, benches): every
    service's and ``issuer``'s, made now; this process mints as ``issuer`` and the processes it
    starts inherit them (``KUZET_CALLER_*``; the launcher takes ``KUZET_CALLER_KEYS_DIR``).
    Nothing happens where the environment names keys already; the directory goes with the result.
    """
    if os.environ.get("KUZET_CALLER_JWKS") or os.environ.get("KUZET_INSECURE_PLAIN_CALLERS"):
        return None
    keys = tempfile.TemporaryDirectory(prefix=f"kuzet-{issuer}-caller-keys-")
    directory = Path(keys.name)
    jwks = generate_keys(directory, list(dict.fromkeys([*SERVICES, issuer])))
    os.environ.update(
        {
            "KUZET_CALLER_KEYS_DIR": str(directory),
            "KUZET_CALLER_JWKS": str(jwks),
            "KUZET_CALLER_SIGNING_KEY": str(directory / f"{issuer}.pem"),
        }
    )
    return keys


def read_jwks(path: Path) -> dict[str, Any]:
    """The public keys of a JWKS file by kid."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the caller JWKS {path}: {exc}") from None
    keys: dict[str, Any] = {}
    for entry in document.get("keys", []) if isinstance(document, dict) else []:
        kid = entry.get("kid") if isinstance(entry, dict) else None
        if not kid:
            raise ConfigError(f"caller JWKS {path}: every key needs a kid (the issuing service)")
        try:
            keys[kid] = jwt.PyJWK(entry).key
        except jwt.PyJWKError as exc:
            raise ConfigError(f"caller JWKS {path}: key {kid!r}: {exc}") from None
    if not keys:
        raise ConfigError(f"caller JWKS {path} has no keys")
    return keys


def _raw_public(key: Any) -> bytes:
    return bytes(
        key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def load_keyring(jwks_path: Path, signing_key_path: Path | None = None) -> Keyring:
    """The JWKS, and the signing key named by the JWKS entry it matches."""
    public_keys = read_jwks(jwks_path)
    if signing_key_path is None:
        return Keyring(public_keys)
    try:
        private = serialization.load_pem_private_key(signing_key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"cannot read the caller signing key {signing_key_path}: {exc}") from None
    if not isinstance(private, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigError(f"caller signing key {signing_key_path}: must be Ed25519 or EC P-256")
    mine = _raw_public(private.public_key())
    issuer = next((kid for kid, key in public_keys.items() if _raw_public(key) == mine), "")
    if not issuer:
        raise ConfigError(
            f"caller signing key {signing_key_path} is not in the JWKS {jwks_path}: "
            "generate both together (`kuzet keys generate`)"
        )
    return Keyring(public_keys, issuer, private)


def keys_command(argv: list[str]) -> int:
    """`kuzet keys generate DIR [--issuer NAME ...]`."""
    import argparse

    parser = argparse.ArgumentParser(prog="kuzet keys", description="caller-token keys")
    sub = parser.add_subparsers(dest="action", required=True)
    gen = sub.add_parser("generate", help="write a private key per service and the JWKS of them all into DIR")
    gen.add_argument("directory", type=Path)
    gen.add_argument(
        "--issuer",
        action="append",
        default=[],
        help="also a key for this issuer (a tool that calls services directly); repeatable",
    )
    args = parser.parse_args(argv)
    issuers = list(dict.fromkeys([*SERVICES, *args.issuer]))
    jwks = generate_keys(args.directory, issuers)
    print(f"wrote {', '.join(f'{i}.pem' for i in issuers)} and {jwks.name} to {args.directory}")
    print(
        "each service mounts its own <service>.pem (KUZET_<SERVICE>_CALLER_SIGNING_KEY) "
        "and jwks.json (KUZET_CALLER_JWKS)"
    )
    return 0
