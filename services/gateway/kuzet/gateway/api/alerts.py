"""Alerts: list, get, acknowledge, resolve; site duty configuration (alerting service)."""

# FastAPI declares parameters with Depends()/Query() defaults; they are evaluated per request.
# ruff: noqa: B008

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.v1 import common_pb2
from kuzet.gateway.api.common import add_url, evidence_url, severity, timestamp
from kuzet.gateway.auth import Principal
from kuzet.gateway.context import Gateway, gateway_of
from kuzet.gateway.deps import page_params, require
from kuzet.gateway.errors import error_responses
from kuzet.gateway.protojson import enum_value, from_json, json_body, json_response, short_enum_names, to_json
from kuzet.gateway.roles import Permission

router = APIRouter(prefix="/api/v1", tags=["alerts"], responses=error_responses(400, 401, 403, 429, 503))

STATE = pb.DESCRIPTOR.enum_types_by_name["AlertState"]
ORDER = pb.DESCRIPTOR.enum_types_by_name["AlertOrder"]
OUTCOME = pb.DESCRIPTOR.enum_types_by_name["AlertOutcome"]


def _id() -> Any:
    # A fresh Path() per route: FastAPI binds a parameter object to the first route using it.
    return Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")


def alert_json(gw: Gateway, principal: Principal, alert: pb.Alert) -> dict[str, Any]:
    out = to_json(alert)
    snap = alert.latest.snapshot.key if alert.HasField("latest") else ""
    add_url(out, "snapshot_url", evidence_url(gw, principal, "object", snap, f"alert {alert.alert_id}"))
    return out


class AckBody(BaseModel):
    note: str = Field("", max_length=2000)


class ResolveBody(BaseModel):
    outcome: str = Field(description="One of: " + ", ".join(short_enum_names(OUTCOME)), max_length=64)
    note: str = Field("", max_length=2000)


@router.get(
    "/alerts",
    summary="List the caller's agency's alerts (and those shared with it)",
    responses=json_response(pb.ListAlertsResponse.DESCRIPTOR),
)
async def list_alerts(
    request: Request,
    principal: Principal = Depends(require(Permission.ALERTS_READ)),
    page: common_pb2.PageRequest = Depends(page_params),
    state: list[str] = Query([], description="new, acknowledged, resolved (repeatable)"),
    min_severity: str | None = Query(None, description="info, low, medium, high, critical", max_length=32),
    site_id: list[str] = Query([], description="Only these sites (repeatable)"),
    type: list[str] = Query([], description="Only these event types (repeatable)"),
    source_id: list[str] = Query([], description="Only these sources (repeatable)"),
    since: datetime | None = Query(None, description="last_seen_at >= since (RFC 3339)"),
    until: datetime | None = Query(None, description="first_seen_at < until (RFC 3339)"),
    order: str | None = Query(
        None, description="priority, oldest_first (default newest first)", max_length=32
    ),
) -> dict[str, Any]:
    gw = gateway_of(request)
    req = pb.ListAlertsRequest(
        filter=pb.AlertFilter(
            site_ids=site_id, min_severity=severity(min_severity), types=type, source_ids=source_id
        ),
        states=[enum_value(STATE, s, "state") for s in state],
        order=enum_value(ORDER, order, "order") if order else 0,
        page=page,
    )
    if (ts := timestamp(since, "since")) is not None:
        req.since.CopyFrom(ts)
    if (ts := timestamp(until, "until")) is not None:
        req.until.CopyFrom(ts)
    resp = await gw.call(principal, gw.backends.alerting.ListAlerts, req)
    return {"alerts": [alert_json(gw, principal, a) for a in resp.alerts], "page": to_json(resp.page)}


