"""The figures ministries report, per agency and month: violations found and response times (from
alerting's alerts), citations (badge), bribery attempts recorded (badge, internal affairs only)
and drone flight hours (drone).

Months are counted in the time zone the caller names (the console sends the site's, else the
browser's), UTC when none; the period is kuzet.common.periods' (at most five years), one year up
to now when not given."""

# FastAPI declares parameters with Depends()/Query() defaults; they are evaluated per request.
# ruff: noqa: B008

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from google.protobuf.timestamp_pb2 import Timestamp

from kuzet.alerting.v1 import alerting_pb2 as apb
from kuzet.badge.v1 import badge_pb2 as bpb
from kuzet.common.periods import Period, period_of
from kuzet.common.timeutil import from_timestamp
from kuzet.common.v1 import common_pb2
from kuzet.drone.v1 import drone_pb2 as dpb
from kuzet.gateway.auth import Principal
from kuzet.gateway.context import gateway_of
from kuzet.gateway.convert import timestamp
from kuzet.gateway.deps import require
from kuzet.gateway.errors import error_responses
from kuzet.gateway.protojson import to_json
from kuzet.gateway.roles import Permission
from kuzet.gateway.routes import Call, Route, mount, rpc

DEFAULT_SPAN = timedelta(days=365)
# Alerts are read page by page (alerting's largest page); past this many the answer says truncated.
ALERT_PAGE = 500
MAX_ALERTS = 50_000
STATISTICS = ("statistics",)

SITE = (str, Query("", max_length=128, pattern=r"^[A-Za-z0-9._:-]*$", description="Only this site"))

SPAN: dict[str, tuple[Any, Any]] = {
    "since": (datetime | None, Query(None, description="RFC 3339; omitted: a year before until")),
    "until": (datetime | None, Query(None, description="RFC 3339; omitted: now")),
    "time_zone": (
        str,
        Query(
            "",
            max_length=64,
            description="IANA zone the months are counted in (e.g. Asia/Almaty); UTC if empty",
        ),
    ),
}


def _bounds(since: datetime | None, until: datetime | None) -> tuple[Timestamp, Timestamp]:
    end = timestamp(until, "until") or timestamp(datetime.now(UTC), "until")
    assert end is not None
    start = timestamp(since, "since") or timestamp(end.ToDatetime(UTC) - DEFAULT_SPAN, "since")
    assert start is not None
    return start, end


def _badge_request(c: Call) -> bpb.GetBadgeStatisticsRequest:
    since, until = _bounds(c.since, c.until)
    return bpb.GetBadgeStatisticsRequest(since=since, until=until, time_zone=c.time_zone)


def _flight_request(c: Call) -> dpb.GetFlightStatisticsRequest:
    since, until = _bounds(c.since, c.until)
    return dpb.GetFlightStatisticsRequest(since=since, until=until, time_zone=c.time_zone)


def _outcome_request(c: Call) -> apb.GetOutcomeReportRequest:
    since, until = _bounds(c.since, c.until)
    return apb.GetOutcomeReportRequest(since=since, until=until, site_ids=[c.site_id] if c.site_id else [])


def _outcomes(c: Call, resp: apb.GetOutcomeReportResponse) -> dict[str, Any]:
    # Counts as numbers and no precision (null) where nothing was judged, not proto JSON's strings and 0.
    return {
        "rules": [
            {
                "type": r.type,
                "rule_id": r.rule_id,
                "resolved": r.resolved,
                "true_alarms": r.true_alarms,
                "false_alarms": r.false_alarms,
                "not_judged": r.not_judged,
                "precision": r.precision if r.has_precision else None,
                "by_outcome": dict(r.by_outcome),
            }
            for r in resp.rules
        ]
    }


def _citations_only(c: Call, resp: bpb.GetBadgeStatisticsResponse) -> dict[str, Any]:
    # The bribery figure has its own route and permission: the same answer, split by who may see it.
    return {"citations": to_json(resp)["citations"]}


def _integrity_only(c: Call, resp: bpb.GetBadgeStatisticsResponse) -> dict[str, Any]:
    return {"integrity_reports": to_json(resp)["integrity_reports"]}


def quantile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank quantile (a value that occurred), None for no values."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


@dataclass
class _Cell:
    alerts: int = 0
    events: int = 0
    false_alarms: int = 0


@dataclass
class _Times:
    alerts: int = 0
    ack: list[float] = field(default_factory=list)
    resolve: list[float] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        ack, resolve = sorted(self.ack), sorted(self.resolve)
        return {
            "alerts": self.alerts,
            "acknowledged": len(ack),
            "resolved": len(resolve),
            "ack_median_s": quantile(ack, 0.5),
            "ack_p90_s": quantile(ack, 0.9),
            "resolve_median_s": quantile(resolve, 0.5),
            "resolve_p90_s": quantile(resolve, 0.9),
        }


