"""The console in three languages and two time choices, and the oversight agency's view, in
headless Chromium. Screenshots land in docs/console/."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import SCREENSHOTS
from .test_oversight_routes import OVERSIGHT_USERS, publish_with_snapshot

pytestmark = pytest.mark.browser

# The same instant formatted in the page by Intl, for comparison with what the console shows.
FORMAT_IN = """([ts, zone]) => new Intl.DateTimeFormat(document.documentElement.lang,
    { dateStyle: "short", timeStyle: "medium", timeZone: zone }).format(new Date(ts))"""


@pytest.fixture
def alerting_overrides() -> dict[str, Any]:
    return {"oversight_agencies": {"prison": ["ombudsman"]}}


@pytest.fixture
async def console(gateway_factory: Any, backing: Any, serve_app: Any) -> Any:
    gw = await gateway_factory(backing.endpoints, local_users=OVERSIGHT_USERS)
    async with serve_app(gw.app) as base:
        yield gw, backing, base


async def _choose(page: Any, picker: str, value: str) -> None:
    """A choice reloads the page; wait until it is drawn again."""
    async with page.expect_navigation():
        await page.select_option(picker, value)
    await page.wait_for_selector("#alert-list li")


async def test_language_and_time_zone_are_chosen_and_kept(browser: Any, console: Any, sign_in: Any) -> None:
    gw, backing, base = console
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    admin = gw.auth("prison-admin")
    put = await gw.client.put("/api/v1/sites/north-block", json={"time_zone": "Asia/Aqtobe"}, headers=admin)
    assert put.status_code == 200, put.text
    await publish_with_snapshot(gw, backing, "zone_intrusion", 1)  # at site north-block
    await backing.publish("prison", "loitering", camera="cam-x", site="unknown-site")
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    await sign_in(page, base, "prison-operator")
    await page.wait_for_selector("#alert-list li")
    assert await page.locator("#tabs button").first.inner_text() == "Alerts"
    assert await page.locator("#lang-picker").input_value() == "en"

    await _choose(page, "#lang-picker", "ru")
    assert await page.locator("#tabs button").first.inner_text() == "Тревоги"
    assert await page.locator("#view-alerts h1").inner_text() == "Тревоги"
    assert "Зона:" in await page.locator("#alert-list").inner_text()
    await page.reload()  # the choice is kept, the session too
    await page.wait_for_selector("#alert-list li")
    assert await page.locator("#signout").inner_text() == "Выйти"
    assert await page.locator("#lang-picker").input_value() == "ru"

    await _choose(page, "#lang-picker", "kk")
    assert await page.locator("#tabs button").first.inner_text() == "Дабылдар"
    await page.screenshot(path=str(SCREENSHOTS / "30-kazakh.png"))

    # The user's zone applies where the site's own zone is not known; a configured site keeps its own.
    await _choose(page, "#tz-picker", "UTC")
    await page.reload()
    await page.wait_for_selector("#alert-list li")
    assert await page.locator("#tz-picker").input_value() == "UTC"
    rows = page.locator("#alert-list li")
    for i in range(await rows.count()):
        row = rows.nth(i)
        ts = str(await row.locator("time").get_attribute("datetime"))
        shown = (await row.locator("time").inner_text()).split(" (")[0]
        zone = "Asia/Aqtobe" if "north-block" in await row.inner_text() else "UTC"
        assert shown == await page.evaluate(FORMAT_IN, [ts, zone]), (shown, zone)
    utc_shown = await page.evaluate(FORMAT_IN, [ts, "UTC"])
    assert utc_shown != await page.evaluate(FORMAT_IN, [ts, "Asia/Aqtobe"])

    await _choose(page, "#lang-picker", "en")
    assert await page.locator("#tabs button").first.inner_text() == "Alerts"
    assert not errors, errors


async def test_overseer_sees_oversight_alert_read_only_and_prison_does_not(
    browser: Any, console: Any, sign_in: Any
) -> None:
    gw, backing, base = console
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    alert_id, _ = await publish_with_snapshot(gw, backing, "staff_violence", 1)
    ordinary_id, _ = await publish_with_snapshot(gw, backing, "zone_intrusion", 2)
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    await sign_in(page, base, "ombudsman-oversight")
    await page.wait_for_selector("#view-oversight:not([hidden])")
    assert await page.locator("#tabs button").first.inner_text() == "Oversight"
    row = page.locator(f'#oversight-list li[data-alert-id="{alert_id}"]')
    await row.wait_for(timeout=5000)
    assert "staff violence" in (await row.inner_text()).lower()
    assert await row.locator("img.thumb").evaluate(
        """img => img.complete ? img.naturalWidth > 0 : new Promise(done => {
            img.onload = () => done(img.naturalWidth > 0);
            img.onerror = () => done(false);
        })"""
    )
    assert await page.locator("#oversight-list button.ack, #oversight-list button.resolve").count() == 0
    await row.locator("button.details").click()
    await page.wait_for_selector("#alert-detail[open] .guidance")
    assert "Violence with staff present" in await page.locator("#alert-detail .guidance").inner_text()
    assert await page.locator("#alert-detail button.ack, #alert-detail button.resolve").count() == 0
    assert "only read" in await page.locator("#alert-detail .actions").inner_text()
    await page.wait_for_function(
        "document.querySelector('#alert-detail img.snapshot')?.naturalWidth > 0", timeout=5000
    )
    await page.screenshot(path=str(SCREENSHOTS / "31-oversight.png"))
    await page.locator("#alert-detail button.close").click()

    # The prison's operator has no oversight view and never sees the alert.
    other = await browser.new_page(viewport={"width": 1280, "height": 800})
    await sign_in(other, base, "prison-operator")
    await other.wait_for_selector(f'#alert-list li[data-alert-id="{ordinary_id}"]')
    assert await other.locator('#tabs button[data-view="oversight"]').count() == 0
    assert await other.locator(f'li[data-alert-id="{alert_id}"]').count() == 0
    assert not errors, errors
