"""Token validation against a real OIDC issuer served over HTTP (discovery + JWKS)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI

from kuzet.gateway.auth import AuthError, IssuerPolicy, TokenValidator, http_jwks_source, issuer_name
from kuzet.gateway.localissuer import DemoUser, LocalIssuer, SigningKey, hash_password

AUD = "kuzet"
ALICE = DemoUser(
    username="alice", password=hash_password("s3cret"), agency="prison", roles=["operator", "bogus"]
)


def bound(issuer: str, *agencies: str) -> dict[str, IssuerPolicy]:
    """The issuer may assert ``agencies`` (prison when none are named)."""
    return {issuer: IssuerPolicy(frozenset(agencies or ("prison",)), issuer_name(issuer))}


def idp_app(issuer: LocalIssuer) -> FastAPI:
    app = FastAPI()
    app.include_router(issuer.router())
    return app


@pytest.fixture
async def idp(serve_app: Callable[..., Any], free_port: int) -> Any:
    """An 'agency IdP': the local issuer's routes served by uvicorn, fetched over real HTTP."""
    issuer = LocalIssuer(f"http://127.0.0.1:{free_port}", AUD, [ALICE])
    async with serve_app(idp_app(issuer), free_port), httpx.AsyncClient() as client:
        fetches = {"n": 0}
        source = http_jwks_source(issuer.issuer, client)

        async def counting() -> Any:
            fetches["n"] += 1
            return await source()

        yield issuer, counting, fetches


async def test_valid_token_gives_subject_agency_and_known_roles(idp: Any) -> None:
    issuer, source, _ = idp
    validator = TokenValidator({issuer.issuer: source}, AUD, policies=bound(issuer.issuer))
    p = await validator.validate(issuer.issue(ALICE))
    # The subject is qualified by the issuer's name: another IdP's "prison/alice" is someone else.
    assert (p.subject, p.agency, p.roles) == (
        f"prison/alice@127.0.0.1:{issuer.issuer.rsplit(':', 1)[1]}",
        "prison",
        frozenset({"operator"}),
    )


async def test_password_grant_endpoint(idp: Any) -> None:
    issuer, source, _ = idp
    async with httpx.AsyncClient(base_url=issuer.issuer) as c:
        ok = await c.post(
            "/token", data={"grant_type": "password", "username": "alice", "password": "s3cret"}
        )
        bad = await c.post("/token", data={"grant_type": "password", "username": "alice", "password": "nope"})
        nobody = await c.post(
            "/token", data={"grant_type": "password", "username": "eve", "password": "s3cret"}
        )
        grant = await c.post(
            "/token", data={"grant_type": "client_credentials", "username": "a", "password": "b"}
        )
    assert ok.status_code == 200 and ok.headers["cache-control"] == "no-store"
    assert (
        await TokenValidator({issuer.issuer: source}, AUD, policies=bound(issuer.issuer)).validate(
            ok.json()["access_token"]
        )
    ).agency == "prison"
    assert bad.status_code == nobody.status_code == 401
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"


async def test_jwks_is_cached_and_refreshed_on_unknown_kid(idp: Any) -> None:
    issuer, source, fetches = idp
    validator = TokenValidator(
        {issuer.issuer: source}, AUD, policies=bound(issuer.issuer), min_refresh_seconds=0
    )
    for _ in range(3):
        await validator.validate(issuer.issue(ALICE))
    assert fetches["n"] == 1
    issuer.key = SigningKey.create()  # the IdP rotates its key
    await validator.validate(issuer.issue(ALICE))
    assert fetches["n"] == 2


