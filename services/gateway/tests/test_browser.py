"""The operator console in headless Chromium (Debian's, driven by Playwright).

Needs scripts/setup/browser.sh. Screenshots land in docs/console/.
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from kuzet.common.v1 import common_pb2

from .conftest import SCREENSHOTS

pytestmark = pytest.mark.browser


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


@pytest.fixture
async def console(stack: Any, serve_app: Any) -> AsyncIterator[tuple[Any, Any, str]]:
    gw, backing = stack
    async with serve_app(gw.app) as base:
        yield gw, backing, base


async def _publish_with_snapshot(
    gw: Any, backing: Any, type_: str, camera: str, severity: int, n: int, **fields: Any
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
            **fields,
        )
    )


async def test_operator_sees_alert_live_and_acknowledges_it(browser: Any, console: Any, sign_in: Any) -> None:
    gw, backing, base = console
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await _publish_with_snapshot(gw, backing, "loitering", "cam-yard-2", common_pb2.SEVERITY_MEDIUM, 1)
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    await page.goto(base + "/")
    await page.wait_for_selector("#signin-form")
    await page.screenshot(path=str(SCREENSHOTS / "01-sign-in.png"))
    await sign_in(page, base, "prison-operator")
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
    await page.screenshot(path=str(SCREENSHOTS / "02-alert-live.png"))

    await row.locator("button.ack").click()
    await row.locator(".state-acknowledged").first.wait_for(timeout=5000)
    await page.locator(f'li[data-alert-id="{alert_id}"] .state.state-acknowledged').wait_for()
    assert (
        "Acknowledged by prison/prison-operator@local"
        in await page.locator(f'li[data-alert-id="{alert_id}"]').inner_text()
    )
    await page.screenshot(path=str(SCREENSHOTS / "03-alert-acknowledged.png"))
    # The acknowledgement is in alerting, not just on screen.
    stored = (await gw.client.get(f"/api/v1/alerts/{alert_id}", headers=gw.auth("prison-operator"))).json()
    assert stored["alert"]["state"] == "ALERT_STATE_ACKNOWLEDGED"

    await row.locator("button.resolve").click()
    await row.locator("select.outcome").select_option("no_action_needed")
    await row.locator("input.note-input").fill("inmate was resting, checked by officer 12")
    await page.screenshot(path=str(SCREENSHOTS / "03b-resolve-form.png"))
    await row.locator("button.resolve-confirm").click()
    await row.wait_for(state="detached")  # resolved alerts leave the open list
    stored = (await gw.client.get(f"/api/v1/alerts/{alert_id}", headers=gw.auth("prison-operator"))).json()
    assert stored["alert"]["outcome"] == "ALERT_OUTCOME_NO_ACTION_NEEDED"
    assert not errors, errors


async def test_auditor_sees_trails_and_verifies(browser: Any, console: Any, sign_in: Any) -> None:
    gw, backing, base = console
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    alert_id = await _publish_with_snapshot(
        gw, backing, "zone_intrusion", "cam-gate", common_pb2.SEVERITY_HIGH, 3
    )
    op = gw.auth("prison-operator")
    snap = (await gw.client.get(f"/api/v1/alerts/{alert_id}", headers=op)).json()["alert"]["snapshot_url"]
    await gw.client.get(snap)  # one evidence view for the trail
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await sign_in(page, base, "prison-auditor")
    await page.wait_for_selector("#view-audit:not([hidden])")
    await page.locator("#audit-rows tr").first.wait_for()
    assert "evidence.view" in await page.locator("#audit-rows").inner_text()
    await page.click("#audit-verify")
    await page.locator("#audit-verify-results li.ok").first.wait_for()
    text = await page.locator("#audit-verify-results").inner_text()
    assert "gateway: intact" in text and "alerting: intact" in text
    assert "local files, no object lock" in text  # where each head is anchored, said plainly
    await page.screenshot(path=str(SCREENSHOTS / "04-audit.png"))
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


async def test_two_reviewers_confirm_a_match(browser: Any, review_console: Any, sign_in: Any) -> None:
    gw, base, match_id = review_console
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await sign_in(page, base, "prison-reviewer")
    await page.click('#tabs button[data-view="reviews"]')
    card = page.locator(f'li.review[data-match-id="{match_id}"]')
    await _faces_loaded(card)
    await page.screenshot(path=str(SCREENSHOTS / "05-review-queue.png"))
    await _review(page, match_id, "confirm", "same scar above the left eye")
    await card.get_by_text("1 of 2 confirmations").wait_for()
    await card.get_by_text("You already reviewed this match.").wait_for()

    await page.click("#signout")
    await sign_in(page, base, "prison-reviewer2")
    await page.click('#tabs button[data-view="reviews"]')
    await _faces_loaded(card)
    # The second reviewer sees that a first one confirmed, and why.
    assert "confirmed by prison/prison-reviewer@local" in (await card.inner_text()).lower()
    await page.screenshot(path=str(SCREENSHOTS / "06-second-reviewer.png"))
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
    browser: Any, fleet_backing: Any, gateway_factory: Any, serve_app: Any, sign_in: Any
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
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with serve_app(gw.app) as base:
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await sign_in(page, base, "prison-operator")
        await page.click('#tabs button[data-view="cameras"]')
        await page.locator("#camera-rows tr").nth(3).wait_for()
        assert "stopped" in await page.locator("#camera-rows").inner_text()
        await page.screenshot(path=str(SCREENSHOTS / "07-cameras.png"))
        await page.click('#tabs button[data-view="map"]')
        await page.locator("#site-map g.cam").nth(3).wait_for()
        dot = page.locator("#site-map g.alert-dot")
        await dot.wait_for()
        assert await dot.count() == 1
        await page.screenshot(path=str(SCREENSHOTS / "08-site-map.png"))


# --- what a first use showed (issue #20 item 8) ---------------------------------------------------


async def _images_loaded(page: Any, selector: str) -> list[bool]:
    """Scrolls each image into view (they load lazily) and says which ones loaded."""
    result: list[bool] = await page.evaluate(
        """async (sel) => {
            const out = [];
            for (const img of document.querySelectorAll(sel)) {
                img.scrollIntoView();
                out.push(await new Promise((done) => {
                    if (img.complete && img.naturalWidth > 0) return done(true);
                    img.addEventListener("load", () => done(img.naturalWidth > 0), { once: true });
                    img.addEventListener("error", () => done(false), { once: true });
                }));
            }
            return out;
        }""",
        selector,
    )
    return result


async def test_a_page_of_alerts_loads_every_thumbnail_within_the_rate_limits(
    browser: Any, backing: Any, gateway_factory: Any, serve_app: Any, sign_in: Any
) -> None:
    # The shipped limits, not the test default: this is what an operator meets.
    gw = await gateway_factory(backing.endpoints, rate_limit_per_second=20.0, rate_limit_burst=60.0)
    for n in range(100):
        await _publish_with_snapshot(gw, backing, "loitering", f"cam-{n:03d}", common_pb2.SEVERITY_MEDIUM, n)
    async with serve_app(gw.app) as base:
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        refused: list[str] = []
        page.on("response", lambda r: refused.append(r.url) if r.status == 429 else None)
        await sign_in(page, base, "prison-operator")
        await page.locator("#alert-list li").nth(99).wait_for()
        loaded = await _images_loaded(page, "#alert-list img.thumb")
        assert len(loaded) == 100 and all(loaded), loaded.count(False)
        assert not refused, f"{len(refused)} requests refused with 429"
        # The limit still protects the API: a burst of calls past it is refused. They go at once:
        # sent one after another on a loaded machine, 70 calls took longer than the 0.5 s the
        # bucket needs to refill past them, and none was refused.
        auditor = gw.auth("prison-auditor")
        started = time.monotonic()
        replies = await asyncio.gather(*(gw.client.get("/api/v1/me", headers=auditor) for _ in range(150)))
        elapsed = time.monotonic() - started
        codes = [reply.status_code for reply in replies]
        assert set(codes) <= {200, 429}, codes
        assert codes.count(200) <= 60 + 20 * elapsed + 1, (codes.count(200), elapsed)
        assert 429 in codes, elapsed


async def _until_refused(page: Any, src: str) -> None:
    """Waits until an evidence link has expired. Not wait_for_function with an async predicate: it
    takes the pending promise for a true answer and returns at once. The probe is not cached,
    or the image would later load from the cache instead of with its expired link."""
    async with asyncio.timeout(15):
        await page.evaluate(
            """async (s) => {
                while ((await fetch(s, { cache: "no-store" })).status !== 403)
                    await new Promise((done) => setTimeout(done, 200));
            }""",
            src,
        )


async def test_a_resolved_row_keeps_its_picture(
    browser: Any, backing: Any, gateway_factory: Any, serve_app: Any, sign_in: Any
) -> None:
    """A resolved alert gets no more feed updates, so no fresh link: a thumbnail first shown after
    its link expired (scrolled into view later) was refused and left a black box in the row."""
    gw = await gateway_factory(backing.endpoints, evidence_url_ttl_seconds=2)
    op = gw.auth("prison-operator")
    old = await _publish_with_snapshot(gw, backing, "camera_moved", "cam-old", common_pb2.SEVERITY_LOW, 0)
    resp = await gw.client.post(
        f"/api/v1/alerts/{old}/resolve", headers=op, json={"outcome": "no_action_needed", "note": "seen"}
    )
    assert resp.status_code == 200, resp.text
    for n in range(1, 60):  # enough rows above it that its image is not loaded at first
        await _publish_with_snapshot(
            gw, backing, "zone_intrusion", f"cam-{n:02d}", common_pb2.SEVERITY_HIGH, n
        )
    async with serve_app(gw.app) as base:
        page = await browser.new_page(viewport={"width": 1280, "height": 600})
        await sign_in(page, base, "prison-operator")
        await page.select_option("#alert-state", "")
        row = page.locator(f'li[data-alert-id="{old}"]')
        await row.wait_for(state="attached")
        img = row.locator("img.thumb")
        assert await img.evaluate("i => i.naturalWidth") == 0  # below the fold: not loaded yet
        # Wait until its link is refused, as it would be minutes later in a real shift.
        await _until_refused(page, await img.get_attribute("src"))
        await img.scroll_into_view_if_needed()
        await page.wait_for_function(
            "i => i.classList.contains('broken') || (i.complete && i.naturalWidth > 0)",
            arg=await img.element_handle(),
        )
        assert await row.locator("img.thumb.broken").count() == 0
        # A re-render (another alert comes in) keeps the loaded picture instead of asking again
        # with the expired link.
        await img.evaluate("i => { i.dataset.kept = 'yes'; }")
        new = await _publish_with_snapshot(
            gw, backing, "person_down", "cam-new", common_pb2.SEVERITY_CRITICAL, 99
        )
        await page.locator(f'li[data-alert-id="{new}"]').wait_for()
        assert await row.locator("img.thumb").get_attribute("data-kept") == "yes"
        await page.screenshot(path=str(SCREENSHOTS / "09-resolved-row.png"))


async def test_a_screenful_of_expired_thumbnails_is_renewed_within_the_rate_limits(
    browser: Any, backing: Any, gateway_factory: Any, serve_app: Any, sign_in: Any
) -> None:
    """The list sat open past the links' lifetime, then many rows come into view at once (a
    larger window): each image is refused and needs a fresh link from the API, which is the
    operator's own budget. One call per image spent it: 182 calls, 90 refused with HTTP 429 and
    as many broken pictures, before they were renewed together."""
    gw = await gateway_factory(
        backing.endpoints, rate_limit_per_second=20.0, rate_limit_burst=60.0, evidence_url_ttl_seconds=8
    )
    for n in range(200):  # a full page of the alert view
        await _publish_with_snapshot(gw, backing, "loitering", f"cam-{n:03d}", common_pb2.SEVERITY_MEDIUM, n)
    async with serve_app(gw.app) as base:
        page = await browser.new_page(viewport={"width": 1280, "height": 600})
        refused: list[str] = []
        page.on("response", lambda r: refused.append(r.url) if r.status == 429 else None)
        await sign_in(page, base, "prison-operator")
        await page.locator("#alert-list li").nth(199).wait_for()
        last = page.locator("#alert-list img.thumb").nth(199)
        assert await last.evaluate("i => i.naturalWidth") == 0  # below the fold: not loaded yet
        await _until_refused(page, await last.get_attribute("src"))
        renewals: list[str] = []
        page.on("request", lambda r: renewals.append(r.url) if "/api/v1/alerts" in r.url else None)
        await page.set_viewport_size({"width": 1280, "height": 24000})  # every row in view
        await page.wait_for_function(
            """() => [...document.querySelectorAll('#alert-list img.thumb')].every(
                i => i.classList.contains('broken') || (i.complete && i.naturalWidth > 0))""",
            timeout=30000,
        )
        assert await page.locator("#alert-list img.thumb.broken").count() == 0
        assert not refused, f"{len(refused)} requests refused with 429"
        assert 1 <= len(renewals) <= 5, renewals  # renewed together, not one call per image
        await page.set_viewport_size({"width": 1280, "height": 800})
        await page.screenshot(path=str(SCREENSHOTS / "09b-renewed-thumbnails.png"))


async def test_alert_detail_shows_where_what_to_do_history_and_actions(
    browser: Any, console: Any, sign_in: Any
) -> None:
    gw, backing, base = console
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    cam = await _publish_with_snapshot(gw, backing, "zone_intrusion", "cam-gate", common_pb2.SEVERITY_HIGH, 5)
    # A panic: a badge of unit 7 at a known position, no picture.
    from kuzet.alerting.v1 import alerting_pb2
    from kuzet.common.caller import Caller, caller_metadata
    from kuzet.common.events import new_event

    event = new_event(
        "prison",
        "badge_panic",
        common_pb2.Source(
            kind=common_pb2.SOURCE_KIND_BADGE, id="badge-0042", site_id="unit-7", name="badge-0042"
        ),
        rule_id="badge_panic",
        attributes={"officer_id": "officer-12"},
        location=common_pb2.GeoPoint(latitude=52.370216, longitude=4.895168, accuracy_m=5.0),
        summary="badge badge-0042: panic button pressed",
    )
    caller = Caller("service:badge", "prison", frozenset({"service"}))
    panic = (
        await backing.alerting.Publish(
            alerting_pb2.PublishRequest(event=event), metadata=caller_metadata(caller, audience="alerting")
        )
    ).alert_id

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await sign_in(page, base, "prison-operator")
    card = page.locator(f'li[data-alert-id="{panic}"]')
    await card.wait_for()
    text = await card.inner_text()
    assert "Position: 52.37022, 4.89517 (±5 m)" in text
    assert "Unit: unit-7" in text and "Officer: officer-12" in text and "Badge: badge-0042" in text
    await page.screenshot(path=str(SCREENSHOTS / "10-panic-card.png"))

    await page.locator(f'li[data-alert-id="{cam}"] .summary').click()  # the row itself opens it
    dialog = page.locator("#alert-detail")
    await dialog.locator(".history li").first.wait_for()
    assert await dialog.locator("img.snapshot").evaluate(
        "i => i.complete && i.naturalWidth > 0 || new Promise(r => { i.onload = () => r(i.naturalWidth > 0);"
        " i.onerror = () => r(false); })"
    )
    body = await dialog.inner_text()
    assert "Camera: cam-gate" in body and "Zone: yard-fence" in body and "Site: north-block" in body
    assert "send staff" in body  # what to do
    assert "created" in await dialog.locator(".history").inner_text()
    await page.screenshot(path=str(SCREENSHOTS / "11-alert-detail.png"))
    await dialog.locator("button.ack").click()
    await dialog.locator(".history li.update-acknowledged").wait_for()
    assert "prison/prison-operator@local" in await dialog.locator(".history").inner_text()
    await dialog.locator("button.resolve").click()
    await dialog.locator("input.note-input").fill("a maintenance worker, cleared")
    await dialog.locator("button.resolve-confirm").click()
    await dialog.locator(".history li.update-resolved").wait_for()
    await dialog.locator("button.close").click()
    await dialog.wait_for(state="hidden")

    # A role that may read but not act sees no action in the detail.
    await page.click("#signout")
    await sign_in(page, base, "prison-investigator")
    await page.locator(f'li[data-alert-id="{panic}"] button.details').click()
    await dialog.locator(".history li").first.wait_for()
    assert "Send the nearest unit" in await dialog.inner_text()
    assert await dialog.locator("button.ack, button.resolve").count() == 0


def _pose(x: float, y: float, unseen: frozenset[int] = frozenset()) -> list[list[float]]:
    """A standing person's 17 COCO keypoints around (x, y) in the 320x180 snapshot; the
    ``unseen`` ones scored below what the console draws."""
    offsets = [
        *[(0, -60), (-4, -64), (4, -64), (-8, -62), (8, -62)],  # nose, eyes, ears
        *[(-14, -44), (14, -44), (-18, -24), (18, -24), (-20, -6), (20, -6)],  # shoulders, elbows, wrists
        *[(-8, -4), (8, -4), (-9, 22), (9, 22), (-10, 48), (10, 48)],  # hips, knees, ankles
    ]
    return [[x + dx, y + dy, 0.1 if i in unseen else 0.9] for i, (dx, dy) in enumerate(offsets)]


async def test_behaviour_alert_detail_draws_the_skeletons_on_the_snapshot(
    browser: Any, console: Any, sign_in: Any
) -> None:
    gw, backing, base = console
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    now = time.time()
    frames = [round(now - 3 + 0.4 * i, 3) for i in range(8)]
    # Track 7's wrists and ankles scored 0.1: four points and the four limbs ending in them go.
    keypoints = {"3": _pose(100, 100), "7": _pose(220, 100, frozenset({9, 10, 15, 16}))}
    fight = await _publish_with_snapshot(
        gw,
        backing,
        "violence",
        "cam-block-d",
        common_pb2.SEVERITY_CRITICAL,
        6,
        attributes={
            "behaviour": "violence",
            "held_s": 2.5,
            "started_at": frames[0],
            "frames": frames,
            "keypoints": keypoints,
        },
        track_ids=[3, 7],
        boxes=[
            common_pb2.Box(x1=78, y1=36, x2=122, y2=150),
            common_pb2.Box(x1=198, y1=36, x2=242, y2=150),
        ],
    )
    plain = await _publish_with_snapshot(
        gw, backing, "zone_intrusion", "cam-gate", common_pb2.SEVERITY_HIGH, 7
    )
    # The event's attributes reach the browser as JSON, keypoints and frames as ingest sent them.
    got = (await gw.client.get(f"/api/v1/alerts/{fight}", headers=gw.auth("prison-operator"))).json()
    attrs = got["alert"]["latest"]["attributes"]
    assert attrs["keypoints"] == keypoints and attrs["frames"] == frames and attrs["held_s"] == 2.5
    assert got["alert"]["latest"]["track_ids"] == ["3", "7"]

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await sign_in(page, base, "prison-operator")
    await page.locator(f'li[data-alert-id="{fight}"] .summary').click()
    dialog = page.locator("#alert-detail")
    await dialog.locator(".history li").first.wait_for()
    # Sized in the snapshot's own pixels once the image has loaded.
    await page.wait_for_function(
        "document.querySelector('#alert-detail svg.skeletons')?.getAttribute('viewBox') === '0 0 320 180'",
        timeout=5000,
    )
    svg = dialog.locator("svg.skeletons")
    assert await svg.is_visible()
    assert await svg.locator("g.skeleton").count() == 2
    assert await svg.locator('g[data-track="3"] circle').count() == 17
    assert await svg.locator('g[data-track="3"] line').count() == 19
    assert await svg.locator('g[data-track="7"] circle').count() == 13
    assert await svg.locator('g[data-track="7"] line').count() == 15
    colours = {await g.get_attribute("stroke") for g in await svg.locator("g.skeleton").all()}
    assert len(colours) == 2  # one colour per person
    # The overlay covers the image exactly, so a keypoint lands on the pixel it names.
    img_box = await dialog.locator("img.snapshot").bounding_box()
    svg_box = await svg.bounding_box()
    assert img_box and svg_box
    assert all(abs(img_box[k] - svg_box[k]) < 1 for k in ("x", "y", "width", "height"))
    behaviour = await dialog.locator(".behaviour").inner_text()
    assert "Held for 2.5 s" in behaviour and "since " in behaviour
    assert await dialog.locator(".behaviour .frames li").count() == len(frames)
    assert "(the picture above)" in await dialog.locator(".behaviour .frames li").last.inner_text()
    await page.screenshot(path=str(SCREENSHOTS / "11b-behaviour-skeletons.png"))
    await dialog.locator("button.close").click()
    await dialog.wait_for(state="hidden")

    # An alert without keypoints shows its snapshot alone.
    await page.locator(f'li[data-alert-id="{plain}"] .summary').click()
    await dialog.locator(".history li").first.wait_for()
    assert await dialog.locator("img.snapshot").evaluate(
        "i => i.complete && i.naturalWidth > 0 || new Promise(r => { i.onload = () => r(i.naturalWidth > 0);"
        " i.onerror = () => r(false); })"
    )
    assert await dialog.locator("svg, circle, line").count() == 0
    assert await dialog.locator(".behaviour").count() == 0
    assert not errors, errors


def _mp4(frames: int = 10, fps: int = 5) -> bytes:
    """A short H.264 clip as ingest stores one (MP4, yuv420p, index at the end): a figure
    walking across a 320x180 corridor."""
    import av  # the media stack only this test needs
    import numpy as np

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream: Any = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for i in range(frames):
            img = Image.new("RGB", (320, 180), (40, 44, 52))
            x = 40 + 24 * i
            ImageDraw.Draw(img).rectangle((x, 60, x + 30, 160), fill=(239, 68, 68))
            frame = av.VideoFrame.from_ndarray(np.asarray(img), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


async def test_behaviour_alert_detail_plays_the_clip_under_the_snapshot(
    browser: Any, console: Any, sign_in: Any
) -> None:
    gw, backing, base = console
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    mp4 = _mp4()
    info = await gw.gateway.objects.put(
        "clips/prison/cam-block-e/2026/01/01/120000-9-self_harm_risk.mp4", mp4, content_type="video/mp4"
    )
    clip = common_pb2.ObjectRef(
        key=info.key, sha256=info.sha256, size_bytes=info.size, content_type="video/mp4"
    )
    risk = await _publish_with_snapshot(
        gw, backing, "self_harm_risk", "cam-block-e", common_pb2.SEVERITY_CRITICAL, 8, clip=clip
    )
    still = await _publish_with_snapshot(gw, backing, "climbing", "cam-wall", common_pb2.SEVERITY_HIGH, 9)

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await sign_in(page, base, "prison-operator")
    await page.locator(f'li[data-alert-id="{risk}"] .summary').click()
    dialog = page.locator("#alert-detail")
    await dialog.locator(".history li").first.wait_for()
    video = dialog.locator(".detail-picture figure.clip video")
    assert (await video.get_attribute("src") or "").startswith("/evidence/")
    # The browser decodes it: metadata (duration, size) loaded from the evidence link.
    loaded = await video.evaluate(
        """v => v.readyState >= 1 ? true : new Promise(done => {
            v.addEventListener("loadedmetadata", () => done(true));
            v.addEventListener("error", () => done(v.error ? `error ${v.error.code}` : "error"));
        })"""
    )
    assert loaded is True, loaded
    shown = await video.evaluate(
        "v => ({d: v.duration, w: v.videoWidth, m: v.muted, c: v.controls, a: v.autoplay})"
    )
    assert shown["d"] > 0 and shown["w"] == 320 and shown["m"] and shown["c"] and not shown["a"], shown
    # It plays to the end from the one plain 200 response (the link serves no byte ranges).
    played = await video.evaluate(
        """v => new Promise(done => {
            v.addEventListener("ended", () => done(v.currentTime));
            v.play().catch((e) => done(String(e)));
        })"""
    )
    assert isinstance(played, float | int) and played > 1.5, played
    # Under the snapshot, with its caption, and what to do for the behaviour.
    img_box = await dialog.locator("img.snapshot").bounding_box()
    video_box = await video.bounding_box()
    assert img_box and video_box and video_box["y"] >= img_box["y"] + img_box["height"]
    assert "seconds before the alert" in await dialog.locator("figure.clip figcaption").inner_text()
    assert (
        "Send staff and medical help to the cell immediately"
        in await dialog.locator(".guidance").inner_text()
    )
    await page.screenshot(path=str(SCREENSHOTS / "11c-behaviour-clip.png"))
    # Opening the clip is an evidence view like the snapshot, in the operator's name.
    trail = (
        await gw.client.get(
            "/api/v1/audit", params={"action_prefix": "evidence."}, headers=gw.auth("prison-auditor")
        )
    ).json()["records"]
    views = [r for r in trail if r["target"] == f"alert_object:{info.key}" and r["outcome"] == "ok"]
    assert views and {v["actor"] for v in views} == {"prison/prison-operator@local"}
    # Seconds later ingest sends the clip of the seconds before and after: it takes the first
    # one's place in the open detail, live.
    around = await gw.gateway.objects.put(
        "clips/prison/cam-block-e/2026/01/01/120000-9-self_harm_risk-around.mp4",
        _mp4(frames=20),
        content_type="video/mp4",
    )
    ref = common_pb2.ObjectRef(
        key=around.key, sha256=around.sha256, size_bytes=around.size, content_type="video/mp4"
    )
    await backing.amend(risk, clip=ref, attributes={"clip_after_s": 4.0})
    caption = dialog.locator("figure.clip figcaption")
    await caption.filter(has_text="and 4 s after it").wait_for()
    later = await video.evaluate(
        "v => v.readyState >= 1 ? v.duration : new Promise(done => v.addEventListener('loadedmetadata', () => done(v.duration)))"
    )
    assert later > shown["d"], (later, shown)
    await dialog.locator("button.close").click()
    await dialog.wait_for(state="hidden")

    # An alert without a clip shows no video, and its own guidance.
    await page.locator(f'li[data-alert-id="{still}"] .summary').click()
    await dialog.locator(".history li").first.wait_for()
    assert await dialog.locator("video, figure.clip").count() == 0
    assert "climbing a fence or wall" in await dialog.locator(".guidance").inner_text()
    assert not errors, errors


async def test_camera_offline_says_why(
    browser: Any, fleet_backing: Any, gateway_factory: Any, serve_app: Any, sign_in: Any
) -> None:
    gw = await gateway_factory(fleet_backing.endpoints)
    resp = await gw.client.post(
        "/api/v1/cameras",
        headers=gw.auth("prison-admin"),
        json={
            "id": "cam-dead",
            "name": "dead",
            "site_id": "north-block",
            "url": "rtsp://127.0.0.1:1/none",
            "enabled": True,
        },
    )
    assert resp.status_code == 200, resp.text
    op = gw.auth("prison-operator")
    async with asyncio.timeout(60):  # ingest tries, fails, and says why
        while True:
            listed = (await gw.client.get("/api/v1/cameras/health", headers=op)).json()["health"]
            if any(h["camera_id"] == "cam-dead" and h.get("last_error") for h in listed):
                break
            await asyncio.sleep(0.3)
    async with serve_app(gw.app) as base:
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await sign_in(page, base, "prison-operator")
        await page.click('#tabs button[data-view="cameras"]')
        error = page.locator("#camera-rows tr.cam-offline .cam-error")
        await error.wait_for()
        assert (await error.inner_text()).strip()
        await page.screenshot(path=str(SCREENSHOTS / "12-camera-offline.png"))


async def test_audit_lists_newest_first_and_pages_back(browser: Any, console: Any, sign_in: Any) -> None:
    gw, _backing, base = console
    for n in range(620):  # more than one read (500) within the same second or so
        await gw.gateway.audit.record("test.fill", f"record-{n}", "ok", {}, agency="prison", actor="filler")
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await sign_in(page, base, "prison-auditor")
    await page.locator("#audit-rows tr").first.wait_for()
    more = page.locator("#audit-more")
    assert await more.inner_text() == "Show older records"
    seen: list[int] = []
    async with asyncio.timeout(60):
        while True:
            seqs = [int(s) for s in await page.locator("#audit-rows tr td:first-child").all_inner_texts()]
            if len(seqs) > len(seen):
                seen = seqs
            if await more.is_hidden():
                break
            await more.click()
            await page.wait_for_function(
                "n => document.querySelectorAll('#audit-rows tr').length > n || "
                "document.querySelector('#audit-more').hidden",
                arg=len(seqs),
            )
    seen = [int(s) for s in await page.locator("#audit-rows tr td:first-child").all_inner_texts()]
    assert seen == sorted(seen, reverse=True), "not newest first"
    assert len(set(seen)) == len(seen) and len(seen) >= 620
    await page.screenshot(path=str(SCREENSHOTS / "13-audit-newest-first.png"))


async def _face_crop(gw: Any, photo: bytes) -> bytes:
    """A loose crop around the face of a photo, as ingest sends it to identity."""
    found = await gw.client.post(
        "/api/v1/identify",
        headers=gw.auth("prison-investigator"),
        json={"image": base64.b64encode(photo).decode(), "mode": "investigation", "purpose": "crop"},
    )
    box = found.json()["probe_face"]
    img = Image.open(io.BytesIO(photo))
    pad_x, pad_y = (box["x2"] - box["x1"]) * 0.3, (box["y2"] - box["y1"]) * 0.3
    out = io.BytesIO()
    img.crop(
        (
            int(max(0, box["x1"] - pad_x)),
            int(max(0, box["y1"] - pad_y)),
            int(min(img.width, box["x2"] + pad_x)),
            int(min(img.height, box["y2"] + pad_y)),
        )
    ).convert("RGB").save(out, "JPEG")
    return out.getvalue()


async def _match_track(gw: Any, crop: bytes, camera: str, track: int) -> Any:
    """What ingest sends identity for a tracked face at a camera."""
    from kuzet.common.caller import Caller, caller_metadata
    from kuzet.common.grpcclient import open_channel
    from kuzet.common.timeutil import to_timestamp, utcnow
    from kuzet.identity.v1 import identity_pb2 as ipb
    from kuzet.identity.v1 import identity_pb2_grpc

    ingest = Caller("service:ingest", "prison", frozenset({"service"}))
    channel = open_channel(gw.gateway.backends.endpoints.identity, audience="identity")
    try:
        resp = await identity_pb2_grpc.IdentityServiceStub(channel).MatchTrack(
            ipb.MatchTrackRequest(
                crop=crop,
                source=common_pb2.Source(
                    kind=common_pb2.SOURCE_KIND_CAMERA, id=camera, site_id="north-block", name=camera
                ),
                track_id=track,
                zone_id="yard",
                frame_time=to_timestamp(utcnow()),
            ),
            metadata=caller_metadata(ingest, audience="identity"),
        )
    finally:
        await channel.close()
    assert resp.candidates, resp
    return resp


async def test_review_queue_shows_one_card_per_person_and_camera(
    browser: Any, review_console: Any, sign_in: Any
) -> None:
    """A person who passes the same camera on several tracks (a looping video) is one review, and
    its card counts the sightings (issue #20 item 8: the demo queued one review per loop)."""
    from kuzet.common.testdata import face_photos

    gw, base, search_match = review_console
    crop = await _face_crop(gw, await asyncio.to_thread(face_photos()["obama"][1].read_bytes))
    opened: dict[str, list[str]] = {"cam-gate": [], "cam-yard": []}
    for camera, track in (("cam-gate", 11), ("cam-gate", 12), ("cam-gate", 13), ("cam-yard", 4)):
        opened[camera].append((await _match_track(gw, crop, camera, track)).candidates[0].match_id)

    # Identity files the later tracks at cam-gate under the first one's pending review.
    assert len(set(opened["cam-gate"])) == 1, opened
    gate_match = opened["cam-gate"][0]

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await sign_in(page, base, "prison-reviewer")
    await page.click('#tabs button[data-view="reviews"]')
    gate = page.locator(f'li.review[data-match-id="{gate_match}"]')
    await _faces_loaded(gate)
    assert await page.locator("li.review").count() == 3  # the search, cam-gate, cam-yard
    # Its alert counts the sightings (alerting folds them), and the card says so.
    await gate.get_by_text("Seen 3 times at this camera, last ").wait_for()
    yard = page.locator(f'li.review[data-match-id="{opened["cam-yard"][0]}"]')
    assert await yard.locator(".sightings").is_hidden()
    await page.screenshot(path=str(SCREENSHOTS / "14-review-grouped.png"))
    # A fourth pass while the card is open: the count follows the live feed.
    resp = await _match_track(gw, crop, "cam-gate", 14)
    assert resp.candidates[0].match_id == gate_match
    await gate.get_by_text("Seen 4 times at this camera, last ").wait_for()
    await gate.locator("input.reason").fill("same scar above the left eye")
    await gate.locator("button.confirm").click()
    await page.locator("li.review", has_text="You already reviewed this match.").wait_for()
    assert await page.locator("li.review").count() == 3
    pending = (await gw.client.get("/api/v1/reviews", headers=gw.auth("prison-reviewer"))).json()["matches"]
    reviewed = {m["match_id"]: [r["reviewer"] for r in m.get("reviews", [])] for m in pending}
    assert reviewed[gate_match] == ["prison/prison-reviewer@local"]
    assert reviewed[opened["cam-yard"][0]] == [] and reviewed[search_match] == []


# --- traffic (issue #18 item 5) -------------------------------------------------------------------


def _plate_jpeg(text: str) -> bytes:
    img = Image.new("RGB", (180, 40), (235, 235, 235))
    ImageDraw.Draw(img).text((12, 12), text, fill=(10, 10, 10))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


async def test_traffic_counts_hits_search_and_hotlist(
    browser: Any, backing: Any, gateway_factory: Any, serve_app: Any, traffic_starter: Any, sign_in: Any
) -> None:
    """Counts and a hotlist hit appear on the traffic page once the traffic service records
    observations (the hit live, through its alert); a plate search needs a purpose; an admin
    keeps the hotlist, which an operator does not see."""
    traffic = await traffic_starter(backing.alerting_address)
    gw = await gateway_factory(backing.endpoints.model_copy(update={"traffic": traffic.address}))
    admin, op = gw.auth("prison-admin"), gw.auth("prison-operator")
    camera = "ring-km12"
    resp = await gw.client.put(f"/api/v1/traffic/cameras/{camera}", json=traffic.profile(), headers=admin)
    assert resp.status_code == 200, resp.text
    plate = "777KZA02"
    entry = {
        "plate": plate,
        "reason": "stolen vehicle",
        "source": "Almaty police, case 4471",
        "legal_basis": "CPC art. 12",
        "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
    }
    resp = await gw.client.post("/api/v1/traffic/hotlist", json={"entries": [entry]}, headers=admin)
    assert resp.status_code == 200, resp.text
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with serve_app(gw.app) as base:
        page = await browser.new_page(viewport={"width": 1280, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await sign_in(page, base, "prison-operator")
        await page.click('#tabs button[data-view="traffic"]')
        await page.get_by_text("No hotlist hits.").wait_for()
        # An operator searches plates but does not keep the hotlist: no form, no list.
        assert await page.locator("#plate-search").is_visible()
        assert await page.locator("#hotlist-admin").is_hidden()
        assert await page.locator("#hotlist-form").is_hidden()

        start = datetime.now(UTC) - timedelta(minutes=3)
        snapshot = await gw.gateway.objects.put(
            "prison/traffic/ring-km12/7.jpg",
            _jpeg("ring-km12 lane 1", (59, 130, 246)),
            content_type="image/jpeg",
        )
        crop = await gw.gateway.objects.put(
            "prison/traffic/ring-km12/7-plate.jpg", _plate_jpeg("777 KZA 02"), content_type="image/jpeg"
        )
        refs = [
            common_pb2.ObjectRef(key=i.key, sha256=i.sha256, size_bytes=i.size, content_type="image/jpeg")
            for i in (snapshot, crop)
        ]
        speeds = [48, 53, 57, 61, 66]
        observations = [
            traffic.observation(
                camera, "l1" if n % 3 else "l2", n, at=start + timedelta(seconds=20 * n), speed_kmh=v
            )
            for n, v in enumerate(speeds)
        ]
        observations.append(
            traffic.observation(
                camera,
                "l1",
                7,
                at=start + timedelta(minutes=2),
                plate=plate,
                speed_kmh=74,
                snapshot=refs[0],
                plate_crop=refs[1],
            )
        )
        recorded = await traffic.record(*observations)
        assert recorded.recorded == 6 and recorded.hotlist_hits == 1
        # The hit reaches the page live, through its alert on the feed.
        hit = page.locator(f'#traffic-hits tr[data-plate="{plate}"]')
        await hit.wait_for(timeout=10000)
        text = await hit.inner_text()
        assert "stolen vehicle" in text and "Almaty police, case 4471" in text and "exact" in text
        assert "Ring road km 12, ring-road, lane 1" in text
        for img in ("img.thumb", "img.plate-crop"):
            assert await hit.locator(img).evaluate(
                "i => i.complete && i.naturalWidth > 0 || new Promise(r => { i.onload = () => r(i.naturalWidth > 0);"
                " i.onerror = () => r(false); })"
            ), img
        totals = page.locator("#traffic-counts-total")
        await page.wait_for_function(
            "() => document.querySelector('#traffic-counts-total').textContent.includes('lane 1 (l1) 4')"
        )
        assert "lane 2 (l2) 2" in await totals.inner_text()
        assert await page.locator("#traffic-counts canvas").count() == 1
        assert await page.locator("#traffic-speeds canvas").count() == 1
        assert "6 measured" in await page.locator("#traffic-speed-stats").inner_text()

        # A search without a purpose goes nowhere; with one it is answered and on record.
        await page.fill("#plate-search-plate", "777 kza 02")
        await page.click("#plate-search-button")
        assert "A purpose is required" in await page.locator("#plate-search-error").inner_text()
        trail = await gw.client.get(
            "/api/v1/audit",
            params={"service": "traffic", "action_prefix": "traffic.plate."},
            headers=gw.auth("prison-auditor"),
        )
        assert trail.json()["records"] == []
        await page.fill("#plate-search-purpose", "case 4471: where was it seen")
        await page.click("#plate-search-button")
        await page.locator(f'#plate-search-rows tr[data-plate="{plate}"]').wait_for()
        assert "on record" in await page.locator("#plate-search-note").inner_text()
        await page.screenshot(path=str(SCREENSHOTS / "15-traffic.png"), full_page=True)
        trail = await gw.client.get(
            "/api/v1/audit",
            params={"service": "traffic", "action_prefix": "traffic.plate."},
            headers=gw.auth("prison-auditor"),
        )
        [search] = trail.json()["records"]
        assert search["details"]["purpose"] == "case 4471: where was it seen"
        # The exact hit also raised a critical alert in alerting.
        alerts = (await gw.client.get("/api/v1/alerts", headers=op)).json()["alerts"]
        assert [a["severity"] for a in alerts if a["type"] == "plate_hotlist"] == ["SEVERITY_CRITICAL"]

        await page.click("#signout")
        await sign_in(page, base, "prison-admin")
        await page.click('#tabs button[data-view="traffic"]')
        row = page.locator(f'#hotlist-rows tr[data-plate="{plate}"]')
        await row.wait_for()
        await page.fill("#hotlist-plate", "505 abd 17")
        await page.fill("#hotlist-reason", "wanted driver")
        await page.fill("#hotlist-source", "Shymkent police, case 88")
        await page.fill("#hotlist-legal-basis", "court order 3/2026")
        await page.click("#hotlist-add")
        added = page.locator('#hotlist-rows tr[data-plate="505ABD17"]')
        await added.wait_for()
        assert "wanted driver" in await added.inner_text()
        await page.screenshot(path=str(SCREENSHOTS / "16-traffic-hotlist.png"), full_page=True)
        await row.locator("button.remove").click()
        await row.locator("input.remove-reason").fill("vehicle recovered")
        await row.locator("button.remove-confirm").click()
        await row.wait_for(state="detached")
        listed = (await gw.client.get("/api/v1/traffic/hotlist", headers=admin)).json()["entries"]
        assert [e["plate"] for e in listed] == ["505ABD17"]
        assert listed[0]["source"] == "Shymkent police, case 88"
        assert not errors, errors
