"""The operator console in headless Chromium (Debian's, driven by Playwright).

Needs scripts/setup/browser.sh. Screenshots land in test-artifacts/gateway/.
"""

from __future__ import annotations

import asyncio
import base64
import io
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from kuzet.common.testing import missing_component
from kuzet.common.v1 import common_pb2

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "gateway"


def _jpeg(text: str, colour: tuple[int, int, int]) -> bytes:
    """A small camera-like frame, so thumbnails show something recognisable."""
    img = Image.new("RGB", (320, 180), (40, 44, 52))
    draw = ImageDraw.Draw(img)
    draw.rectangle((120, 40, 170, 160), outline=colour, width=3)
    draw.ellipse((132, 44, 158, 70), outline=colour, width=3)
    draw.text((8, 8), text, fill=(230, 230, 230))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


def _need_chromium() -> None:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        missing_component("Chromium is not installed: run scripts/setup/browser.sh")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    _need_chromium()
    pw_api = pytest.importorskip("playwright.async_api", reason="run scripts/setup/browser.sh")
    async with pw_api.async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def console(stack: Any, serve_app: Any) -> AsyncIterator[tuple[Any, Any, str]]:
    gw, backing = stack
    async with serve_app(gw.app) as base:
        yield gw, backing, base


async def _publish_with_snapshot(
    gw: Any, backing: Any, type_: str, camera: str, severity: int, n: int
) -> str:
    jpeg = _jpeg(f"{camera}  {type_}", (239, 68, 68) if severity >= 4 else (234, 179, 8))
    info = await gw.gateway.objects.put(f"prison/snapshots/{camera}/{n}.jpg", jpeg, content_type="image/jpeg")
    ref = common_pb2.ObjectRef(
        key=info.key, sha256=info.sha256, size_bytes=info.size, content_type="image/jpeg"
    )
    return str(
        await backing.publish(
            "prison",
            type_,
            camera=camera,
            site="north-block",
            severity=severity,
            snapshot=ref,
            zone_id="yard-fence",
            summary=f"{type_.replace('_', ' ')} at {camera}",
        )
    )


async def _sign_in(page: Any, base: str, user: str) -> None:
    await page.goto(base + "/")
    await page.fill("#username", user)
    await page.fill("#password", "kuzet-demo")
    await page.click("#signin-button")
    await page.wait_for_selector("#whoami:not(:empty)")


async def test_operator_sees_alert_live_and_acknowledges_it(browser: Any, console: Any) -> None:
    gw, backing, base = console
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await _publish_with_snapshot(gw, backing, "loitering", "cam-yard-2", common_pb2.SEVERITY_MEDIUM, 1)
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    await page.goto(base + "/")
    await page.wait_for_selector("#signin-form")
    await page.screenshot(path=str(ARTIFACTS / "01-sign-in.png"))
    await _sign_in(page, base, "prison-operator")
    await page.wait_for_selector("#feed-status.live")

    alert_id = await _publish_with_snapshot(
        gw, backing, "person_down", "cam-block-c", common_pb2.SEVERITY_CRITICAL, 2
    )
    row = page.locator(f'li[data-alert-id="{alert_id}"]')
    await row.wait_for(timeout=5000)
    assert "person down" in (await row.inner_text()).lower()
    # The row shows before its snapshot has loaded: wait for the image itself, then check it.
    assert await row.locator("img.thumb").evaluate(
        """img => img.complete ? img.naturalWidth > 0 : new Promise(done => {
            img.onload = () => done(img.naturalWidth > 0);
            img.onerror = () => done(false);
        })"""
    )
    # Highest severity first.
    first = page.locator("#alert-list li").first
    assert await first.get_attribute("data-alert-id") == alert_id
    await page.screenshot(path=str(ARTIFACTS / "02-alert-live.png"))

    await row.locator("button.ack").click()
    await row.locator(".state-acknowledged").first.wait_for(timeout=5000)
    await page.locator(f'li[data-alert-id="{alert_id}"] .state.state-acknowledged').wait_for()
    assert (
        "Acknowledged by prison/prison-operator@local"
        in await page.locator(f'li[data-alert-id="{alert_id}"]').inner_text()
    )
    await page.screenshot(path=str(ARTIFACTS / "03-alert-acknowledged.png"))
    # The acknowledgement is in alerting, not just on screen.
    stored = (await gw.client.get(f"/api/v1/alerts/{alert_id}", headers=gw.auth("prison-operator"))).json()
    assert stored["alert"]["state"] == "ALERT_STATE_ACKNOWLEDGED"

    await row.locator("button.resolve").click()
    await row.locator("select.outcome").select_option("no_action_needed")
    await row.locator("input.note-input").fill("inmate was resting, checked by officer 12")
    await page.screenshot(path=str(ARTIFACTS / "03b-resolve-form.png"))
    await row.locator("button.resolve-confirm").click()
    await row.wait_for(state="detached")  # resolved alerts leave the open list
    stored = (await gw.client.get(f"/api/v1/alerts/{alert_id}", headers=gw.auth("prison-operator"))).json()
    assert stored["alert"]["outcome"] == "ALERT_OUTCOME_NO_ACTION_NEEDED"
    assert not errors, errors


