"""LOCAL OIDC ISSUER — for one machine and tests only, never for production.

A deployment signs its users in at the agency's own identity provider; the gateway only
validates those tokens. On one machine there is no such provider, so the gateway can mount this
small issuer: RS256 keys, discovery, JWKS and a token endpoint with the OAuth 2.0 password
grant for a configured list of demo users.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Form
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from kuzet.gateway.roles import ROLES


class DemoUser(BaseModel):
    """A user the local issuer signs in. `password` may be plain or `pbkdf2_sha256$iter$salt$hex`."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1)
    agency: str = Field(min_length=1, max_length=64)
    roles: list[str] = Field(default_factory=list)
    name: str = ""
    # The agency's sites the user is limited to; empty: all.
    sites: list[str] = Field(default_factory=list)


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(n: int) -> str:
    return _b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = 200_000) -> str:
    salt = salt or uuid.uuid4().bytes
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${_b64u(salt)}${digest.hex()}"


def _password_ok(stored: str, given: str) -> bool:
    if stored.startswith("pbkdf2_sha256$"):
        try:
            _, iters, salt, want = stored.split("$")
            salt_bytes = base64.urlsafe_b64decode(salt + "=" * (-len(salt) % 4))
            got = hashlib.pbkdf2_hmac("sha256", given.encode(), salt_bytes, int(iters)).hex()
        except ValueError:
            return False
        return hmac.compare_digest(got, want)
    return hmac.compare_digest(stored.encode(), given.encode())


# The demo's oversight agency: it oversees the prison once alerting is told so
# (KUZET_ALERTING_OVERSIGHT_AGENCIES='{"prison": ["ombudsman"]}', docs/oversight.md).
DEMO_OVERSIGHT_AGENCY = "ombudsman"
# The demo prison's blocks (its cameras are in block-a).
DEMO_PRISON_SITES = ("block-a", "block-b")


def demo_users(password: str) -> list[DemoUser]:
    """Two agencies and one user per role, so every console panel can be tried on one machine, and
    an oversight agency's overseer and auditor."""
    users: list[DemoUser] = []
    for agency in ("prison", "police"):
        for role in sorted(ROLES):
            users.append(
                DemoUser(username=f"{agency}-{role}", password=password, agency=agency, roles=[role])
            )
        users.append(
            DemoUser(username=f"{agency}-reviewer2", password=password, agency=agency, roles=["reviewer"])
        )
    # Operators limited to one block of the prison: per-site permissions on one machine.
    for site in DEMO_PRISON_SITES:
        users.append(
            DemoUser(
                username=f"prison-operator-{site}",
                password=password,
                agency="prison",
                roles=["operator"],
                sites=[site],
            )
        )
    for role in ("oversight", "auditor"):
        users.append(
            DemoUser(
                username=f"{DEMO_OVERSIGHT_AGENCY}-{role}",
                password=password,
                agency=DEMO_OVERSIGHT_AGENCY,
                roles=[role],
            )
        )
    return users


def _load_or_create_key(path: Path | None) -> rsa.RSAPrivateKey:
    if path is not None and path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} is not an RSA private key")
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.touch(mode=0o600)
        path.write_bytes(pem)
    return key


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def create(cls, path: Path | None = None) -> SigningKey:
        private = _load_or_create_key(path)
        nums = private.public_key().public_numbers()
        # RFC 7638 thumbprint: the kid changes exactly when the key does.
        canon = json.dumps({"e": _uint(nums.e), "kty": "RSA", "n": _uint(nums.n)}, separators=(",", ":"))
        return cls(kid=_b64u(hashlib.sha256(canon.encode()).digest())[:16], private=private)

    def jwk(self) -> dict[str, str]:
        nums = self.private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": _uint(nums.n),
            "e": _uint(nums.e),
        }


class LocalIssuer:
    def __init__(
        self,
        issuer: str,
        audience: str,
        users: Sequence[DemoUser],
        *,
        key: SigningKey | None = None,
        token_ttl_seconds: int = 3600,
        on_signin: Callable[[str, DemoUser | None], Awaitable[None]] | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.key = key or SigningKey.create()
        self.token_ttl = token_ttl_seconds
        self._users = {u.username: u for u in users}
        # Told of every password grant (username, the user or None on failure), for the audit trail.
        self.on_signin = on_signin

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/jwks.json",
            "token_endpoint": f"{self.issuer}/token",
            "grant_types_supported": ["password"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "claims_supported": ["sub", "name", "agency", "roles"],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.jwk()]}

    async def jwks_source(self) -> Mapping[str, Any]:
        return self.jwks()

    def sign(self, claims: Mapping[str, Any], *, key: SigningKey | None = None) -> str:
        """Signs arbitrary claims (tests use it for expired or odd tokens)."""
        k = key or self.key
        return jwt.encode(dict(claims), k.private, algorithm="RS256", headers={"kid": k.kid})

    def issue(self, user: DemoUser, *, ttl_seconds: int | None = None, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": f"{user.agency}/{user.username}",
            "name": user.name or user.username,
            "preferred_username": user.username,
            "agency": user.agency,
            "roles": list(user.roles),
            **({"sites": list(user.sites)} if user.sites else {}),
            "iat": issued,
            "nbf": issued,
            "exp": issued + (ttl_seconds if ttl_seconds is not None else self.token_ttl),
            "jti": uuid.uuid4().hex,
        }
        return self.sign(claims)

    def authenticate(self, username: str, password: str) -> DemoUser | None:
        user = self._users.get(username)
        # Compare against something even for unknown users so timing does not reveal who exists.
        stored = user.password if user else "x" * 16
        ok = _password_ok(stored, password)
        return user if (user is not None and ok) else None

    def user(self, username: str) -> DemoUser:
        return self._users[username]

    def router(self) -> APIRouter:
        router = APIRouter(tags=["local issuer (one machine only)"])

        @router.get(
            "/.well-known/openid-configuration", summary="Local issuer discovery (not for production)"
        )
        async def discovery() -> dict[str, Any]:
            return self.discovery()

        @router.get("/jwks.json", summary="Local issuer signing keys")
        async def jwks() -> dict[str, Any]:
            return self.jwks()

        @router.post(
            "/token",
            summary="Password grant for configured demo users (local issuer, not for production)",
            responses={400: {"description": "OAuth error"}, 401: {"description": "Bad credentials"}},
        )
        async def token(
            grant_type: str = Form(max_length=32),
            username: str = Form(max_length=64),
            password: str = Form(max_length=256),
        ) -> JSONResponse:
            headers = {"Cache-Control": "no-store"}
            if grant_type != "password":
                return JSONResponse(
                    {"error": "unsupported_grant_type", "error_description": "only the password grant"},
                    status_code=400,
                    headers=headers,
                )
            user = self.authenticate(username, password)
            if self.on_signin is not None:
                await self.on_signin(username, user)
            if user is None:
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": "unknown user or wrong password"},
                    status_code=401,
                    headers=headers,
                )
            return JSONResponse(
                {"access_token": self.issue(user), "token_type": "Bearer", "expires_in": self.token_ttl},
                headers=headers,
            )

        return router