@router.get(
    "/alerts/{alert_id}",
    summary="One alert, optionally with its history",
    responses={**json_response(pb.GetAlertResponse.DESCRIPTOR), **error_responses(404)},
)
async def get_alert(
    request: Request,
    alert_id: str = _id(),
    history: bool = Query(False),
    principal: Principal = Depends(require(Permission.ALERTS_READ)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    resp = await gw.call(
        principal,
        gw.backends.alerting.GetAlert,
        pb.GetAlertRequest(alert_id=alert_id, include_history=history),
    )
    return {"alert": alert_json(gw, principal, resp.alert), "history": [to_json(h) for h in resp.history]}


@router.post(
    "/alerts/{alert_id}/acknowledge",
    summary="Take an alert (new -> acknowledged); stops its escalation",
    responses={**json_response(pb.AcknowledgeResponse.DESCRIPTOR), **error_responses(404, 409)},
)
async def acknowledge(
    request: Request,
    body: AckBody,
    alert_id: str = _id(),
    principal: Principal = Depends(require(Permission.ALERTS_ACT)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    resp = await gw.call(
        principal, gw.backends.alerting.Acknowledge, pb.AcknowledgeRequest(alert_id=alert_id, note=body.note)
    )
    return {"alert": alert_json(gw, principal, resp.alert)}


@router.post(
    "/alerts/{alert_id}/resolve",
    summary="Close an alert with an outcome and a note",
    responses={**json_response(pb.ResolveResponse.DESCRIPTOR), **error_responses(404, 409)},
)
async def resolve(
    request: Request,
    body: ResolveBody,
    alert_id: str = _id(),
    principal: Principal = Depends(require(Permission.ALERTS_ACT)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    outcome = enum_value(OUTCOME, body.outcome, "outcome")
    resp = await gw.call(
        principal,
        gw.backends.alerting.Resolve,
        pb.ResolveRequest(alert_id=alert_id, outcome=outcome, note=body.note),
    )
    return {"alert": alert_json(gw, principal, resp.alert)}


@router.get(
    "/sites",
    summary="Alerting configuration of the agency's sites (duty rosters, escalation)",
    responses=json_response(pb.ListSiteConfigsResponse.DESCRIPTOR),
)
async def list_sites(
    request: Request, principal: Principal = Depends(require(Permission.ALERTS_READ))
) -> dict[str, Any]:
    gw = gateway_of(request)
    return to_json(
        await gw.call(principal, gw.backends.alerting.ListSiteConfigs, pb.ListSiteConfigsRequest())
    )


@router.put(
    "/sites/{site_id}",
    summary="Replace a site's alerting configuration (duty roster, escalation, cool-down)",
    openapi_extra=json_body(pb.SiteConfig.DESCRIPTOR),
    responses=json_response(pb.PutSiteConfigResponse.DESCRIPTOR),
)
async def put_site(
    request: Request,
    site_id: str = _id(),
    body: dict[str, Any] = Body(...),
    principal: Principal = Depends(require(Permission.SITES_ADMIN)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    config = from_json(body, pb.SiteConfig, "site config")
    config.site_id = site_id
    config.agency_id = config.agency_id or principal.agency
    return to_json(
        await gw.call(principal, gw.backends.alerting.PutSiteConfig, pb.PutSiteConfigRequest(config=config))
    )


@router.get(
    "/shared-routes",
    summary="Routes that share this agency's alerts with another agency, and those into it",
    responses=json_response(pb.ListSharedRoutesResponse.DESCRIPTOR),
)
async def list_shared_routes(
    request: Request, principal: Principal = Depends(require(Permission.SITES_ADMIN))
) -> dict[str, Any]:
    gw = gateway_of(request)
    return to_json(
        await gw.call(principal, gw.backends.alerting.ListSharedRoutes, pb.ListSharedRoutesRequest())
    )


@router.post(
    "/shared-routes",
    summary="Share some alerts with another agency (reason required; audited)",
    openapi_extra=json_body(pb.SharedRoute.DESCRIPTOR),
    responses={**json_response(pb.CreateSharedRouteResponse.DESCRIPTOR), **error_responses(409)},
)
async def create_shared_route(
    request: Request,
    body: dict[str, Any] = Body(...),
    principal: Principal = Depends(require(Permission.SITES_ADMIN)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    route = from_json(body, pb.SharedRoute, "shared route")
    return to_json(
        await gw.call(
            principal, gw.backends.alerting.CreateSharedRoute, pb.CreateSharedRouteRequest(route=route)
        )
    )


@router.delete(
    "/shared-routes/{route_id}",
    summary="Stop sharing (reason required; audited)",
    responses={200: {"description": "Deleted"}, **error_responses(404)},
)
async def delete_shared_route(
    request: Request,
    route_id: str = _id(),
    reason: str = Query(min_length=1, max_length=2000),
    principal: Principal = Depends(require(Permission.SITES_ADMIN)),
) -> dict[str, Any]:
    gw = gateway_of(request)
    await gw.call(
        principal,
        gw.backends.alerting.DeleteSharedRoute,
        pb.DeleteSharedRouteRequest(route_id=route_id, reason=reason),
    )
    return {}
