"""The console's evidence, citation and statistics pages in Chromium, against the real alerting,
badge and drone services (screenshots into docs/console/)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kuzet.badge.v1 import badge_pb2 as A

from .badge_records import BadgeRecords
from .conftest import SCREENSHOTS

VIEWPORT = {"width": 1280, "height": 1100}


async def _page(browser: Any, base: str, sign_in: Any, user: str) -> tuple[Any, list[str]]:
    page = await browser.new_page(viewport=VIEWPORT, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await sign_in(page, base, user)
    return page, errors


async def test_citation_moves_by_role_with_a_reason(
    browser: Any, fleet_backing: Any, gateway_factory: Any, serve_app: Any, sign_in: Any
) -> None:
    gw = await gateway_factory(fleet_backing.endpoints)
    records = BadgeRecords(fleet_backing.endpoints.badge)
    cited = await records.citation(plate="555KZA02")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with serve_app(gw.app) as base:
        page, errors = await _page(browser, base, sign_in, "prison-operator")
        await page.click('#tabs button[data-view="citations"]')
        row = page.locator(f'#citation-rows tr[data-citation="{cited.citation_id}"]')
        await row.click()
        # An operator records payments and contests; deciding is not offered.
        buttons = page.locator("#citation-detail button[data-action]")
        assert await buttons.evaluate_all("bs => bs.map(b => b.dataset.action)") == ["pay", "contest"]
        await page.click('#citation-detail button[data-action="contest"]')
        assert "needs a reason" in await page.locator("#citation-error").inner_text()
        await page.fill("#citation-reason", "I was not driving")
        await page.click('#citation-detail button[data-action="contest"]')
        await page.get_by_text("“I was not driving”").wait_for()
        await row.locator(".citation-contested").wait_for()
        assert "No further step is yours" in await page.locator("#citation-detail").inner_text()
        await page.screenshot(path=str(SCREENSHOTS / "20-citation-contested.png"), full_page=True)

        admin, admin_errors = await _page(browser, base, sign_in, "prison-admin")
        await admin.click('#tabs button[data-view="citations"]')
        await admin.select_option("#citation-status", "contested")
        await admin.locator(f'#citation-rows tr[data-citation="{cited.citation_id}"]').click()
        actions = admin.locator("#citation-detail button[data-action]")
        assert await actions.evaluate_all("bs => bs.map(b => b.dataset.action)") == ["uphold", "void"]
        await admin.fill("#citation-reason", "the plate was misread")
        await admin.click('#citation-detail button[data-action="void"]')
        await admin.get_by_text("“the plate was misread”").wait_for()
        await admin.screenshot(path=str(SCREENSHOTS / "21-citation-voided.png"), full_page=True)
        assert not errors and not admin_errors, errors + admin_errors
    final = await gw.client.get(f"/api/v1/citations/{cited.citation_id}", headers=gw.auth("prison-auditor"))
    assert final.json()["citation"]["status"] == "CITATION_STATUS_VOIDED"


async def test_evidence_custody_and_verified_export(
    browser: Any, fleet_backing: Any, gateway_factory: Any, serve_app: Any, sign_in: Any
) -> None:
    gw = await gateway_factory(fleet_backing.endpoints)
    records = BadgeRecords(fleet_backing.endpoints.badge)
    await records.badges("V-1")
    first = await records.recording("V-1", incident_id="inc-42")
    second = await records.recording("V-1", incident_id="inc-42")
    other = await records.recording("V-1", incident_id="inc-other")
    async with serve_app(gw.app) as base:
        page, errors = await _page(browser, base, sign_in, "prison-investigator")
        await page.click('#tabs button[data-view="evidence"]')
        # The tab first lists every item: wait for it, so that the filtered list below is not
        # mistaken for it (both have the first item).
        await page.locator(f'#evidence-rows tr[data-evidence="{other.evidence_id}"]').wait_for()
        await page.fill("#evidence-incident", "inc-42")
        await page.click('#evidence-filter button[type="submit"]')
        await page.locator(f'#evidence-rows tr[data-evidence="{other.evidence_id}"]').wait_for(
            state="detached"
        )
        await page.locator(f'#evidence-rows tr[data-evidence="{first.evidence_id}"]').wait_for()
        assert await page.locator("#evidence-rows tr").count() == 2
        await page.locator(f'#evidence-rows tr[data-evidence="{first.evidence_id}"] td:nth-child(2)').click()
        await page.locator("#custody-chain.ok").wait_for()
        assert "stored" in await page.locator("#custody-rows").inner_text()
        for item in (first, second):
            await page.check(f'.evidence-pick[value="{item.evidence_id}"]')
        await page.fill("#export-recipient", "Almaty city court")
        await page.fill("#export-reason", "case 17/2026")
        await page.click("#export-button")
        await page.locator("#export-verdict.ok").wait_for()
        assert await page.locator("#export-items li.ok").count() == 2
        # The open chain of custody now ends with the export and its verification.
        await page.locator("#custody-rows").get_by_text("verified").wait_for()
        assert "exported" in await page.locator("#custody-rows").inner_text()
        async with page.expect_download() as wait:
            await page.click("#export-manifest")
        manifest = (await (await wait.value).path()).read_text()
        assert first.evidence_id in manifest and second.evidence_id in manifest
        await page.screenshot(path=str(SCREENSHOTS / "22-evidence-export.png"), full_page=True)
        # An operator has no evidence tab at all.
        op, op_errors = await _page(browser, base, sign_in, "prison-operator")
        assert await op.locator('#tabs button[data-view="evidence"]').count() == 0
        assert not errors and not op_errors, errors + op_errors


async def test_statistics_charts_and_csv(
    browser: Any, fleet_backing: Any, gateway_factory: Any, serve_app: Any, sign_in: Any
) -> None:
    gw = await gateway_factory(fleet_backing.endpoints)
    admin_headers = gw.auth("prison-admin")
    site = await gw.client.put(
        "/api/v1/sites/north",
        json={"display_name": "North block", "time_zone": "Asia/Almaty"},
        headers=admin_headers,
    )
    assert site.status_code == 200, site.text
    alerts = [
        await fleet_backing.publish("prison", kind, site="north")
        for kind in ("zone_intrusion", "zone_intrusion", "person_down")
    ]
    op_headers = gw.auth("prison-operator")
    await gw.client.post(f"/api/v1/alerts/{alerts[-1]}/acknowledge", json={}, headers=op_headers)
    for alert, outcome in zip(alerts[:2], ("action_taken", "false_alarm"), strict=True):
        done = await gw.client.post(
            f"/api/v1/alerts/{alert}/resolve", json={"outcome": outcome}, headers=op_headers
        )
        assert done.status_code == 200, done.text
    records = BadgeRecords(fleet_backing.endpoints.badge)
    await records.badges("T-1", unit="traffic")
    cited = await records.citation(badge_id="T-1")
    await records.move(cited.citation_id, A.CITATION_STATUS_PAID, "receipt 1")
    await records.integrity_report("T-1", datetime.now(UTC) - timedelta(hours=2))
    async with serve_app(gw.app) as base:
        page, errors = await _page(browser, base, sign_in, "prison-admin")
        await page.click('#tabs button[data-view="statistics"]')
        await page.locator("#stats-violations table").wait_for()
        await page.select_option("#stats-site", "north")
        await page.get_by_text("Months in Asia/Almaty (the time zone of site North block)").wait_for()
        for chart in ("violations", "response", "citations", "flights"):
            await page.locator(f"#stats-{chart}-chart .uplot canvas").wait_for()
        assert await page.locator("#stats-violations-chart").get_attribute("data-series") == "2"
        # An admin is not internal affairs: no bribery figure.
        assert await page.locator("#stats-integrity").is_hidden()
        async with page.expect_download() as wait:
            await page.click("#stats-violations button[data-csv]")
        rows = (await (await wait.value).path()).read_text().splitlines()
        assert rows[0] == "Month,Site,Type,Alerts,Events,False alarms"
        assert sorted(r.split(",")[1:4] for r in rows[1:]) == [
            ["north", "person_down", "1"],
            ["north", "zone_intrusion", "2"],
        ]
        async with page.expect_download() as wait:
            await page.click("#stats-citations button[data-csv]")
        citations = (await (await wait.value).path()).read_text().splitlines()
        assert citations[1].split(",")[1:] == ["traffic", "TR-201", "1", "1", "0", "0", "0"]
        # How often each rule was right: the intrusion rule's two resolved alerts, one a false alarm.
        outcomes = page.locator("#stats-outcomes table tbody tr")
        await outcomes.first.wait_for()
        assert await outcomes.count() == 1
        assert (await outcomes.first.inner_text()).split("\t") == [
            "zone_intrusion",
            "rule-1",
            "2",
            "1",
            "1",
            "0",
            "50 %",
        ]
        async with page.expect_download() as wait:
            await page.click("#stats-outcomes button[data-csv]")
        report = (await (await wait.value).path()).read_text().splitlines()
        assert report[0] == "Type,Rule,Resolved,True,False alarms,Not judged,Precision"
        await page.screenshot(path=str(SCREENSHOTS / "23-statistics.png"), full_page=True)

        ia, ia_errors = await _page(browser, base, sign_in, "prison-internal_affairs")
        await ia.click('#tabs button[data-view="statistics"]')
        await ia.locator("#stats-integrity table").wait_for()
        await ia.locator("#stats-integrity-chart .uplot canvas").wait_for()
        assert await ia.locator("#stats-violations").is_hidden()
        await ia.screenshot(path=str(SCREENSHOTS / "24-statistics-integrity.png"), full_page=True)
        assert not errors and not ia_errors, errors + ia_errors