async def test_auditor_sees_trails_and_verifies(browser: Any, console: Any) -> None:
    gw, backing, base = console
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    alert_id = await _publish_with_snapshot(
        gw, backing, "zone_intrusion", "cam-gate", common_pb2.SEVERITY_HIGH, 3
    )
    op = gw.auth("prison-operator")
    snap = (await gw.client.get(f"/api/v1/alerts/{alert_id}", headers=op)).json()["alert"]["snapshot_url"]
    await gw.client.get(snap)  # one evidence view for the trail
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await _sign_in(page, base, "prison-auditor")
    await page.wait_for_selector("#view-audit:not([hidden])")
    await page.locator("#audit-rows tr").first.wait_for()
    assert "evidence.view" in await page.locator("#audit-rows").inner_text()
    await page.click("#audit-verify")
    await page.locator("#audit-verify-results li.ok").first.wait_for()
    text = await page.locator("#audit-verify-results").inner_text()
    assert "gateway: intact" in text and "alerting: intact" in text
    assert "local files, no object lock" in text  # where each head is anchored, said plainly
    await page.screenshot(path=str(ARTIFACTS / "04-audit.png"))
    # Auditors get no alert list tab.
    assert await page.locator('#tabs button[data-view="alerts"]').count() == 0


@pytest.fixture
async def review_console(
    backing: Any, gateway_factory: Any, serve_app: Any, identity_starter: Any, tmp_path: Path
) -> AsyncIterator[tuple[Any, str, str]]:
    """Gateway + alerting + identity + a real inference service (onnxruntime, shipped models),
    with one candidate match opened by a real 1:N search made through the gateway."""
    from kuzet.common.testdata import face_photos
    from kuzet.common.testing import free_port_number
    from kuzet.inference.config import InferenceSettings
    from kuzet.inference.server import build as build_inference

    inference = await build_inference(
        InferenceSettings(port=free_port_number(), data_dir=tmp_path / "inference")
    )
    inference_address = await inference.start()
    identity = await identity_starter(tmp_path / "id-real", backing.alerting_address, inference_address)
    endpoints = backing.endpoints.model_copy(
        update={"identity": identity.address, "inference": inference_address}
    )
    gw = await gateway_factory(endpoints)
    try:
        photos = face_photos()
        enrolled, probe = [await asyncio.to_thread(p.read_bytes) for p in photos["obama"][:2]]
        admin = gw.auth("prison-admin")
        gallery = (
            await gw.client.post(
                "/api/v1/galleries",
                headers=admin,
                json={
                    "name": "escapees",
                    "kind": "watchlist",
                    "purpose": "find escaped inmates",
                    "legal_basis": "Penal Code art. 83",
                    "owner": "warden-12",
                    "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
                },
            )
        ).json()["gallery"]
        person = await gw.client.post(
            f"/api/v1/galleries/{gallery['gallery_id']}/people",
            headers=admin,
            json={
                "external_id": "A-1047",
                "display_name": "Inmate A-1047",
                "images": [base64.b64encode(enrolled).decode()],
            },
        )
        assert person.status_code == 200 and person.json()["results"][0]["accepted"], person.text
        found = await gw.client.post(
            "/api/v1/identify",
            headers=gw.auth("prison-investigator"),
            json={"image": base64.b64encode(probe).decode(), "mode": "alert", "purpose": "escape 2026/11"},
        )
        candidates = found.json()["candidates"]
        assert candidates and candidates[0]["match_id"], found.text
        async with serve_app(gw.app) as base:
            yield gw, base, candidates[0]["match_id"]
    finally:
        await identity.stop(0)
        await inference.stop(0)


