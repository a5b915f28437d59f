"""Caller tokens: minted per audience, short-lived, verified against every service's key."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest

from kuzet.common.caller import ANONYMOUS, TOKEN_KEY, Caller, CallerTokens
from kuzet.common.callerkeys import SERVICES, generate_keys, load_keyring
from kuzet.common.cli import main
from kuzet.common.errors import ConfigError, Unauthenticated

ALICE = Caller("alice", "police", frozenset({"operator"}))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    generate_keys(directory, ["gateway", "ingest"])
    return directory


def tokens_of(keys: Path, issuer: str, ttl_s: float = 30.0) -> CallerTokens:
    return CallerTokens(load_keyring(keys / "jwks.json", keys / f"{issuer}.pem"), ttl_s=ttl_s)


def refused(tokens: CallerTokens, token: str, audience: str = "identity") -> str:
    with pytest.raises(Unauthenticated) as err:
        tokens.caller_from([(TOKEN_KEY, token)], audience)
    return err.value.message


def test_a_token_carries_the_caller_to_its_audience_only(keys: Path) -> None:
    gateway = tokens_of(keys, "gateway")
    token = gateway.token(ALICE, "identity")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == "gateway" and claims["aud"] == "identity" and claims["sub"] == "alice"
    assert claims["agency"] == "police" and claims["roles"] == ["operator"] and claims["jti"]
    assert claims["exp"] - claims["iat"] == 30
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": "gateway", "typ": "JWT"}
    verifier = tokens_of(keys, "ingest")
    assert verifier.caller_from([(TOKEN_KEY, token)], "identity") == ALICE
    assert "audience 'identity', not 'badge'" in refused(verifier, token, "badge")
    # Cached for half its life: a hot path does not sign per call.
    assert gateway.token(ALICE, "identity") == token
    assert gateway.token(ALICE, "badge") != token
    assert verifier.caller_from(gateway.metadata(ANONYMOUS, "identity"), "identity") == ANONYMOUS


def test_expired_forged_unknown_and_unsigned_tokens_are_refused(keys: Path, tmp_path: Path) -> None:
    gateway, verifier = tokens_of(keys, "gateway"), tokens_of(keys, "ingest")
    old = gateway.mint(ALICE, "identity", now=time.time() - 120)
    assert refused(verifier, old) == "caller token expired"
    # Signed by a key of the same name that is not the platform's.
    generate_keys(tmp_path, ["gateway"])
    forged = CallerTokens(load_keyring(tmp_path / "jwks.json", tmp_path / "gateway.pem")).mint(
        ALICE, "identity"
    )
    assert "signature does not verify" in refused(verifier, forged)
    stranger = tmp_path / "stranger"
    generate_keys(stranger, ["mallory"])
    unknown = CallerTokens(load_keyring(stranger / "jwks.json", stranger / "mallory.pem")).mint(
        ALICE, "identity"
    )
    assert "unknown key 'mallory'" in refused(verifier, unknown)
    claims = jwt.decode(gateway.mint(ALICE, "identity"), options={"verify_signature": False})
    unsigned = jwt.encode(claims, key=None, algorithm="none", headers={"kid": "gateway"})
    assert "algorithm 'none' is not accepted" in refused(verifier, unsigned)
    assert "malformed" in refused(verifier, "not-a-jwt")
    with pytest.raises(Unauthenticated, match="no caller token"):
        verifier.caller_from([("x-kuzet-subject", "alice"), ("x-kuzet-roles", "admin")], "identity")


def test_a_token_may_not_live_longer_than_a_minute(keys: Path) -> None:
    gateway = tokens_of(keys, "gateway")
    keyring = gateway.keyring
    assert keyring is not None and keyring.signing_key is not None
    now = int(time.time())
    claims = {"iss": "gateway", "sub": "alice", "agency": "police", "roles": [], "aud": "identity"}
    long_lived = jwt.encode(
        {**claims, "iat": now, "exp": now + 3600, "jti": "x"},
        keyring.signing_key,
        algorithm="EdDSA",
        headers={"kid": "gateway"},
    )
    assert "more than 60 s" in refused(gateway, long_lived)
    with pytest.raises(ConfigError, match="lifetime"):
        tokens_of(keys, "gateway", ttl_s=61)


def test_keys_must_match_their_jwks(keys: Path, tmp_path: Path) -> None:
    generate_keys(tmp_path, ["gateway"])
    with pytest.raises(ConfigError, match="not in the JWKS"):
        load_keyring(keys / "jwks.json", tmp_path / "gateway.pem")
    (tmp_path / "empty.json").write_text(json.dumps({"keys": []}))
    with pytest.raises(ConfigError, match="no keys"):
        load_keyring(tmp_path / "empty.json")


def test_kuzet_keys_generate_writes_a_key_per_service_and_the_jwks(tmp_path: Path) -> None:
    assert main(["keys", "generate", str(tmp_path / "k"), "--issuer", "tools"]) == 0
    jwks = json.loads((tmp_path / "k" / "jwks.json").read_text())
    assert sorted(k["kid"] for k in jwks["keys"]) == sorted([*SERVICES, "tools"])
    for name in [*SERVICES, "tools"]:
        assert (tmp_path / "k" / f"{name}.pem").stat().st_mode & 0o077 == 0
        assert load_keyring(tmp_path / "k" / "jwks.json", tmp_path / "k" / f"{name}.pem").issuer == name


def test_a_callers_site_limit_travels_in_its_token_and_in_plain_metadata(keys: Path) -> None:
    block_a = Caller("bob", "prison", frozenset({"operator"}), frozenset({"block-a"}))
    token = tokens_of(keys, "gateway").token(block_a, "alerting")
    assert jwt.decode(token, options={"verify_signature": False})["sites"] == ["block-a"]
    assert tokens_of(keys, "ingest").caller_from([(TOKEN_KEY, token)], "alerting") == block_a
    plain = CallerTokens(None, plain=True)
    assert plain.caller_from(plain.metadata(block_a, "alerting"), "alerting") == block_a
    # The limit is within its own agency: another agency's shared data is that agency's.
    assert block_a.sees_site("prison", "block-a") and not block_a.sees_site("prison", "block-b")
    assert block_a.sees_site("police", "district-3") and ALICE.sees_site("police", "any")
