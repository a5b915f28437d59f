"""A camera's live view in headless Chromium: a real RTSP camera in the real ingest service, its
frames with zones and tracks drawn streamed by the gateway as MJPEG and shown by the console, the
opening on record (issue #20 item 3)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from kuzet.common.testing import missing_component

from .conftest import SCREENSHOTS

pytestmark = pytest.mark.browser


async def test_the_operator_watches_a_camera_live_and_the_view_is_audited(
    browser: Any, fleet_backing: Any, gateway_factory: Any, serve_app: Any, sign_in: Any, tmp_path: Path
) -> None:
    from kuzet.ingest.testing.rtsp import RtspServer, rtsp_available
    from kuzet.ingest.testing.videotest import walking_scenario, write_h264

    if not rtsp_available():
        missing_component("GStreamer's RTSP server is not installed: run scripts/setup/rtsp.sh")
    scene = walking_scenario(640, 360)
    clip = write_h264(scene, tmp_path / "walk.mp4")
    gw = await gateway_factory(fleet_backing.endpoints)
    admin = gw.auth("prison-admin")
    zone = [{"x": x, "y": y} for x, y in scene.geometry["restricted_zone"]]  # type: ignore[union-attr]
    with RtspServer({"walk": clip}) as rtsp:
        resp = await gw.client.post(
            "/api/v1/cameras",
            headers=admin,
            json={
                "id": "cam-walk",
                "name": "Corridor 4",
                "site_id": "north-block",
                "url": rtsp.url("walk"),
                "enabled": True,
                "analytic_fps": 2,
                "zones": [{"id": "restricted", "points": zone}],
            },
        )
        assert resp.status_code == 200, resp.text
        for _ in range(80):  # connected and a frame decoded
            health = await gw.client.get("/api/v1/cameras/cam-walk/health", headers=admin)
            if health.status_code == 200 and health.json()["health"].get("connected"):
                break
            await asyncio.sleep(0.25)
        async with serve_app(gw.app) as base:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            await sign_in(page, base, "prison-operator")
            await page.click('#tabs button[data-view="cameras"]')
            await page.locator("#camera-rows button.live-open").click()
            frame = page.locator("#live-frame")
            await page.wait_for_function(
                "() => { const i = document.querySelector('#live-frame'); return i && i.src.startsWith('blob:') && i.naturalWidth === 640; }",
                timeout=20000,
            )
            first = await frame.get_attribute("src")
            await page.wait_for_function(
                "(first) => document.querySelector('#live-frame').src !== first", arg=first, timeout=10000
            )
            assert await page.locator("#live-title").inner_text() == "Live: Corridor 4"
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / "21-live-view.png"))
            await page.click("#live-close")
            assert not await page.locator("#live-view").is_visible()
            # The camera's admin may not watch (no evidence.view): no button, and the route refuses.
            other = await browser.new_page(viewport={"width": 1280, "height": 800})
            await sign_in(other, base, "prison-admin")
            await other.click('#tabs button[data-view="cameras"]')
            await other.locator("#camera-rows tr").first.wait_for()
            assert await other.locator("#camera-rows button.live-open").count() == 0
            refused = await gw.client.get("/api/v1/cameras/cam-walk/live", headers=admin)
            assert refused.status_code == 403
    auditor = gw.auth("prison-auditor")
    trail = await gw.client.get(
        "/api/v1/audit", headers=auditor, params={"service": "gateway", "action_prefix": "camera.live"}
    )
    assert trail.status_code == 200, trail.text
    assert [r["target"] for r in trail.json()["records"]] == ["cam-walk"]