async def _faces_loaded(card: Any) -> None:
    await card.wait_for()
    for img in ("Probe (camera)", "Enrolled"):
        ok = await card.get_by_alt_text(img).evaluate(
            "i => i.complete && i.naturalWidth > 0 || new Promise("
            "r => { i.onload = () => r(i.naturalWidth > 0); "
            "i.onerror = () => r(false); })"
        )
        assert ok, f"{img} image did not load"


async def _review(page: Any, match_id: str, decision: str, reason: str) -> Any:
    card = page.locator(f'li.review[data-match-id="{match_id}"]')
    await _faces_loaded(card)
    await card.locator("input.reason").fill(reason)
    await card.locator(f"button.{decision}").click()
    return card


async def test_two_reviewers_confirm_a_match(browser: Any, review_console: Any) -> None:
    gw, base, match_id = review_console
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await _sign_in(page, base, "prison-reviewer")
    await page.click('#tabs button[data-view="reviews"]')
    card = page.locator(f'li.review[data-match-id="{match_id}"]')
    await _faces_loaded(card)
    await page.screenshot(path=str(ARTIFACTS / "05-review-queue.png"))
    await _review(page, match_id, "confirm", "same scar above the left eye")
    await card.get_by_text("1 of 2 confirmations").wait_for()
    await card.get_by_text("You already reviewed this match.").wait_for()

    await page.click("#signout")
    await _sign_in(page, base, "prison-reviewer2")
    await page.click('#tabs button[data-view="reviews"]')
    await _faces_loaded(card)
    # The second reviewer sees that a first one confirmed, and why.
    assert "confirmed by prison/prison-reviewer@local" in (await card.inner_text()).lower()
    await page.screenshot(path=str(ARTIFACTS / "06-second-reviewer.png"))
    await _review(page, match_id, "confirm", "agree: same person")
    await card.wait_for(state="detached")  # confirmed: it leaves the pending queue

    done = (
        await gw.client.get(
            "/api/v1/reviews", params={"state": "confirmed"}, headers=gw.auth("prison-reviewer")
        )
    ).json()["matches"]
    match = next(m for m in done if m["match_id"] == match_id)
    assert match["state"] == "MATCH_STATE_CONFIRMED"
    assert [r["reviewer"] for r in match["reviews"]] == [
        "prison/prison-reviewer@local",
        "prison/prison-reviewer2@local",
    ]


async def test_cameras_and_site_map(
    browser: Any, fleet_backing: Any, gateway_factory: Any, serve_app: Any
) -> None:
    """Cameras registered in the real ingest service, shown with their health and on the site map
    with an open alert at its camera."""
    gw = await gateway_factory(fleet_backing.endpoints)
    admin = gw.auth("prison-admin")
    plan = [
        ("gate", 120, 480, 90),
        ("yard-east", 620, 300, 200),
        ("block-c", 860, 90, 270),
        ("kitchen", 300, 120, 0),
    ]
    for name, x, y, heading in plan:
        resp = await gw.client.post(
            "/api/v1/cameras",
            headers=admin,
            json={
                "id": f"cam-{name}",
                "name": name,
                "site_id": "north-block",
                "url": "rtsp://127.0.0.1:1/none",
                "enabled": False,
                "plan_position": {"plan_id": "ground", "x": x, "y": y, "heading_deg": heading},
            },
        )
        assert resp.status_code == 200, resp.text
    await _publish_with_snapshot(
        gw, fleet_backing, "zone_intrusion", "cam-yard-east", common_pb2.SEVERITY_HIGH, 4
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with serve_app(gw.app) as base:
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await _sign_in(page, base, "prison-operator")
        await page.click('#tabs button[data-view="cameras"]')
        await page.locator("#camera-rows tr").nth(3).wait_for()
        assert "stopped" in await page.locator("#camera-rows").inner_text()
        await page.screenshot(path=str(ARTIFACTS / "07-cameras.png"))
        await page.click('#tabs button[data-view="map"]')
        await page.locator("#site-map g.cam").nth(3).wait_for()
        dot = page.locator("#site-map g.alert-dot")
        await dot.wait_for()
        assert await dot.count() == 1
        await page.screenshot(path=str(ARTIFACTS / "08-site-map.png"))
