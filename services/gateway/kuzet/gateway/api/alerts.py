"""Alerts: list, get, acknowledge, resolve; site duty configuration (alerting service)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.gateway.convert import alert_json, severity, timestamp
from kuzet.gateway.errors import error_responses
from kuzet.gateway.protojson import enum_value, short_enum_names, to_json
from kuzet.gateway.roles import Permission
from kuzet.gateway.routes import DELETED, Call, ProtoBody, Route, mount, reply_empty, rpc

STATE = pb.DESCRIPTOR.enum_types_by_name["AlertState"]
ORDER = pb.DESCRIPTOR.enum_types_by_name["AlertOrder"]
OUTCOME = pb.DESCRIPTOR.enum_types_by_name["AlertOutcome"]


class AckBody(BaseModel):
    note: str = Field("", max_length=2000)


class ResolveBody(BaseModel):
    outcome: str = Field(description="One of: " + ", ".join(short_enum_names(OUTCOME)), max_length=64)
    note: str = Field("", max_length=2000)


def _list_request(c: Call) -> pb.ListAlertsRequest:
    req = pb.ListAlertsRequest(
        filter=pb.AlertFilter(
            site_ids=c.site_id, min_severity=severity(c.min_severity), types=c.type, source_ids=c.source_id
        ),
        states=[enum_value(STATE, s, "state") for s in c.state],
        order=enum_value(ORDER, c.order, "order") if c.order else 0,
        page=c.page,
    )
    if (ts := timestamp(c.since, "since")) is not None:
        req.since.CopyFrom(ts)
    if (ts := timestamp(c.until, "until")) is not None:
        req.until.CopyFrom(ts)
    return req


def _alerts(c: Call, resp: pb.ListAlertsResponse) -> dict[str, Any]:
    return {"alerts": [alert_json(c.gw, c.principal, a) for a in resp.alerts], "page": to_json(resp.page)}


def _alert(c: Call, resp: pb.AcknowledgeResponse | pb.ResolveResponse) -> dict[str, Any]:
    return {"alert": alert_json(c.gw, c.principal, resp.alert)}


def _site_config(c: Call) -> pb.PutSiteConfigRequest:
    config: pb.SiteConfig = c.body
    config.site_id = c.site_id
    config.agency_id = config.agency_id or c.principal.agency
    return pb.PutSiteConfigRequest(config=config)


ROUTES = [
    Route(
        "GET",
        "/alerts",
        Permission.ALERTS_READ,
        rpc("alerting", "ListAlerts"),
        _list_request,
        summary="List the caller's agency's alerts (and those shared with it)",
        paged=True,
        params={
            "state": (list[str], Query([], description="new, acknowledged, resolved (repeatable)")),
            "min_severity": (
                str | None,
                Query(None, description="info, low, medium, high, critical", max_length=32),
            ),
            "site_id": (list[str], Query([], description="Only these sites (repeatable)")),
            "type": (list[str], Query([], description="Only these event types (repeatable)")),
            "source_id": (list[str], Query([], description="Only these sources (repeatable)")),
            "since": (datetime | None, Query(None, description="last_seen_at >= since (RFC 3339)")),
            "until": (datetime | None, Query(None, description="first_seen_at < until (RFC 3339)")),
            "order": (
                str | None,
                Query(None, description="priority, oldest_first (default newest first)", max_length=32),
            ),
        },
        render=_alerts,
    ),
    Route(
        "GET",
        "/alerts/{alert_id}",
        Permission.ALERTS_READ,
        rpc("alerting", "GetAlert"),
        lambda c: pb.GetAlertRequest(alert_id=c.alert_id, include_history=c.history),
        summary="One alert, optionally with its history",
        params={"history": (bool, Query(False))},
        render=lambda c, resp: {
            "alert": alert_json(c.gw, c.principal, resp.alert),
            "history": [to_json(h) for h in resp.history],
        },
        errors=(404,),
    ),
    Route(
        "POST",
        "/alerts/{alert_id}/acknowledge",
        Permission.ALERTS_ACT,
        rpc("alerting", "Acknowledge"),
        lambda c: pb.AcknowledgeRequest(alert_id=c.alert_id, note=c.body.note),
        summary="Take an alert (new -> acknowledged); stops its escalation",
        body=AckBody,
        render=_alert,
        errors=(404, 409),
    ),
    Route(
        "POST",
        "/alerts/{alert_id}/resolve",
        Permission.ALERTS_ACT,
        rpc("alerting", "Resolve"),
        lambda c: pb.ResolveRequest(
            alert_id=c.alert_id, outcome=enum_value(OUTCOME, c.body.outcome, "outcome"), note=c.body.note
        ),
        summary="Close an alert with an outcome and a note",
        body=ResolveBody,
        render=_alert,
        errors=(404, 409),
    ),
    Route(
        "GET",
        "/sites",
        Permission.ALERTS_READ,
        rpc("alerting", "ListSiteConfigs"),
        lambda c: pb.ListSiteConfigsRequest(),
        summary="Alerting configuration of the agency's sites (duty rosters, escalation)",
        name="list_sites",
    ),
    Route(
        "PUT",
        "/sites/{site_id}",
        Permission.SITES_ADMIN,
        rpc("alerting", "PutSiteConfig"),
        _site_config,
        summary="Replace a site's alerting configuration (duty roster, escalation, cool-down)",
        body=ProtoBody(pb.SiteConfig, "site config"),
        name="put_site",
    ),
    Route(
        "GET",
        "/shared-routes",
        Permission.SITES_ADMIN,
        rpc("alerting", "ListSharedRoutes"),
        lambda c: pb.ListSharedRoutesRequest(),
        summary="Routes that share this agency's alerts with another agency, and those into it",
    ),
    Route(
        "POST",
        "/shared-routes",
        Permission.SITES_ADMIN,
        rpc("alerting", "CreateSharedRoute"),
        lambda c: pb.CreateSharedRouteRequest(route=c.body),
        summary="Share some alerts with another agency (reason required; audited)",
        body=ProtoBody(pb.SharedRoute, "shared route"),
        errors=(409,),
    ),
    Route(
        "DELETE",
        "/shared-routes/{route_id}",
        Permission.SITES_ADMIN,
        rpc("alerting", "DeleteSharedRoute"),
        lambda c: pb.DeleteSharedRouteRequest(route_id=c.route_id, reason=c.reason),
        summary="Stop sharing (reason required; audited)",
        params={"reason": (str, Query(min_length=1, max_length=2000))},
        render=reply_empty,
        ok=DELETED,
        errors=(404,),
    ),
]

router = mount(
    APIRouter(prefix="/api/v1", tags=["alerts"], responses=error_responses(400, 401, 403, 429, 503)), ROUTES
)
