"""The route table: a newcomer's endpoint is one row, served and documented like the others."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter

from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.gateway.errors import error_responses
from kuzet.gateway.roles import Permission
from kuzet.gateway.routes import Audit, Route, mount, rpc

# The newcomer's endpoint: how many alerts the caller's agency has open, as one row.
COUNT = Route(
    "GET",
    "/alerts-count",
    Permission.ALERTS_READ,
    rpc("alerting", "ListAlerts"),
    lambda c: pb.ListAlertsRequest(states=[pb.ALERT_STATE_NEW], page=c.page),
    summary="How many new alerts (on this page)",
    paged=True,
    render=lambda c, resp: {"count": len(resp.alerts)},
    ok={200: {"description": "The count"}},
    audit=Audit("alerts.count", lambda c: c.principal.agency),
    tags=("newcomer",),
)


async def test_a_new_endpoint_is_one_row(stack: Any) -> None:
    gw, backing = stack
    router = mount(APIRouter(prefix="/api/v1", responses=error_responses(400, 401, 403, 429, 503)), [COUNT])
    gw.app.include_router(router)
    await backing.publish("prison")
    await backing.publish("police")

    resp = await gw.client.get("/api/v1/alerts-count", headers=gw.auth("prison-operator"))
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"count": 1}  # agency isolation comes with the backing service's call
    records = gw.gateway.audit.list(agency="prison", action_prefix="alerts.count")
    assert [(r.action, r.target) for r in records] == [("alerts.count", "prison")]

    # The row's permission, token check and parameter validation are the gateway's usual ones.
    denied = await gw.client.get("/api/v1/alerts-count", headers=gw.auth("prison-auditor"))
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "PERMISSION_DENIED"
    assert (await gw.client.get("/api/v1/alerts-count")).status_code == 401
    bad = await gw.client.get(
        "/api/v1/alerts-count", params={"page_size": 0}, headers=gw.auth("prison-operator")
    )
    assert bad.status_code == 400 and "page_size" in bad.json()["error"]["message"]

    op = (await gw.client.get("/openapi.json")).json()["paths"]["/api/v1/alerts-count"]["get"]
    assert op["summary"] == "How many new alerts (on this page)" and op["tags"] == ["newcomer"]
    assert {p["name"] for p in op["parameters"]} == {"page_size", "page_token"}
    assert {"200", "400", "401", "403", "429", "503"} <= set(op["responses"])
    assert op["security"] == [{"HTTPBearer": []}]


def test_a_row_naming_an_rpc_the_service_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="alerting has no RPC 'ListAlert'"):
        rpc("alerting", "ListAlert")
    with pytest.raises(ValueError, match="radar has no RPC"):
        rpc("radar", "Sweep")


def test_a_row_whose_parameter_the_table_would_shadow_is_refused() -> None:
    row = Route(
        "GET",
        "/things/{body}",
        Permission.ALERTS_READ,
        rpc("alerting", "GetAlert"),
        lambda c: pb.GetAlertRequest(alert_id=c.body),
        summary="Shadowed",
    )
    with pytest.raises(ValueError, match=r"reserved by the route table: \['body'\]"):
        mount(APIRouter(), [row])
