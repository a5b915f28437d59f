"""Validation of OIDC access tokens (JWT) from the agencies' identity providers.

Checks issuer (one of the configured ones), audience, signature with the issuer's JWKS, expiry
and not-before. Only asymmetric algorithms are accepted, so a token "signed" with a public key
as an HMAC secret, or with alg=none, never verifies.

Each issuer may assert only the agencies it is bound to (an agency's IdP cannot mint another
agency's users), and subjects are qualified by their issuer (``sub@issuer-name``) so that two
IdPs' "alice" are two people everywhere a subject is recorded: audit, reviews, acknowledgements.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from jwt import PyJWK

from kuzet.gateway.roles import ROLES

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]


class AuthError(Exception):
    """The token is missing, malformed, or does not validate; the message is safe to return."""


@dataclass(frozen=True)
class Principal:
    subject: str
    agency: str
    roles: frozenset[str]
    name: str
    issuer: str
    expires_at: float
    # The agency's sites the user is limited to (empty: all of them).
    sites: frozenset[str] = frozenset()

    def has_any(self, roles: frozenset[str]) -> bool:
        return not self.roles.isdisjoint(roles)


# A key source returns the issuer's JWKS document ({"keys": [...]}).
JwksSource = Callable[[], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True)
class IssuerPolicy:
    """What a trusted issuer may assert, and the name that qualifies its subjects."""

    agencies: frozenset[str]
    name: str


def issuer_name(issuer: str) -> str:
    """The issuer URL without its scheme: unique per issuer (hosts and Keycloak realms alike)."""
    return issuer.split("://", 1)[-1].rstrip("/")


@dataclass
class _IssuerKeys:
    source: JwksSource
    keys: dict[str, PyJWK] = field(default_factory=dict)
    fetched_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def http_jwks_source(issuer: str, client: httpx.AsyncClient) -> JwksSource:
    """Discovery then JWKS over HTTP, the way any OIDC provider publishes its keys."""
    discovery_url = issuer.rstrip("/") + "/.well-known/openid-configuration"

    async def fetch() -> Mapping[str, Any]:
        try:
            meta = (await client.get(discovery_url, timeout=5.0)).raise_for_status().json()
            # OIDC Discovery: the document must name the issuer it was fetched for.
            if str(meta.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
                raise AuthError(f"issuer {issuer} publishes discovery for another issuer")
            jwks_uri = meta["jwks_uri"]
            return dict((await client.get(jwks_uri, timeout=5.0)).raise_for_status().json())
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise AuthError(f"cannot fetch the signing keys of issuer {issuer}") from exc

    return fetch


class TokenValidator:
    def __init__(
        self,
        issuers: Mapping[str, JwksSource],
        audience: str,
        *,
        policies: Mapping[str, IssuerPolicy],
        cache_seconds: float = 300.0,
        min_refresh_seconds: float = 10.0,
        leeway_seconds: float = 30.0,
        agency_claim: str = "agency",
        roles_claim: str = "roles",
        sites_claim: str = "sites",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not issuers:
            raise ValueError("at least one token issuer must be configured")
        unbound = sorted(iss for iss in issuers if not (iss in policies and policies[iss].agencies))
        if unbound:
            raise ValueError(f"issuers without the agencies they may assert: {', '.join(unbound)}")
        names = [policies[iss].name for iss in issuers]
        if len(set(names)) != len(names):
            raise ValueError(
                f"two issuers share a name, their subjects would mix: {', '.join(sorted(names))}"
            )
        self._issuers = {iss: _IssuerKeys(src) for iss, src in issuers.items()}
        self._policies = {iss: policies[iss] for iss in issuers}
        self._audience = audience
        self._cache_seconds = cache_seconds
        # An unknown kid refreshes the JWKS (key rotation), but at most this often, so a flood
        # of forged kids cannot turn the gateway into a load generator against the IdP.
        self._min_refresh = min_refresh_seconds
        self._leeway = leeway_seconds
        self._agency_claim = agency_claim
        self._roles_claim = roles_claim
        self._sites_claim = sites_claim
        self._clock = clock
        # Validated tokens, so a console polling with the same token pays the RSA verification
        # once. Bounded; an entry never outlives its token's expiry.
        self._verified: OrderedDict[str, Principal] = OrderedDict()
        self._cache_size = 10_000

    @property
    def issuers(self) -> list[str]:
        return list(self._issuers)

    async def _load(self, entry: _IssuerKeys) -> None:
        doc = await entry.source()
        keys: dict[str, PyJWK] = {}
        for jwk in doc.get("keys", []):
            if jwk.get("use", "sig") != "sig" or "kid" not in jwk:
                continue
            try:
                keys[str(jwk["kid"])] = PyJWK.from_dict(dict(jwk))
            except (jwt.PyJWTError, ValueError, KeyError):
                continue  # one odd key must not take the issuer's other keys down
        entry.keys = keys
        entry.fetched_at = self._clock()

    async def _key(self, issuer: str, kid: str) -> PyJWK:
        entry = self._issuers[issuer]
        async with entry.lock:
            age = self._clock() - entry.fetched_at
            if (
                not entry.keys
                or age > self._cache_seconds
                or (kid not in entry.keys and age > self._min_refresh)
            ):
                await self._load(entry)
        key = entry.keys.get(kid)
        if key is None:
            raise AuthError("token signed with an unknown key")
        return key

    async def validate(self, token: str) -> Principal:
        if not token or token.count(".") != 2:
            raise AuthError("malformed token")
        key = hashlib.sha256(token.encode()).hexdigest()
        cached = self._verified.get(key)
        if cached is not None:
            if self._clock() < cached.expires_at + self._leeway:
                self._verified.move_to_end(key)
                return cached
            del self._verified[key]
            raise AuthError("token expired")
        principal = await self._validate(token)
        self._verified[key] = principal
        while len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
        return principal

    async def _validate(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except (jwt.PyJWTError, json.JSONDecodeError) as exc:
            raise AuthError("malformed token") from exc
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or issuer not in self._issuers:
            raise AuthError("token from an untrusted issuer")
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise AuthError("token signature algorithm not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise AuthError("token has no key id")
        key = await self._key(issuer, kid)
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=self._audience,
                issuer=issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise AuthError("token not yet valid") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError("token not issued for this audience") from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthError("token signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        return self._principal(claims)

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        agency = claims.get(self._agency_claim)
        if not isinstance(agency, str) or not agency:
            raise AuthError(f"token has no '{self._agency_claim}' claim")
        policy = self._policies[str(claims["iss"])]
        if agency not in policy.agencies:
            raise AuthError(f"issuer {claims['iss']} may not assert agency {agency[:64]!r}")
        raw_roles = claims.get(self._roles_claim, [])
        if isinstance(raw_roles, str):
            raw_roles = raw_roles.split()
        if not isinstance(raw_roles, list):
            raise AuthError(f"token claim '{self._roles_claim}' must be a list")
        # Roles Kuzet does not know are dropped rather than trusted.
        roles = frozenset(r for r in raw_roles if isinstance(r, str) and r in ROLES)
        raw_sites = claims.get(self._sites_claim, [])
        if not isinstance(raw_sites, list) or not all(isinstance(s, str) and s for s in raw_sites):
            raise AuthError(f"token claim '{self._sites_claim}' must be a list of site ids")
        return Principal(
            subject=f"{claims['sub']}@{policy.name}",
            agency=agency,
            roles=roles,
            name=str(claims.get("name") or claims.get("preferred_username") or claims["sub"]),
            issuer=str(claims["iss"]),
            expires_at=float(claims["exp"]),
            sites=frozenset(raw_sites),
        )
