"""The drones this service instance controls: leases, links, supervision, zones per agency."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kuzet.common.timeutil import utcnow
from kuzet.common.v1 import common_pb2
from kuzet.drone.controller import DroneController, Publish
from kuzet.drone.hub import TelemetryHub
from kuzet.drone.leadership import Leadership
from kuzet.drone.models import StatusRow
from kuzet.drone.store import DroneStore
from kuzet.drone.v1 import drone_pb2

log = logging.getLogger(__name__)

SUPERVISE_S = 0.5
# How often the readiness of the controlled drones and the tracks being flown are written for the
# other replicas (SuggestDrone, ReportDetections); a status older than STATUS_FRESH_S is ignored.
SHARE_S = 5.0
STATUS_FRESH_S = 3 * SHARE_S
ENDED = (drone_pb2.MISSION_STATE_COMPLETED, drone_pb2.MISSION_STATE_ABORTED)


class Fleet:
    def __init__(
        self,
        store: DroneStore,
        leadership: Leadership,
        publish_event: Publish,
        *,
        telemetry_hz: float = 10.0,
        hub: TelemetryHub | None = None,
    ) -> None:
        self.store = store
        self.leadership = leadership
        self.publish_event = publish_event
        self.telemetry_hz = telemetry_hz
        self.hub = hub or TelemetryHub()
        self.controllers: dict[str, DroneController] = {}
        self.drones: dict[str, drone_pb2.Drone] = {}
        self.zones: dict[str, list[drone_pb2.Zone]] = {}
        self._task: asyncio.Task[None] | None = None
        self._saves: set[asyncio.Task[Any]] = set()
        self._taking: set[str] = set()
        # Called after an ended mission (and its track) is stored: the coverage report's hook.
        self.on_mission_end: Callable[[drone_pb2.Mission], Awaitable[None]] | None = None

    async def start(self) -> None:
        for zone in await self.store.list_zones():
            self.zones.setdefault(zone.agency_id, []).append(zone)
        for drone in await self.store.list_drones():
            self.drones[drone.drone_id] = drone
        self._task = asyncio.create_task(self._supervise())
        await self._claim()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for drone_id in list(self.controllers):
            await self._let_go(drone_id)
        if self._saves:
            await asyncio.gather(*self._saves, return_exceptions=True)

    def _save_mission(self, mission: drone_pb2.Mission) -> None:
        task = asyncio.create_task(self._persist(mission, self.live_track(mission)))
        self._saves.add(task)
        task.add_done_callback(self._saves.discard)

    async def _persist(self, mission: drone_pb2.Mission, track: bytes | None) -> None:
        await self.store.put_mission(mission)
        if track is not None:
            await self.store.put_track(mission, track)
        if mission.state in ENDED and self.on_mission_end is not None:
            await self.on_mission_end(mission)

    def live_track(self, mission: drone_pb2.Mission) -> bytes | None:
        """The positions flown so far by a mission a controller of this replica dispatched."""
        ctl = self.controllers.get(mission.drone_id)
        if ctl is None or ctl.track is None or ctl.track.mission_id != mission.mission_id:
            return None
        return ctl.track.to_bytes()

    async def add(self, drone: drone_pb2.Drone) -> None:
        """Register (or replace) a drone; take control of it if its lease is free."""
        if drone.drone_id in self.controllers:
            await self._let_go(drone.drone_id)
        self.drones[drone.drone_id] = drone
        await self._take(drone)

    async def _take(self, drone: drone_pb2.Drone) -> None:
        # RegisterDrone and the lease round can both try the same drone; only one may open it.
        if drone.drone_id in self._taking or drone.drone_id in self.controllers:
            return
        self._taking.add(drone.drone_id)
        try:
            await self._take_unguarded(drone)
        finally:
            self._taking.discard(drone.drone_id)

    async def _take_unguarded(self, drone: drone_pb2.Drone) -> None:
        if not await self.leadership.acquire(drone.drone_id):
            return
        ctl = DroneController(
            drone,
            self.hub,
            self.publish_event,
            self._save_mission,
            telemetry_hz=self.telemetry_hz,
            controller_id=self.leadership.identity,
        )
        ctl.zones = self.zones.get(drone.agency_id, [])
        last = await self.store.last_mission(drone.drone_id)
        if last is not None:
            ctl.mission = last
        try:
            await ctl.open()
        except OSError as exc:
            log.error(
                "drone %s: cannot open link %s: %s",
                drone.drone_id,
                drone.link_url,
                exc,
                extra={"agency": drone.agency_id},
            )
            await self.leadership.release(drone.drone_id)
            return
        self.controllers[drone.drone_id] = ctl
        log.info(
            "controlling drone %s over %s", drone.drone_id, drone.link_url, extra={"agency": drone.agency_id}
        )

    async def _let_go(self, drone_id: str) -> None:
        ctl = self.controllers.pop(drone_id, None)
        if ctl is not None:
            await ctl.close()
        await self.leadership.release(drone_id)

    async def _drop(self, drone_id: str, why: str) -> None:
        ctl = self.controllers.pop(drone_id, None)
        if ctl is not None:
            log.warning(
                "drone %s: %s; closing its link", drone_id, why, extra={"agency": ctl.drone.agency_id}
            )
            await ctl.close()

    async def _claim(self) -> None:
        """Renew our leases, drop the ones lost, try to take drones nobody controls."""
        # Another instance may have registered drones since we started.
        for drone in await self.store.list_drones():
            self.drones.setdefault(drone.drone_id, drone)
        for drone_id in list(self.controllers):
            if not await self.leadership.renew(drone_id):
                await self._drop(drone_id, "lost its lease")
        for drone_id, drone in list(self.drones.items()):
            if drone_id not in self.controllers:
                await self._take(drone)

    async def _supervise(self) -> None:
        last_claim = last_share = time.monotonic()
        while True:
            # Wake at the end of a term too: control must end then, not at the next tick.
            now = time.monotonic()
            ends = [self.leadership.held_until(d) - now for d in self.controllers]
            await asyncio.sleep(max(0.0, min([SUPERVISE_S, *ends])))
            now = time.monotonic()
            for drone_id in [d for d in self.controllers if self.leadership.held_until(d) <= now]:
                await self._drop(drone_id, "could not renew its lease in time")
            for ctl in list(self.controllers.values()):
                ctl.supervise(now)
            if now - last_share >= SHARE_S:
                last_share = now
                try:
                    await self._share()
                except Exception:
                    log.exception("sharing drone status failed")
            if now - last_claim > self.leadership.lease_s / 3:
                last_claim = now
                try:
                    await self._claim()
                except Exception:
                    log.exception("lease renewal failed")

    async def _share(self) -> None:
        statuses, tracks = [], []
        for ctl in self.controllers.values():
            here = location_of(ctl, ctl.drone)
            statuses.append(
                StatusRow(
                    drone_id=ctl.drone.drone_id,
                    agency_id=ctl.drone.agency_id,
                    updated_at=utcnow(),
                    available=ctl.available(),
                    battery_pct=ctl.battery() if ctl.battery() is not None else -1.0,
                    latitude=here.latitude,
                    longitude=here.longitude,
                )
            )
            if ctl.mission is not None and ctl.track is not None and ctl.mission.state not in ENDED:
                tracks.append((ctl.mission, ctl.track.to_bytes()))
        if statuses:
            await self.store.put_statuses(statuses)
        if tracks:
            await self.store.put_tracks(tracks)

    def set_zones(self, agency: str, zones: list[drone_pb2.Zone]) -> None:
        self.zones[agency] = zones
        for ctl in self.controllers.values():
            if ctl.drone.agency_id == agency:
                ctl.zones = zones

    def controller(self, drone_id: str) -> DroneController | None:
        return self.controllers.get(drone_id)


def location_of(ctl: DroneController | None, drone: drone_pb2.Drone) -> common_pb2.GeoPoint:
    if ctl is not None and ctl.link is not None and ctl.link.state.have_position:
        s = ctl.link.state
        return common_pb2.GeoPoint(latitude=s.lat, longitude=s.lon, altitude_m=s.alt_msl)
    return drone.home
