"""Issuer -> agency binding at the gateway: an agency's IdP cannot sign in another agency's users,
and the same username at two IdPs is two people wherever a subject is recorded.

The real gateway (in this process) with two external IdPs (token signers whose keys it holds) and
its local issuer; tokens are minted the way each IdP would, including hostile ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from kuzet.common.config import Endpoints
from kuzet.common.errors import ConfigError
from kuzet.gateway.app import create_app
from kuzet.gateway.config import GatewaySettings
from kuzet.gateway.context import Gateway, build_gateway
from kuzet.gateway.localissuer import DemoUser, LocalIssuer, SigningKey, hash_password

PRISON_IDP = "https://sso.prison.example/realms/staff"
POLICE_IDP = "https://sso.police.example/realms/officers"


def user(name: str, agency: str, *roles: str) -> DemoUser:
    return DemoUser(username=name, password=hash_password("unused"), agency=agency, roles=list(roles))


@dataclass
class Stack:
    client: httpx.AsyncClient
    gateway: Gateway
    prison_idp: LocalIssuer
    police_idp: LocalIssuer

    async def me(self, token: str) -> httpx.Response:
        return await self.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    prison_idp = LocalIssuer(PRISON_IDP, "kuzet", [], key=SigningKey.create())
    police_idp = LocalIssuer(POLICE_IDP, "kuzet", [], key=SigningKey.create())
    settings = GatewaySettings(
        data_dir=tmp_path / "gateway", rate_limit_per_second=1000, rate_limit_burst=1000
    )
    gw = build_gateway(
        settings,
        endpoints=Endpoints(),
        extra_issuers={
            PRISON_IDP: (prison_idp.jwks_source, frozenset({"prison"})),
            POLICE_IDP: (police_idp.jwks_source, frozenset({"police"})),
        },
    )
    transport = httpx.ASGITransport(app=create_app(settings, gateway=gw))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield Stack(client, gw, prison_idp, police_idp)
    finally:
        await gw.close()


async def test_an_idp_cannot_assert_another_agency(stack: Stack) -> None:
    # The prison IdP's administrator mints a police admin, and a police IdP token claims prison.
    for idp, forged in (
        (stack.prison_idp, user("insider", "police", "admin", "investigator")),
        (stack.police_idp, user("insider", "prison", "admin")),
    ):
        reply = await stack.me(idp.issue(forged))
        assert reply.status_code == 401, reply.text
        assert f"issuer {idp.issuer} may not assert agency '{forged.agency}'" in reply.text
    # An agency the platform does not know at all, or a long claim, is refused the same way.
    for agency in ("ministry", "x" * 64):
        reply = await stack.me(stack.prison_idp.issue(user("insider", agency, "admin")))
        assert reply.status_code == 401 and "may not assert agency" in reply.text
        assert len(reply.text) < 500
    # The local issuer asserts only the agencies of its own users.
    local = stack.gateway.local_issuer
    assert local is not None
    reply = await stack.me(local.issue(user("someone", "ministry", "admin")))
    assert reply.status_code == 401

    # Within its binding each IdP signs its users in as before.
    ok = await stack.me(stack.prison_idp.issue(user("alice", "prison", "reviewer")))
    assert ok.status_code == 200 and ok.json()["agency"] == "prison"


async def test_the_same_username_at_two_idps_is_two_subjects(stack: Stack) -> None:
    police = (await stack.me(stack.police_idp.issue(user("alice", "police", "operator")))).json()
    prison = (await stack.me(stack.prison_idp.issue(user("alice", "police", "operator")))).status_code
    assert prison == 401  # the prison IdP's alice is no police officer
    local = stack.gateway.local_issuer
    assert local is not None
    mine = (await stack.me(local.issue(local.user("police-operator")))).json()
    # The IdP's own subject ("police/alice" from this one), then its issuer.
    assert police["subject"] == "police/alice@sso.police.example/realms/officers"
    assert mine["subject"] == "police/police-operator@local"


def test_an_issuer_without_binding_stops_the_gateway(tmp_path: Path) -> None:
    settings = GatewaySettings(data_dir=tmp_path / "gateway", local_issuer=False, issuers=[PRISON_IDP])
    with pytest.raises(ConfigError, match="KUZET_GATEWAY_ISSUER_AGENCIES"):
        build_gateway(settings, endpoints=Endpoints())
