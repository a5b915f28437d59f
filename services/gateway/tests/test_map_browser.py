"""The live map and the drone pilot's workflow in headless Chromium, against the real alerting,
badge and drone services, simulated badges (the Connect protocol) and a simulated MAVLink drone.

Screenshots land in docs/console/.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kuzet.badge.config import BadgeSettings
from kuzet.badge.server import build as build_badge
from kuzet.badge.sim import SimBadge, register_badges
from kuzet.badge.v1 import badge_pb2_grpc
from kuzet.common.caller import Caller, service_caller
from kuzet.common.grpcclient import open_channel
from kuzet.common.testing import free_port_number
from kuzet.common.v1 import common_pb2
from kuzet.drone.alertgate import alerting_lookup
from kuzet.drone.config import DroneSettings
from kuzet.drone.server import build as build_drone
from kuzet.drone.sim import SimHost, VehicleConfig

from .conftest import SCREENSHOTS

pytestmark = pytest.mark.browser
AGENCY = "prison"
LAT, LON, ALT = 43.2389, 76.8897, 800.0
DRONE = "hawk-1"
BADGES = ["b-100", "b-101", "b-102"]


def point(east_m: float, north_m: float) -> dict[str, float]:
    return {"latitude": LAT + north_m / 111_195.0, "longitude": LON + east_m / 81_000.0}


def square(east_m: float, north_m: float, half: float) -> list[dict[str, float]]:
    return [point(east_m + dx * half, north_m + dy * half) for dx, dy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]


async def until(check: Callable[[], Awaitable[bool]], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}")
        await asyncio.sleep(0.1)


@dataclass
class MapStack:
    gw: Any
    base: str
    backing: Any
    badges: list[SimBadge]


@pytest.fixture
async def map_stack(
    backing: Any, gateway_factory: Any, serve_app: Any, tmp_path: Path
) -> AsyncIterator[MapStack]:
    """Alerting (from `backing`), a badge and a drone service, three badges walking around the
    site, one simulated drone on the ground at home, a geofence, a no-fly zone and a forest block."""
    badge_srv = await build_badge(
        BadgeSettings(
            port=free_port_number(),
            data_dir=tmp_path / "badge",
            database_url=f"sqlite:///{tmp_path / 'badge.db'}",
        )
    )
    await badge_srv.start()
    alerting = open_channel(backing.alerting_address, audience="alerting", caller=service_caller("drone"))
    drone_srv = await build_drone(
        DroneSettings(
            port=free_port_number(),
            data_dir=tmp_path / "drone",
            database_url=f"sqlite:///{tmp_path / 'drone.db'}",
        ),
        publish_event=lambda event: None,
        alerts=alerting_lookup(alerting),
    )
    await drone_srv.start()
    sim = SimHost().start()
    endpoints = backing.endpoints.model_copy(update={"badge": badge_srv.address, "drone": drone_srv.address})
    gw = await gateway_factory(endpoints)
    admin = gw.auth("prison-admin")
    for zone in (
        {"name": "prison grounds", "kind": "ZONE_KIND_GEOFENCE", "polygon": square(0, 0, 600)},
        {"name": "hospital helipad", "kind": "ZONE_KIND_NO_FLY", "polygon": square(-300, 300, 60)},
    ):
        resp = await gw.client.post("/api/v1/drone-zones", json=zone, headers=admin)
        assert resp.status_code == 200, resp.text
    forest = {
        "name": "east woods",
        "kind": "PROTECTED_AREA_KIND_FOREST_BLOCK",
        "outline": square(300, -300, 150),
    }
    resp = await gw.client.post("/api/v1/protected-areas", json=forest, headers=admin)
    assert resp.status_code == 200, resp.text
    port = free_port_number()
    resp = await gw.client.post(
        "/api/v1/drones",
        headers=admin,
        json={
            "drone": {
                "drone_id": DRONE,
                "name": "Hawk",
                "site_id": "air-wing",
                "home": {"latitude": LAT, "longitude": LON, "altitude_m": ALT},
                "system_id": 7,
                "link_url": f"udpin:127.0.0.1:{port}",
            }
        },
    )
    assert resp.status_code == 200, resp.text
    sim.add(VehicleConfig(7, LAT, LON, ALT, speedup=4.0), f"udpout:127.0.0.1:{port}")

    caller = Caller("service:badge-sim", AGENCY, frozenset({"admin", "service"}))
    channel = open_channel(badge_srv.address, audience="badge", caller=caller)
    stub = badge_pb2_grpc.BadgeServiceStub(channel)
    await register_badges(stub, AGENCY, BADGES, unit="north-block")
    badges = [SimBadge(b, LAT, LON, radius_m=200, interval_s=0.3) for b in BADGES]
    stop = asyncio.Event()
    runs = [asyncio.create_task(b.run(stub, stop)) for b in badges]

    pilot = gw.auth("prison-pilot")

    async def ready() -> bool:
        state = (await gw.client.get(f"/api/v1/drones/{DRONE}/state", headers=pilot)).json().get("state", {})
        return bool(state.get("available"))

    await until(ready, 20, "the simulated drone is ready to fly")
    try:
        async with serve_app(gw.app) as base:
            yield MapStack(gw, base, backing, badges)
    finally:
        stop.set()
        for task in runs:
            with contextlib.suppress(BaseException):
                await task
        await channel.close()
        sim.stop()
        await drone_srv.stop(0)
        await badge_srv.stop(0)
        await alerting.close()


async def _open_map(browser: Any, stack: MapStack, sign_in: Any, user: str) -> Any:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    await sign_in(page, stack.base, user)
    await page.click('#tabs button[data-view="live"]')
    await page.wait_for_selector("#live-feed.online")
    await page.wait_for_function(f"() => window.kuzetMap.position('drone', '{DRONE}') !== null")
    return page


async def _position(page: Any, kind: str, ident: str) -> list[float] | None:
    result: list[float] | None = await page.evaluate(f"window.kuzetMap.position('{kind}', '{ident}')")
    return result


async def _click_at(page: Any, where: dict[str, float]) -> None:
    x, y = await page.evaluate(f"window.kuzetMap.pixel({where['latitude']}, {where['longitude']})")
    await page.mouse.click(x, y)


async def test_map_shows_zones_and_badges_moving_live_and_hides_commands_from_an_operator(
    browser: Any, map_stack: MapStack, sign_in: Any
) -> None:
    page = await _open_map(browser, map_stack, sign_in, "prison-operator")
    assert await page.locator("#live-map path.zone.geofence").count() == 1
    assert await page.locator("#live-map path.zone.nofly").count() == 1
    await page.wait_for_selector("#live-map path.protected-area.forest-block")
    assert "site plans only" in await page.locator("#live-base").inner_text()
    await page.wait_for_function("() => window.kuzetMap.counts().badges === 3")
    before = await _position(page, "badge", BADGES[0])

    async def moved() -> bool:
        return await _position(page, "badge", BADGES[0]) != before

    await until(moved, 5, "a badge moves on the map")
    # The drone is listed and can be opened; an operator sees its telemetry and no command.
    await page.click(f'#live-drones li[data-drone-id="{DRONE}"] button')
    await page.wait_for_selector("#drone-detail:not([hidden])")
    assert "Battery" in await page.locator("#drone-telemetry").inner_text()
    assert await page.locator("#drone-controls").is_hidden()
    assert await page.locator("#plan-box").is_hidden()
    assert await page.locator("#drone-estop").is_hidden()
    await page.screenshot(path=str(SCREENSHOTS / "20-live-map-operator.png"))
    # Filters: layers come off the map and back; a site (a badge's unit) keeps what is there.
    await page.uncheck("#live-layer-zones")
    assert await page.locator("#live-map path.zone").count() == 0
    await page.check("#live-layer-zones")
    await page.uncheck("#live-layer-areas")
    assert await page.locator("#live-map path.protected-area").count() == 0
    await page.check("#live-layer-areas")
    await page.uncheck("#live-layer-badges")
    assert await page.evaluate("window.kuzetMap.shown('badges')") == 0
    await page.check("#live-layer-badges")
    await page.select_option("#live-site", "north-block")
    assert await page.evaluate("window.kuzetMap.shown('badges')") == 3
    assert await page.evaluate("window.kuzetMap.shown('drones')") == 0  # it belongs to the air wing
    await page.uncheck("#live-layer-drones")
    await page.check("#live-layer-drones")  # the layer back on: still not this site's
    assert await page.evaluate("window.kuzetMap.shown('drones')") == 0
    await page.select_option("#live-site", "air-wing")
    assert await page.evaluate("window.kuzetMap.shown('badges')") == 0
    assert await page.evaluate("window.kuzetMap.shown('drones')") == 2  # the drone and its track
    await page.select_option("#live-agency", "prison")
    assert await page.evaluate("window.kuzetMap.shown('drones')") == 2
    # The route refuses what the console does not offer.
    resp = await map_stack.gw.client.post(
        f"/api/v1/drones/{DRONE}/control",
        json={"action": "return_to_launch"},
        headers=map_stack.gw.auth("prison-operator"),
    )
    assert resp.status_code == 403
    assert not page.errors


async def test_pilot_checks_confirms_dispatches_follows_returns_and_emergency_stops(
    browser: Any, map_stack: MapStack, sign_in: Any
) -> None:
    page = await _open_map(browser, map_stack, sign_in, "prison-pilot")
    await page.wait_for_selector("#plan-box:not([hidden])")
    await page.select_option("#plan-drone", DRONE)

    # A route into the no-fly zone is refused by the check and cannot be sent.
    await page.select_option("#plan-kind", "route")
    await _click_at(page, point(-300, 300))
    await page.click("#plan-check")
    await page.wait_for_selector("#plan-result .plan-refused")
    assert "no-fly" in (await page.locator("#plan-result .plan-violations").inner_text()).lower()
    assert await page.locator("#plan-dispatch").is_disabled()
    await page.screenshot(path=str(SCREENSHOTS / "21-plan-refused.png"))

    # A perimeter inside the geofence passes, and needs an explicit confirmation.
    await page.select_option("#plan-kind", "perimeter")
    for corner in square(100, 120, 40):
        await _click_at(page, corner)
    await page.click("#plan-check")
    await page.wait_for_selector("#plan-result .plan-ok")
    assert "battery use" in await page.locator("#plan-result .plan-figures").inner_text()
    await page.click("#plan-dispatch")
    await page.wait_for_selector("#dispatch-confirm[open]")
    assert await page.locator("#dispatch-go").is_disabled()
    await page.screenshot(path=str(SCREENSHOTS / "22-dispatch-confirm.png"))
    await page.check("#dispatch-ack")
    await page.click("#dispatch-go")
    await page.wait_for_selector("#plan-result .dispatched")
    assert await page.locator("#live-map path.mission-path").count() == 1

    # Follow it live: the drone takes off and moves along its mission.
    home = await _position(page, "drone", DRONE)

    async def away() -> bool:
        now = await _position(page, "drone", DRONE)
        return bool(now and home and abs(now[0] - home[0]) + abs(now[1] - home[1]) > 1e-4)

    await until(away, 45, "the drone moves on the map")
    # Anyone who reads drones sees the mission it flies, not only the browser that dispatched it.
    watcher = await _open_map(browser, map_stack, sign_in, "prison-operator")
    await watcher.wait_for_selector("#live-map path.mission-path")
    assert await watcher.locator("#live-map path.mission-path").count() == 1
    assert not watcher.errors
    await watcher.close()
    await page.wait_for_selector(f'#drone-detail[data-drone-id="{DRONE}"]')
    await page.screenshot(path=str(SCREENSHOTS / "23-mission-live.png"))

    # Return to launch.
    await page.fill("#drone-reason", "shift change")
    await page.click('#drone-controls button[data-action="return_to_launch"]')
    await page.wait_for_function(
        "() => document.querySelector('#drone-command-result').textContent.startsWith('return to launch: sent')"
    )
    await page.wait_for_function(
        "() => /returning/.test(document.querySelector('#drone-mission').textContent)"
    )

    # The emergency stop cannot be sent until the drone's id is typed.
    await page.click("#drone-estop")
    await page.wait_for_selector("#estop-confirm[open]")
    assert await page.locator("#estop-go").is_disabled()
    await page.fill("#estop-name", "hawk")
    assert await page.locator("#estop-go").is_disabled()
    await page.fill("#estop-name", DRONE)
    assert await page.locator("#estop-go").is_enabled()
    await page.screenshot(path=str(SCREENSHOTS / "24-emergency-stop-guard.png"))
    await page.click("#estop-go")
    await page.wait_for_function(
        "() => document.querySelector('#drone-command-result').textContent.startsWith('emergency stop: sent')"
    )
    await page.wait_for_selector("#drone-reenable:not([hidden])")
    # Nor can a request without the typed id, whoever sends it.
    resp = await map_stack.gw.client.post(
        f"/api/v1/drones/{DRONE}/control",
        json={"action": "emergency_stop", "reason": "test"},
        headers=map_stack.gw.auth("prison-pilot"),
    )
    assert resp.status_code == 400
    # The drone service audited each command.
    trail = await map_stack.gw.client.get(
        "/api/v1/audit",
        params={"service": "drone", "action_prefix": "drone.control"},
        headers=map_stack.gw.auth("prison-auditor"),
    )
    assert trail.status_code == 200, trail.text
    actions = {r["action"] for r in trail.json()["records"]}
    assert {
        "drone.control.control_action_return_to_launch",
        "drone.control.control_action_emergency_stop",
    } <= actions
    assert not page.errors


async def test_pilot_sends_the_nearest_drone_to_an_alert(
    browser: Any, map_stack: MapStack, sign_in: Any
) -> None:
    target = point(150, 200)
    alert_id = await map_stack.backing.publish(
        AGENCY,
        "zone_intrusion",
        camera="cam-wall-3",
        site="north-block",
        severity=common_pb2.SEVERITY_HIGH,
        location=common_pb2.GeoPoint(**target),
        summary="person on the outer wall",
    )
    page = await _open_map(browser, map_stack, sign_in, "prison-pilot")
    mark = page.locator(f'#live-map path.alert-mark[data-alert-id="{alert_id}"]')
    await mark.wait_for()
    await mark.click(force=True)
    suggestion = page.locator(f'#suggestions li[data-drone-id="{DRONE}"] button')
    await suggestion.wait_for()
    await page.screenshot(path=str(SCREENSHOTS / "25-suggest-for-alert.png"))
    await suggestion.click()
    await page.click("#plan-check")
    await page.wait_for_selector("#plan-result .plan-ok")
    await page.click("#plan-dispatch")
    await page.check("#dispatch-ack")
    await page.click("#dispatch-go")
    await page.wait_for_selector("#plan-result .dispatched")
    state = (
        await map_stack.gw.client.get(
            f"/api/v1/drones/{DRONE}/state", headers=map_stack.gw.auth("prison-pilot")
        )
    ).json()["state"]
    assert state["mission"]["alert_id"] == alert_id
    assert not page.errors