async def test_unknown_kid_refresh_is_rate_limited(idp: Any) -> None:
    issuer, source, fetches = idp
    validator = TokenValidator(
        {issuer.issuer: source}, AUD, policies=bound(issuer.issuer), min_refresh_seconds=60
    )
    await validator.validate(issuer.issue(ALICE))
    stranger = SigningKey.create()
    for _ in range(5):
        with pytest.raises(AuthError, match="unknown key"):
            await validator.validate(issuer.sign(_claims(issuer), key=stranger))
    assert fetches["n"] == 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """The classic algorithm-confusion forgery: HMAC keyed with the issuer's public key."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = _b64(json.dumps(claims).encode())
    sig = _b64(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


def _claims(issuer: LocalIssuer, **over: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": issuer.issuer,
        "aud": AUD,
        "sub": "x",
        "agency": "prison",
        "roles": ["operator"],
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    claims.update(over)
    return claims


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"nbf": int(time.time()) + 3600}, "not yet valid"),
        ({"aud": "another-app"}, "audience"),
        ({"agency": ""}, "agency"),
        ({"sites": "block-a"}, "'sites' must be a list of site ids"),
        ({"sites": ["block-a", ""]}, "'sites' must be a list of site ids"),
    ],
)
async def test_bad_claims_rejected(idp: Any, over: dict[str, Any], message: str) -> None:
    issuer, source, _ = idp
    validator = TokenValidator({issuer.issuer: source}, AUD, policies=bound(issuer.issuer))
    with pytest.raises(AuthError, match=message):
        await validator.validate(issuer.sign(_claims(issuer, **over)))


async def test_forged_and_confused_tokens_rejected(idp: Any) -> None:
    issuer, source, _ = idp
    validator = TokenValidator({issuer.issuer: source}, AUD, policies=bound(issuer.issuer))
    good = issuer.issue(ALICE)
    # Same kid, different private key: the signature does not verify.
    forger = SigningKey(kid=issuer.key.kid, private=SigningKey.create().private)
    with pytest.raises(AuthError, match="signature"):
        await validator.validate(issuer.sign(_claims(issuer, roles=["admin"]), key=forger))
    # Payload edited after signing.
    head, _, sig = good.split(".")
    evil = _b64(json.dumps(_claims(issuer, roles=["admin"])).encode())
    with pytest.raises(AuthError):
        await validator.validate(f"{head}.{evil}.{sig}")
    # alg=HS256 keyed with the public key, and alg=none.
    pem = issuer.key.private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(AuthError, match="algorithm"):
        await validator.validate(_hs256(_claims(issuer), pem, issuer.key.kid))
    none = jwt.encode(_claims(issuer), "", algorithm="none", headers={"kid": issuer.key.kid})
    with pytest.raises(AuthError):
        await validator.validate(none)
    # A token from an issuer nobody configured.
    other = LocalIssuer("https://evil.example", AUD, [ALICE])
    with pytest.raises(AuthError, match="untrusted issuer"):
        await validator.validate(other.issue(ALICE))
    for junk in ("", "abc", "a.b.c", "...."):
        with pytest.raises(AuthError):
            await validator.validate(junk)


async def test_unreachable_issuer_is_an_auth_error() -> None:
    async with httpx.AsyncClient() as client:
        iss = "http://127.0.0.1:9"
        validator = TokenValidator({iss: http_jwks_source(iss, client)}, AUD, policies=bound(iss))
        token = LocalIssuer(iss, AUD, [ALICE]).issue(ALICE)
        with pytest.raises(AuthError, match="cannot fetch"):
            await validator.validate(token)


async def test_cached_token_still_expires(idp: Any) -> None:
    issuer, source, _ = idp
    now = [time.time()]
    validator = TokenValidator(
        {issuer.issuer: source}, AUD, policies=bound(issuer.issuer), leeway_seconds=0, clock=lambda: now[0]
    )
    token = issuer.issue(ALICE, ttl_seconds=60)
    assert (await validator.validate(token)).agency == "prison"
    assert (await validator.validate(token)).agency == "prison"  # from the cache
    now[0] += 120
    with pytest.raises(AuthError, match="expired"):
        await validator.validate(token)


async def test_discovery_must_name_the_configured_issuer(idp: Any) -> None:
    issuer, _, _ = idp
    alias = issuer.issuer.replace("127.0.0.1", "localhost")  # same server, another issuer name
    async with httpx.AsyncClient() as client:
        validator = TokenValidator({alias: http_jwks_source(alias, client)}, AUD, policies=bound(alias))
        token = issuer.sign(_claims(issuer, iss=alias))
        with pytest.raises(AuthError, match="another issuer"):
            await validator.validate(token)


async def test_an_issuer_asserts_only_the_agencies_it_is_bound_to(idp: Any) -> None:
    issuer, source, _ = idp
    validator = TokenValidator({issuer.issuer: source}, AUD, policies=bound(issuer.issuer, "prison"))
    police = DemoUser(username="bob", password=hash_password("x"), agency="police", roles=["admin"])
    with pytest.raises(AuthError, match=f"issuer {issuer.issuer} may not assert agency 'police'"):
        await validator.validate(issuer.issue(police))
    assert (await validator.validate(issuer.issue(ALICE))).agency == "prison"
    with pytest.raises(ValueError, match="without the agencies"):
        TokenValidator({issuer.issuer: source}, AUD, policies={})
    with pytest.raises(ValueError, match="without the agencies"):
        TokenValidator(
            {issuer.issuer: source},
            AUD,
            policies=bound(issuer.issuer) | {issuer.issuer: IssuerPolicy(frozenset(), "x")},
        )


async def test_two_issuers_same_subject_are_two_people() -> None:
    """The same username at two IdPs gives two subjects (and two reviewers, two actors)."""
    first = LocalIssuer("https://sso.example/realms/prison", AUD, [ALICE], key=SigningKey.create())
    second = LocalIssuer("https://sso.example/realms/other", AUD, [ALICE], key=SigningKey.create())
    validator = TokenValidator(
        {first.issuer: first.jwks_source, second.issuer: second.jwks_source},
        AUD,
        policies=bound(first.issuer) | bound(second.issuer),
    )
    a = await validator.validate(first.issue(ALICE))
    b = await validator.validate(second.issue(ALICE))
    assert a.subject != b.subject
    assert (a.subject, b.subject) == (
        "prison/alice@sso.example/realms/prison",
        "prison/alice@sso.example/realms/other",
    )
    with pytest.raises(ValueError, match="share a name"):
        TokenValidator(
            {first.issuer: first.jwks_source, second.issuer: second.jwks_source},
            AUD,
            policies={
                first.issuer: IssuerPolicy(frozenset({"prison"}), "same"),
                second.issuer: IssuerPolicy(frozenset({"prison"}), "same"),
            },
        )


async def test_a_users_site_limit_comes_from_its_token(idp: Any) -> None:
    issuer, source, _ = idp
    validator = TokenValidator({issuer.issuer: source}, AUD, policies=bound(issuer.issuer))
    limited = await validator.validate(issuer.sign(_claims(issuer, sites=["block-a", "block-c"])))
    assert limited.sites == frozenset({"block-a", "block-c"})
    assert (await validator.validate(issuer.issue(ALICE))).sites == frozenset()
