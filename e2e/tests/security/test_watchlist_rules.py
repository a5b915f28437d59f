"""Watchlists through the gateway's REST API: no endless watchlist, no single-reviewer watchlist.

The real gateway (in this process) in front of the real identity service (SQLite); galleries
need no face model, so identity points at an inference address nothing answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from kuzet.common.config import Endpoints
from kuzet.gateway.app import create_app
from kuzet.gateway.config import GatewaySettings
from kuzet.gateway.context import build_gateway
from kuzet.identity.config import IdentitySettings
from kuzet.identity.server import build as build_identity


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    identity, _ = await build_identity(
        IdentitySettings(
            database_url=f"sqlite:///{tmp_path / 'identity.db'}",
            data_dir=tmp_path / "identity",
            publish_events=False,
            watchlist_max_days=30,
        ),
        port=0,
        endpoints=Endpoints(inference="127.0.0.1:1", alerting="127.0.0.1:1"),
    )
    await identity.start()
    settings = GatewaySettings(
        data_dir=tmp_path / "gateway", rate_limit_per_second=1000, rate_limit_burst=1000
    )
    gw = build_gateway(settings, endpoints=Endpoints(identity=identity.address))
    transport = httpx.ASGITransport(app=create_app(settings, gateway=gw))
    assert gw.local_issuer is not None
    token = gw.local_issuer.issue(gw.local_issuer.user("prison-admin"))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client, {"Authorization": f"Bearer {token}"}
    finally:
        await gw.close()
        await identity.stop(0)


def _body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "escape risk",
        "kind": "watchlist",
        "purpose": "persons barred from staff areas",
        "legal_basis": "court order 1/2026",
        "owner": "warden",
    }
    body.update(fields)
    return body


def _in(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({}, 400, "needs expires_at"),
        ({"expires_at": _in(31)}, 400, "more than 30 days ahead"),
        ({"expires_at": _in(-1)}, 400, "in the future"),
        ({"expires_at": _in(10), "required_reviewers": 1}, 400, "at least 2 required_reviewers"),
        ({"expires_at": _in(10), "required_reviewers": -1}, 400, "required_reviewers"),
        ({"expires_at": _in(10), "required_reviewers": 11}, 400, "required_reviewers"),
        ({"expires_at": "2026-13-45T99:00:00Z"}, 400, "expires_at"),
        ({"expires_at": "2030-01-01T00:00:00"}, 400, "time zone"),
        ({"expires_at": "9999-12-31T23:59:59Z"}, 400, "days ahead"),
    ],
)
async def test_bad_watchlists_are_refused_with_a_clear_message(
    api: tuple[httpx.AsyncClient, dict[str, str]], fields: dict[str, Any], status: int, words: str
) -> None:
    client, auth = api
    resp = await client.post("/api/v1/galleries", json=_body(**fields), headers=auth)
    assert resp.status_code == status, resp.text
    assert words in resp.text
    # Nothing was stored.
    listed = await client.get("/api/v1/galleries", headers=auth)
    assert listed.json().get("galleries", []) == []


async def test_a_watchlist_with_an_expiry_and_two_reviewers_is_created(
    api: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    client, auth = api
    resp = await client.post("/api/v1/galleries", json=_body(expires_at=_in(29)), headers=auth)
    assert resp.status_code == 200, resp.text
    gallery = resp.json()["gallery"]
    assert gallery["required_reviewers"] == 2 and gallery["expires_at"]


async def test_an_update_cannot_take_a_watchlist_outside_the_rules(
    api: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    client, auth = api
    created = await client.post("/api/v1/galleries", json=_body(expires_at=_in(10)), headers=auth)
    url = f"/api/v1/galleries/{created.json()['gallery']['gallery_id']}"
    for body, words in (
        ({"required_reviewers": 1}, "at least 2"),
        ({"expires_at": _in(31)}, "more than 30 days ahead"),
        ({"expires_at": _in(-1)}, "in the future"),
    ):
        resp = await client.patch(url, json=body, headers=auth)
        assert resp.status_code == 400 and words in resp.text, resp.text
    resp = await client.patch(url, json={"expires_at": _in(20), "required_reviewers": 3}, headers=auth)
    assert resp.status_code == 200 and resp.json()["gallery"]["required_reviewers"] == 3
    assert (await client.patch("/api/v1/galleries/nope", json={}, headers=auth)).status_code == 404