class AlertFigures:
    """Alerts counted by the month (in the period's zone) they were first seen."""

    def __init__(self, period: Period) -> None:
        self.period = period
        self.cells: dict[tuple[str, str, str], _Cell] = defaultdict(_Cell)
        self.times: dict[tuple[str, str], _Times] = defaultdict(_Times)

    def add(self, alert: apb.Alert) -> None:
        first = from_timestamp(alert.first_seen_at)
        if first is None or not self.period.since <= first < self.period.until:
            return
        month = first.astimezone(self.period.zone).strftime("%Y-%m")
        cell = self.cells[month, alert.site_id, alert.type]
        cell.alerts += 1
        cell.events += alert.count
        cell.false_alarms += alert.outcome == apb.ALERT_OUTCOME_FALSE_ALARM
        times = self.times[month, alert.site_id]
        times.alerts += 1
        if acked := from_timestamp(alert.acknowledged_at):
            times.ack.append((acked - first).total_seconds())
        # A source that closed its own alert (a camera back online) says nothing of the response.
        resolved = from_timestamp(alert.resolved_at)
        if resolved and alert.outcome != apb.ALERT_OUTCOME_AUTO_RESOLVED:
            times.resolve.append((resolved - first).total_seconds())

    def json(self) -> dict[str, Any]:
        return {
            "violations": [
                {"month": m, "site_id": s, "type": t, **vars(self.cells[m, s, t])}
                for m, s, t in sorted(self.cells)
            ],
            "response_times": [
                {"month": m, "site_id": s, **self.times[m, s].figures()} for m, s in sorted(self.times)
            ],
        }


router = APIRouter(prefix="/api/v1", responses=error_responses(400, 401, 403, 429, 503))


@router.get(
    "/statistics/alerts",
    summary="Violations found per month, site and type, and response times (median and p90)",
    description="From the agency's alerts first seen in the period (integrity alerts only for the roles "
    "alerting shows them to). Response times run from first seen to acknowledged and to resolved; "
    "alerts their source closed itself are left out of the resolve times.",
    responses={200: {"description": "violations, response_times, months, time_zone, scanned, truncated"}},
    tags=list(STATISTICS),
)
async def alert_statistics(
    request: Request,
    principal: Principal = Depends(require(Permission.STATISTICS_READ)),
    since: datetime | None = SPAN["since"][1],
    until: datetime | None = SPAN["until"][1],
    time_zone: str = SPAN["time_zone"][1],
    site_id: str = SITE[1],
) -> dict[str, Any]:
    gw = gateway_of(request)
    start, end = _bounds(since, until)
    period = period_of(start, end, time_zone)
    req = apb.ListAlertsRequest(
        filter=apb.AlertFilter(site_ids=[site_id] if site_id else []),
        since=start,
        until=end,
        order=apb.ALERT_ORDER_OLDEST_FIRST,
    )
    figures = AlertFigures(period)
    stub = gw.backends.stub("alerting")
    scanned, token = 0, ""
    while scanned < MAX_ALERTS:
        req.page.CopyFrom(common_pb2.PageRequest(page_size=ALERT_PAGE, page_token=token))
        resp = await gw.call(principal, stub.ListAlerts, req)
        for alert in resp.alerts:
            figures.add(alert)
        scanned += len(resp.alerts)
        token = resp.page.next_page_token
        if not token:
            break
    return {
        **figures.json(),
        "months": [m for m, _ in period.months()],
        "time_zone": str(period.zone),
        "since": period.since.isoformat(),
        "until": period.until.isoformat(),
        "scanned": scanned,
        "truncated": bool(token),
    }


ROUTES = [
    Route(
        "GET",
        "/statistics/alert-outcomes",
        Permission.STATISTICS_READ,
        rpc("alerting", "GetOutcomeReport"),
        _outcome_request,
        summary="Per rule: alerts resolved as true, as false alarm or not judged, and the rule's precision",
        params={"since": SPAN["since"], "until": SPAN["until"], "site_id": SITE},
        render=_outcomes,
        ok={
            200: {
                "description": "rules: RuleOutcomes of the alerts resolved in the period, most false alarms first"
            }
        },
        tags=STATISTICS,
        name="alert_outcome_statistics",
    ),
    Route(
        "GET",
        "/statistics/citations",
        Permission.STATISTICS_READ,
        rpc("badge", "GetBadgeStatistics"),
        _badge_request,
        summary="Citations per month, unit and offence: issued, paid, contested, upheld, voided",
        params=SPAN,
        render=_citations_only,
        ok={200: {"description": "citations: CitationFigures, sorted by month, unit and offence"}},
        tags=STATISTICS,
        name="citation_statistics",
    ),
    Route(
        "GET",
        "/statistics/integrity",
        Permission.INTEGRITY_READ,
        rpc("badge", "GetBadgeStatistics"),
        _badge_request,
        summary="Bribery attempts recorded (integrity reports) per month, agency-wide",
        params=SPAN,
        render=_integrity_only,
        ok={200: {"description": "integrity_reports: IntegrityFigures, by month"}},
        tags=STATISTICS,
        name="integrity_statistics",
    ),
    Route(
        "GET",
        "/statistics/flights",
        Permission.STATISTICS_READ,
        rpc("drone", "GetFlightStatistics"),
        _flight_request,
        summary="Drone flight hours and missions per month and drone",
        params=SPAN,
        tags=STATISTICS,
        name="flight_statistics",
    ),
]

mount(router, ROUTES)
