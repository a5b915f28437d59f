"""The statistics routes against the real alerting, badge and drone services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kuzet.badge.v1 import badge_pb2 as A
from kuzet.gateway.api.statistics import quantile

from .badge_records import BadgeRecords


def test_quantile_is_nearest_rank() -> None:
    assert quantile([], 0.5) is None
    assert quantile([4.0], 0.9) == 4.0
    values = [float(v) for v in range(1, 11)]
    assert quantile(values, 0.5) == 5.0 and quantile(values, 0.9) == 9.0


async def test_alert_figures_per_site_type_month_and_response_times(
    gateway_factory: Callable[..., Any], fleet_backing: Any
) -> None:
    gw = await gateway_factory(fleet_backing.endpoints)
    op, admin = gw.auth("prison-operator"), gw.auth("prison-admin")
    north = [await fleet_backing.publish("prison", "zone_intrusion", site="north") for _ in range(3)]
    await fleet_backing.publish("prison", "person_down", site="north")
    await fleet_backing.publish("prison", "zone_intrusion", site="south")
    await fleet_backing.publish("police", "zone_intrusion", site="north")  # another agency's
    for alert in north[:2]:
        assert (
            await gw.client.post(f"/api/v1/alerts/{alert}/acknowledge", json={}, headers=op)
        ).status_code == 200
    done = await gw.client.post(
        f"/api/v1/alerts/{north[0]}/resolve", json={"outcome": "false_alarm"}, headers=op
    )
    assert done.status_code == 200, done.text

    resp = await gw.client.get(
        "/api/v1/statistics/alerts", params={"time_zone": "Asia/Almaty"}, headers=admin
    )
    assert resp.status_code == 200, resp.text
    out = resp.json()
    month = datetime.now(ZoneInfo("Asia/Almaty")).strftime("%Y-%m")
    assert out["time_zone"] == "Asia/Almaty" and out["months"][-1] == month and len(out["months"]) in (12, 13)
    cells = {(v["site_id"], v["type"]): v for v in out["violations"]}
    assert set(cells) == {("north", "zone_intrusion"), ("north", "person_down"), ("south", "zone_intrusion")}
    assert cells["north", "zone_intrusion"] == {
        "month": month,
        "site_id": "north",
        "type": "zone_intrusion",
        "alerts": 3,
        "events": 3,
        "false_alarms": 1,
    }
    times = {t["site_id"]: t for t in out["response_times"]}
    assert (
        times["north"]["alerts"] == 4
        and times["north"]["acknowledged"] == 2
        and times["north"]["resolved"] == 1
    )
    assert 0 <= times["north"]["ack_median_s"] <= times["north"]["ack_p90_s"] < 60
    assert times["south"]["ack_median_s"] is None

    south = (
        await gw.client.get("/api/v1/statistics/alerts", params={"site_id": "south"}, headers=admin)
    ).json()
    assert [(v["site_id"], v["alerts"]) for v in south["violations"]] == [("south", 1)]
    assert south["time_zone"] == "UTC"
    for params in ({"time_zone": "Mars/Olympus"}, {"since": "2020-01-01T00:00:00Z"}, {"site_id": "../x"}):
        bad = await gw.client.get("/api/v1/statistics/alerts", params=params, headers=admin)
        assert bad.status_code == 400, (params, bad.text)
    assert (
        await gw.client.get("/api/v1/statistics/alerts", headers=gw.auth("prison-reviewer"))
    ).status_code == 403


async def test_alert_outcomes_give_each_rule_its_precision(
    gateway_factory: Callable[..., Any], fleet_backing: Any
) -> None:
    gw = await gateway_factory(fleet_backing.endpoints)
    op, admin = gw.auth("prison-operator"), gw.auth("prison-admin")
    falls = [await fleet_backing.publish("prison", "person_down", site="north") for _ in range(4)]
    climb = await fleet_backing.publish("prison", "climbing", site="south")
    await fleet_backing.publish("prison", "violence", site="north")  # open: not in the report
    closed = zip(
        [*falls, climb],
        ["action_taken", "action_taken", "false_alarm", "duplicate", "false_alarm"],
        strict=True,
    )
    for alert, outcome in closed:
        done = await gw.client.post(f"/api/v1/alerts/{alert}/resolve", json={"outcome": outcome}, headers=op)
        assert done.status_code == 200, done.text

    resp = await gw.client.get("/api/v1/statistics/alert-outcomes", headers=admin)
    assert resp.status_code == 200, resp.text
    rules = {r["type"]: r for r in resp.json()["rules"]}
    assert set(rules) == {"person_down", "climbing"}
    fall = rules["person_down"]
    assert (fall["resolved"], fall["true_alarms"], fall["false_alarms"], fall["not_judged"]) == (4, 2, 1, 1)
    assert abs(fall["precision"] - 2 / 3) < 1e-9
    assert fall["by_outcome"] == {
        "ALERT_OUTCOME_ACTION_TAKEN": 2,
        "ALERT_OUTCOME_FALSE_ALARM": 1,
        "ALERT_OUTCOME_DUPLICATE": 1,
    }
    assert rules["climbing"]["precision"] == 0

    north = await gw.client.get(
        "/api/v1/statistics/alert-outcomes", params={"site_id": "north"}, headers=admin
    )
    assert [r["type"] for r in north.json()["rules"]] == ["person_down"]
    late = {"since": "2030-01-01T00:00:00Z", "until": "2029-01-01T00:00:00Z"}
    for params in (late, {"until": "yesterday"}, {"site_id": "../x"}):
        bad = await gw.client.get("/api/v1/statistics/alert-outcomes", params=params, headers=admin)
        assert bad.status_code == 400, (params, bad.text)


async def test_citation_integrity_and_flight_figures(
    gateway_factory: Callable[..., Any], fleet_backing: Any
) -> None:
    gw = await gateway_factory(fleet_backing.endpoints)
    records = BadgeRecords(fleet_backing.endpoints.badge)
    await records.badges("S-1", unit="traffic-unit")
    cited = await records.citation(badge_id="S-1")
    await records.citation(badge_id="S-1")
    await records.move(cited.citation_id, A.CITATION_STATUS_PAID, "receipt 9")
    await records.integrity_report("S-1", datetime.now(UTC) - timedelta(hours=1))
    zone = {"time_zone": "Asia/Almaty"}
    month = datetime.now(ZoneInfo("Asia/Almaty")).strftime("%Y-%m")

    auditor = gw.auth("prison-auditor")
    figures = (await gw.client.get("/api/v1/statistics/citations", params=zone, headers=auditor)).json()
    assert figures == {
        "citations": [
            {
                "month": month,
                "unit_id": "traffic-unit",
                "offence_code": "TR-201",
                "issued": 2,
                "paid": 1,
                "contested": 0,
                "upheld": 0,
                "voided": 0,
            }
        ]
    }
    # The bribery figure: internal affairs only, and never inside the citation figures.
    assert (await gw.client.get("/api/v1/statistics/integrity", headers=auditor)).status_code == 403
    ia = await gw.client.get(
        "/api/v1/statistics/integrity", params=zone, headers=gw.auth("prison-internal_affairs")
    )
    assert ia.json() == {"integrity_reports": [{"month": month, "reports": 1}]}

    flights = await gw.client.get("/api/v1/statistics/flights", params=zone, headers=auditor)
    assert flights.status_code == 200 and flights.json() == {"figures": []}
    too_long = await gw.client.get(
        "/api/v1/statistics/flights", params={"since": "2001-01-01T00:00:00Z"}, headers=auditor
    )
    assert too_long.status_code == 400 and "1830" in too_long.json()["error"]["message"]
