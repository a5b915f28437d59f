"""One person cannot release a legal hold through the gateway's REST API.

The real gateway (in this process) in front of the real identity service (SQLite), which keeps
the holds on face-match review cases. An investigator places a hold and asks to release it; the
same person asking again, an operator, or another agency's investigator gets nowhere, and the
hold still holds; only a second person with the role completes the release. Every step is in
identity's audit trail with who took it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kuzet.common.config import Endpoints
from kuzet.gateway.app import create_app
from kuzet.gateway.config import GatewaySettings
from kuzet.gateway.context import build_gateway
from kuzet.identity.config import IdentitySettings
from kuzet.identity.server import build as build_identity

Client = tuple[httpx.AsyncClient, dict[str, dict[str, str]]]
USERS = ("prison-investigator", "prison-admin", "prison-operator", "prison-auditor", "police-investigator")


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Client]:
    identity, _ = await build_identity(
        IdentitySettings(
            database_url=f"sqlite:///{tmp_path / 'identity.db'}",
            data_dir=tmp_path / "identity",
            publish_events=False,
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
    issuer = gw.local_issuer
    assert issuer is not None
    headers = {name: {"Authorization": f"Bearer {issuer.issue(issuer.user(name))}"} for name in USERS}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client, headers
    finally:
        await gw.close()
        await identity.stop(0)


async def test_one_person_cannot_release_a_hold(api: Client) -> None:
    client, who = api
    placed = await client.post(
        "/api/v1/holds",
        json={"kind": "identity.match", "case_id": "event-42", "reason": "complaint 42 under review"},
        headers=who["prison-investigator"],
    )
    assert placed.status_code == 200, placed.text
    hold = placed.json()["hold"]
    assert hold["state"] == "HOLD_STATE_ACTIVE" and hold["service"] == "identity"
    release = f"/api/v1/holds/identity/{hold['hold_id']}/release"
    path = f"/api/v1/holds/identity/{hold['hold_id']}"

    first = await client.post(
        release, json={"reason": "complaint closed"}, headers=who["prison-investigator"]
    )
    assert first.status_code == 200, first.text
    assert first.json()["released"] is False
    assert first.json()["hold"]["state"] == "HOLD_STATE_RELEASE_PENDING"

    # The same person again: refused with the rule, and the hold still holds.
    again = await client.post(release, json={"reason": "really closed"}, headers=who["prison-investigator"])
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "FAILED_PRECONDITION"
    assert "second person" in again.json()["error"]["message"]
    # Nobody without the role, and nobody of another agency, can be the second person.
    operator = await client.post(release, json={"reason": "closed"}, headers=who["prison-operator"])
    assert operator.status_code == 403
    police = await client.post(release, json={"reason": "closed"}, headers=who["police-investigator"])
    assert police.status_code == 404
    assert (await client.get(path, headers=who["police-investigator"])).status_code == 404
    still = await client.get(path, headers=who["prison-auditor"])
    assert still.status_code == 200 and still.json()["hold"]["state"] == "HOLD_STATE_RELEASE_PENDING"
    assert still.json()["hold"]["release_requested_by"] == first.json()["hold"]["release_requested_by"]

    done = await client.post(release, json={"reason": "agreed, closed"}, headers=who["prison-admin"])
    assert done.status_code == 200, done.text
    assert done.json()["released"] is True and done.json()["hold"]["state"] == "HOLD_STATE_RELEASED"
    late = await client.post(release, json={"reason": "once more"}, headers=who["prison-investigator"])
    assert late.status_code == 409

    listed = await client.get(
        "/api/v1/holds",
        params={"kind": "identity.match", "include_released": "true"},
        headers=who["prison-auditor"],
    )
    assert [h["hold_id"] for h in listed.json()["holds"]] == [hold["hold_id"]]
    trail = await client.get(
        "/api/v1/audit",
        params={"service": "identity", "action_prefix": "hold."},
        headers=who["prison-auditor"],
    )
    assert trail.status_code == 200, trail.text
    steps = [(r["action"], r["actor"]) for r in trail.json()["records"]]
    investigator = first.json()["hold"]["release_requested_by"]
    assert [a for a, _ in steps] == ["hold.place", "hold.release_request", "hold.release"]
    assert steps[1][1] == investigator and steps[2][1] == done.json()["hold"]["released_by"] != investigator


async def test_bad_holds_are_refused_and_nothing_is_stored(api: Client) -> None:
    client, who = api
    inv = who["prison-investigator"]
    for body, words in [
        ({"kind": "identity.match", "reason": "no scope"}, "exactly one"),
        ({"kind": "identity.match", "item_id": "m", "case_id": "c", "reason": "two scopes"}, "exactly one"),
        ({"kind": "badge.anything", "item_id": "m", "reason": "r"}, "kind must be one of"),
        ({"kind": "identity.match", "item_id": "../../etc", "reason": "r"}, "item_id"),
        (
            {"kind": "identity.match", "item_id": "m", "from_time": "2026-01-01T00:00:00Z", "reason": "r"},
            "source_id",
        ),
        (
            {
                "kind": "identity.match",
                "source_id": "cam-1",
                "from_time": "2026-01-01T00:00:00",
                "reason": "r",
            },
            "time zone",
        ),
    ]:
        resp = await client.post("/api/v1/holds", json=body, headers=inv)
        assert resp.status_code == 400, (body, resp.text)
        assert words in resp.json()["error"]["message"], (body, resp.text)
    assert (
        await client.post("/api/v1/holds", json={"kind": "identity.match", "item_id": "m"}, headers=inv)
    ).status_code == 400
    assert (
        await client.post(
            "/api/v1/holds",
            json={"kind": "identity.match", "item_id": "m", "reason": "r"},
            headers=who["prison-operator"],
        )
    ).status_code == 403
    assert (await client.get("/api/v1/holds", params={"kind": "identity.match"}, headers=inv)).json()[
        "holds"
    ] == []
