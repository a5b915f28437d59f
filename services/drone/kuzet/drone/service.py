"""The DroneService servicer: validation, roles and agency isolation around the fleet."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import grpc

from kuzet.common.audit import AuditLog
from kuzet.common.caller import Caller, current_caller
from kuzet.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    KuzetError,
    NotFound,
    NotLeader,
    PermissionDenied,
)
from kuzet.common.paging import PageToken, Paging, page_list
from kuzet.common.periods import period_of
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import common_pb2
from kuzet.drone import geo, planning, protectedareas, surveys
from kuzet.drone.alertgate import AlertLookup, require_actionable
from kuzet.drone.areastore import AreaStore
from kuzet.drone.controller import DroneController
from kuzet.drone.coveragereport import CoverageReports
from kuzet.drone.detections import DetectionReports
from kuzet.drone.fleet import STATUS_FRESH_S, Fleet, location_of
from kuzet.drone.mavlink.transport import parse_link_url
from kuzet.drone.statistics import flight_figures
from kuzet.drone.store import DroneStore
from kuzet.drone.v1 import drone_pb2, drone_pb2_grpc

DEFAULT_LIMITS = {
    "max_altitude_m": 120.0,  # the usual open-category ceiling
    "max_range_m": 2000.0,
    "min_launch_battery_pct": 40.0,
    "return_reserve_pct": 25.0,
    "endurance_s": 1500.0,
    "cruise_speed_mps": 8.0,
    "link_loss_timeout_s": 5.0,
}
CA = drone_pb2.ControlAction
NO_CONTROLLER = "its link is down or its lease is changing hands"
# An agency's fleet is tens of drones, read whole in drone id order: a page resumes after the
# last drone id sent.
DRONE_PAGING = Paging(default=100, maximum=1000, clamp=True)
DRONE_TOKEN = PageToken("drone.drones", str)
STATISTICS_READERS = ("pilot", "operator", "admin", "auditor")
AREA_EDITORS = ("admin", "pilot")
INGEST = "service:ingest"


def _agency(caller: Caller, requested: str) -> str:
    agency = requested or caller.agency
    if not agency:
        raise InvalidArgument("agency_id is required (the caller has no agency)")
    caller.require_agency(agency)
    return agency


class DroneServicer(drone_pb2_grpc.DroneServiceServicer):
    def __init__(
        self,
        fleet: Fleet,
        store: DroneStore,
        audit: AuditLog,
        alerts: AlertLookup,
        reports: CoverageReports,
        areas: AreaStore,
        detections: DetectionReports,
    ) -> None:
        self.fleet = fleet
        self.store = store
        self.audit = audit
        self.alerts = alerts
        self.reports = reports
        self.areas = areas
        self.detections = detections

    async def _drone(self, drone_id: str) -> drone_pb2.Drone:
        if not drone_id:
            raise InvalidArgument("drone_id is required")
        caller = current_caller()
        drone = self.fleet.drones.get(drone_id) or await self.store.get_drone(drone_id)
        # Another agency's drone, or one outside the caller's sites, is answered as missing, so
        # that its ids cannot be probed.
        if (
            drone is None
            or not caller.sees_agency(drone.agency_id)
            or not caller.sees_site(drone.agency_id, drone.site_id)
        ):
            raise NotFound(f"no such drone {drone_id}")
        return drone

    async def _sees_drone_of(self, caller: Caller, agency: str, drone_id: str) -> bool:
        """Whether the caller's sites hold the drone that something of ``agency`` (a plan) is for."""
        if caller.site_limit(agency) is None:
            return True  # most callers have no limit: spare them reading the drone
        drone = self.fleet.drones.get(drone_id) or await self.store.get_drone(drone_id)
        return drone is not None and caller.sees_site(drone.agency_id, drone.site_id)

    async def _controller(self, drone_id: str) -> DroneController:
        """This replica's controller of the drone; else UNAVAILABLE naming the replica that has it."""
        ctl = self.fleet.controller(drone_id)
        if ctl is not None:
            return ctl
        await self._refer_to_holder(drone_id)
        raise NotLeader(f"drone {drone_id} has no controller right now ({NO_CONTROLLER}); retry shortly", "")

    async def _refer_to_holder(self, drone_id: str) -> None:
        """UNAVAILABLE naming the replica that holds the drone's lease, when another one does."""
        holder = self.fleet.leadership.holder(drone_id)
        if holder and holder != self.fleet.leadership.identity:
            address = await self.store.replica_address(holder)
            raise NotLeader(f"drone {drone_id} is controlled by replica {holder}", address)

    # ----- registry -----------------------------------------------------------------------

    async def RegisterDrone(self, request: drone_pb2.RegisterDroneRequest, context: Any) -> Any:
        caller = current_caller()
        caller.require_role("admin", "pilot")
        d = drone_pb2.Drone()
        d.CopyFrom(request.drone)
        if not d.drone_id or len(d.drone_id) > 64:
            raise InvalidArgument("drone.drone_id is required (at most 64 characters)")
        d.agency_id = _agency(caller, d.agency_id)
        if len(d.site_id) > 64:
            raise InvalidArgument("drone.site_id must be at most 64 characters")
        caller.require_site(d.agency_id, d.site_id, f"drone {d.drone_id}")
        planning.check_point(d.home, "drone.home")
        if not 1 <= d.system_id <= 250:
            raise InvalidArgument(f"drone.system_id must be 1..250 (MAVLink), got {d.system_id}")
        if not 0 <= d.component_id <= 255:
            raise InvalidArgument("drone.component_id must be 0..255")
        try:
            parse_link_url(d.link_url)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
        for name, default in DEFAULT_LIMITS.items():
            value = getattr(d.limits, name)
            if value < 0 or math.isnan(value):
                raise InvalidArgument(f"drone.limits.{name} must not be negative")
            if value == 0:
                setattr(d.limits, name, default)
        if d.limits.return_reserve_pct >= d.limits.min_launch_battery_pct:
            raise InvalidArgument("return_reserve_pct must be below min_launch_battery_pct")
        if not 0 <= d.camera.side_overlap <= 0.9:
            raise InvalidArgument("camera.side_overlap must be 0..0.9")
        if d.camera.gimbal_pitch_deg and not -90 <= d.camera.gimbal_pitch_deg <= -5:
            raise InvalidArgument("camera.gimbal_pitch_deg must be -90 (straight down) .. -5 degrees")
        existing = self.fleet.drones.get(d.drone_id) or await self.store.get_drone(d.drone_id)
        if existing is not None:
            if not request.update:
                raise AlreadyExists(f"drone {d.drone_id} is already registered (set update to replace it)")
            caller.require_agency(existing.agency_id)
            # Moving a drone into the caller's sites would take it from a site it cannot manage.
            caller.require_site(existing.agency_id, existing.site_id, f"drone {existing.drone_id}")
            ctl = self.fleet.controller(d.drone_id)
            if ctl is not None and ctl.link is not None and ctl.link.state.armed:
                raise FailedPrecondition(f"drone {d.drone_id} is flying; update it after it lands")
        for other in self.fleet.drones.values():
            if (
                other.drone_id != d.drone_id
                and other.link_url == d.link_url
                and other.system_id == d.system_id
            ):
                raise AlreadyExists(
                    f"link {d.link_url} system {d.system_id} already belongs to drone {other.drone_id}"
                )
        d.registered_at.CopyFrom(existing.registered_at if existing else to_timestamp(utcnow()))
        await self.store.put_drone(d)
        await self.fleet.add(d)
        await self.audit.record(
            "drone.register",
            d.drone_id,
            details={"link": d.link_url, "update": request.update, "site": d.site_id},
        )
        return drone_pb2.RegisterDroneResponse(drone=d)

    async def GetDrone(self, request: drone_pb2.GetDroneRequest, context: Any) -> Any:
        return drone_pb2.GetDroneResponse(drone=await self._drone(request.drone_id))

    async def ListDrones(self, request: drone_pb2.ListDronesRequest, context: Any) -> Any:
        caller = current_caller()
        agency = _agency(caller, request.agency_id)
        size = DRONE_PAGING.size(request.page)
        after = DRONE_TOKEN.decode(request.page.page_token)
        drones = await self.store.list_drones(agency, caller.site_limit(agency))
        page, token = page_list(drones, DRONE_TOKEN, after, size, lambda d: (d.drone_id,))
        resp = drone_pb2.ListDronesResponse(drones=page)
        resp.page.next_page_token = token
        return resp

    # ----- zones --------------------------------------------------------------------------

    async def CreateZone(self, request: drone_pb2.CreateZoneRequest, context: Any) -> Any:
        caller = current_caller()
        caller.require_role("admin", "pilot")
        z = drone_pb2.Zone()
        z.CopyFrom(request.zone)
        z.agency_id = _agency(caller, z.agency_id)
        if z.kind not in (drone_pb2.ZONE_KIND_GEOFENCE, drone_pb2.ZONE_KIND_NO_FLY):
            raise InvalidArgument("zone.kind must be GEOFENCE or NO_FLY")
        if z.max_altitude_m < 0:
            raise InvalidArgument("zone.max_altitude_m must not be negative")
        if len(z.polygon) > 100:
            raise InvalidArgument("zone.polygon has more than 100 corners")
        if z.polygon:
            planning.check_polygon(
                z.polygon, geo.LocalFrame(z.polygon[0].latitude, z.polygon[0].longitude), "zone.polygon"
            )
        else:
            raise InvalidArgument("zone.polygon needs at least 3 corners")
        z.zone_id = z.zone_id or str(uuid.uuid4())
        if await self.store.get_zone(z.zone_id) is not None:
            raise AlreadyExists(f"zone {z.zone_id} exists")
        z.created_at.CopyFrom(to_timestamp(utcnow()))
        await self.store.put_zone(z)
        self.fleet.set_zones(z.agency_id, await self.store.list_zones(z.agency_id))
        await self.audit.record(
            "drone.zone.create", z.zone_id, details={"kind": drone_pb2.ZoneKind.Name(z.kind), "name": z.name}
        )
        return drone_pb2.CreateZoneResponse(zone=z)

    async def ListZones(self, request: drone_pb2.ListZonesRequest, context: Any) -> Any:
        agency = _agency(current_caller(), request.agency_id)
        return drone_pb2.ListZonesResponse(zones=await self.store.list_zones(agency))

    async def DeleteZone(self, request: drone_pb2.DeleteZoneRequest, context: Any) -> Any:
        caller = current_caller()
        caller.require_role("admin", "pilot")
        z = await self.store.get_zone(request.zone_id)
        if z is None:
            raise NotFound(f"zone {request.zone_id} does not exist")
        caller.require_agency(z.agency_id)
        await self.store.delete_zone(z.zone_id)
        self.fleet.set_zones(z.agency_id, await self.store.list_zones(z.agency_id))
        await self.audit.record("drone.zone.delete", z.zone_id)
        return drone_pb2.DeleteZoneResponse()

    # ----- planning and dispatch ----------------------------------------------------------

    async def PlanPatrol(self, request: drone_pb2.PlanPatrolRequest, context: Any) -> Any:
        current_caller().require_role("pilot", "operator")
        drone = await self._drone(request.drone_id)
        ctl = self.fleet.controller(drone.drone_id)
        if ctl is None:
            # Readiness and battery are the controller's: the replica that has it plans.
            await self._refer_to_holder(drone.drone_id)
            battery, not_ready = None, [f"drone {drone.drone_id} has no controller ({NO_CONTROLLER})"]
        else:
            battery, not_ready = ctl.battery(), ctl.not_ready()
        plan = planning.plan_patrol(
            drone, request, self.fleet.zones.get(drone.agency_id, []), battery, not_ready
        )
        await self.store.put_plan(plan)
        return drone_pb2.PlanPatrolResponse(plan=plan)

    async def PlanCoverage(self, request: drone_pb2.PlanCoverageRequest, context: Any) -> Any:
        caller = current_caller()
        caller.require_role("pilot", "operator")
        if not request.drone_ids:
            raise InvalidArgument("drone_ids is required: the drones to share the area between")
        drones = [await self._drone(drone_id) for drone_id in request.drone_ids]
        agencies = {d.agency_id for d in drones}
        if len(agencies) > 1:
            raise InvalidArgument(f"the drones belong to several agencies ({', '.join(sorted(agencies))})")
        zones = self.fleet.zones.get(drones[0].agency_id, [])
        # Seconds of GEOS work for a large reserve: off the event loop that carries telemetry.
        plan = await asyncio.to_thread(surveys.plan_survey, request, drones, zones, caller.subject)
        await self.store.put_coverage_plan(plan)
        await self.audit.record(
            "drone.coverage.plan",
            plan.coverage_plan_id,
            "ok",
            {"drones": list(request.drone_ids), "legs": sum(len(d.legs) for d in plan.drones)},
        )
        return drone_pb2.PlanCoverageResponse(plan=plan)

    async def GetCoverageReport(self, request: drone_pb2.GetCoverageReportRequest, context: Any) -> Any:
        caller = current_caller()
        plan_id = request.coverage_plan_id
        if request.mission_id:
            mission = await self.store.get_mission(request.mission_id)
            if mission is None:
                raise NotFound(f"mission {request.mission_id} does not exist")
            caller.require_agency(mission.agency_id)
            leg = await self.store.get_plan(mission.plan_id)
            if leg is None or not leg.coverage_plan_id:
                raise InvalidArgument(f"mission {request.mission_id} does not fly a leg of a coverage plan")
            if plan_id and plan_id != leg.coverage_plan_id:
                raise InvalidArgument(
                    f"mission {request.mission_id} flies coverage plan {leg.coverage_plan_id}"
                )
            plan_id = leg.coverage_plan_id
        if not plan_id:
            raise InvalidArgument("coverage_plan_id or mission_id is required")
        plan = await self.store.get_coverage_plan(plan_id)
        if plan is None:
            raise NotFound(f"coverage plan {plan_id} does not exist")
        caller.require_agency(plan.agency_id)
        report = None if request.recompute else await self.store.get_coverage_report(plan_id)
        if report is None:
            report = await self.reports.compute(plan)
        return drone_pb2.GetCoverageReportResponse(report=report)

    async def GetFlightStatistics(self, request: drone_pb2.GetFlightStatisticsRequest, context: Any) -> Any:
        caller = current_caller()
        caller.require_role(*STATISTICS_READERS)
        agency = _agency(caller, request.agency_id)
        period = period_of(request.since, request.until, request.time_zone)
        response = await self.store.db.run(flight_figures, agency, period, caller.site_limit(agency))
        await self.audit.record(
            "statistics.view",
            agency,
            agency=agency,
            details={"since": period.since.isoformat(), "until": period.until.isoformat()},
        )
        return response

    async def Dispatch(self, request: drone_pb2.DispatchRequest, context: Any) -> Any:
        # Refused attempts are audited too: who tried to fly what, and why it was refused.
        try:
            plan, mission = await self._dispatch(request)
        except KuzetError as exc:
            outcome = ("denied: " if isinstance(exc, PermissionDenied) else "refused: ") + exc.message
            await self.audit.record(
                "drone.dispatch", request.plan_id or "-", outcome[:256], {"plan_id": request.plan_id}
            )
            raise
        await self.audit.record(
            "drone.dispatch",
            plan.drone_id,
            "ok",
            {"plan_id": plan.plan_id, "mission_id": mission.mission_id, "alert_id": plan.alert_id},
        )
        return drone_pb2.DispatchResponse(mission=mission)

    async def _dispatch(
        self, request: drone_pb2.DispatchRequest
    ) -> tuple[drone_pb2.PatrolPlan, drone_pb2.Mission]:
        caller = current_caller()
        caller.require_role("pilot")
        if not request.plan_id:
            raise InvalidArgument("plan_id is required")
        plan = await self.store.get_plan(request.plan_id)
        if plan is None or not await self._sees_drone_of(caller, plan.agency_id, plan.drone_id):
            raise NotFound(f"plan {request.plan_id} does not exist")
        caller.require_agency(plan.agency_id)
        if not request.pilot_confirmed:
            raise FailedPrecondition("pilot_confirmed must be true: a pilot confirms every flight")
        if not plan.ok:
            raise FailedPrecondition(
                "the plan failed its checks: " + "; ".join(v.message for v in plan.violations)
            )
        if plan.alert_id:
            await require_actionable(self.alerts, plan.alert_id, plan.agency_id)
        ctl = await self._controller(plan.drone_id)
        return plan, await ctl.dispatch(plan, caller.subject)

    async def Control(self, request: drone_pb2.ControlRequest, context: Any) -> Any:
        caller = current_caller()
        if request.action in (CA.CONTROL_ACTION_RESUME, CA.CONTROL_ACTION_EMERGENCY_STOP):
            caller.require_role("pilot")
        elif request.action in (
            CA.CONTROL_ACTION_HOLD,
            CA.CONTROL_ACTION_RETURN_TO_LAUNCH,
            CA.CONTROL_ACTION_LAND,
        ):
            caller.require_role("pilot", "operator")
        else:
            raise InvalidArgument("action must be HOLD, RESUME, RETURN_TO_LAUNCH, LAND or EMERGENCY_STOP")
        drone = await self._drone(request.drone_id)
        ctl = await self._controller(drone.drone_id)
        action = drone_pb2.ControlAction.Name(request.action)
        try:
            await ctl.control(request.action, caller.subject, request.reason)
        except Exception as exc:
            await self.audit.record(
                f"drone.control.{action.lower()}", drone.drone_id, f"error: {exc}", {"reason": request.reason}
            )
            raise
        await self.audit.record(
            f"drone.control.{action.lower()}", drone.drone_id, "ok", {"reason": request.reason}
        )
        return drone_pb2.ControlResponse(state=ctl.state())

    async def ReenableCommands(self, request: drone_pb2.ReenableCommandsRequest, context: Any) -> Any:
        caller = current_caller()
        caller.require_role("pilot")
        if not request.reason:
            raise InvalidArgument("reason is required to lift an emergency-stop block")
        drone = await self._drone(request.drone_id)
        ctl = await self._controller(drone.drone_id)
        ctl.reenable(caller.subject, request.reason)
        await self.audit.record("drone.reenable", drone.drone_id, "ok", {"reason": request.reason})
        return drone_pb2.ReenableCommandsResponse(state=ctl.state())

    async def SuggestDrone(self, request: drone_pb2.SuggestDroneRequest, context: Any) -> Any:
        caller = current_caller()
        caller.require_role("pilot", "operator")
        agency = _agency(caller, request.agency_id)
        planning.check_point(request.location, "location")
        altitude = request.altitude_m or 60.0
        if request.hold_s < 0 or altitude < 0:
            raise InvalidArgument("altitude_m and hold_s must not be negative")
        # From the database, not this replica's copy: another replica may have changed them.
        zones = await self.store.list_zones(agency)
        out = []
        for drone, battery, here in await self._ready_drones(agency, caller.site_limit(agency)):
            distance = geo.haversine_m(
                here.latitude, here.longitude, request.location.latitude, request.location.longitude
            )
            frame = geo.LocalFrame(drone.home.latitude, drone.home.longitude)
            route = [frame.to_xy(request.location.latitude, request.location.longitude)]
            if planning.check_route(route, min(altitude, drone.limits.max_altitude_m), drone, zones, frame):
                continue  # out of range, across a no-fly zone or outside its fence: not a candidate
            leg = geo.dist((0.0, 0.0), route[0])
            _, use = planning.estimate(
                2 * leg, 1, altitude, drone.limits.cruise_speed_mps, request.hold_s, drone.limits.endurance_s
            )
            landing = battery - use
            if landing < drone.limits.return_reserve_pct:
                continue
            out.append(
                drone_pb2.DroneSuggestion(
                    drone_id=drone.drone_id,
                    distance_m=distance,
                    battery_pct=battery,
                    estimated_arrival_s=altitude / planning.CLIMB_MPS
                    + distance / drone.limits.cruise_speed_mps,
                    estimated_landing_battery_pct=landing,
                )
            )
        out.sort(key=lambda s: s.distance_m)
        return drone_pb2.SuggestDroneResponse(suggestions=out[: request.max_results or 3])

    async def _ready_drones(
        self, agency: str, at_sites: frozenset[str] | None
    ) -> list[tuple[drone_pb2.Drone, float, common_pb2.GeoPoint]]:
        """Every available drone of the agency (at ``at_sites`` unless None) with its battery and
        position: live for the drones this replica controls, from the status the controlling
        replica shares for the others."""
        shared = await self.store.statuses(agency, utcnow() - timedelta(seconds=STATUS_FRESH_S))
        out = []
        for drone in await self.store.list_drones(agency, at_sites):
            ctl = self.fleet.controller(drone.drone_id)
            if ctl is not None:
                battery = ctl.battery()
                if ctl.available() and battery is not None:
                    out.append((drone, battery, location_of(ctl, drone)))
            elif (row := shared.get(drone.drone_id)) is not None and row.available and row.battery_pct >= 0:
                here = common_pb2.GeoPoint(latitude=row.latitude, longitude=row.longitude)
                out.append((drone, row.battery_pct, here))
        return out

    # ----- telemetry ----------------------------------------------------------------------

    async def WatchTelemetry(
        self, request: drone_pb2.WatchTelemetryRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[drone_pb2.WatchTelemetryResponse]:
        caller = current_caller()
        ids = frozenset(request.drone_ids)
        for drone_id in ids:
            await self._drone(drone_id)
        agency = caller.agency
        if not ids and not agency:
            raise InvalidArgument("name drone_ids or call with an agency")
        if request.max_batch > 10_000:
            raise InvalidArgument("max_batch must be at most 10000")
        batch = max(1, request.max_batch)
        # A site-limited caller's stream carries its sites' drones only; a drone's site is read
        # per sample, so a drone moved out of the caller's sites mid-stream drops out at once.
        limit = caller.site_limit(agency)

        def shown(item: drone_pb2.Telemetry) -> bool:
            drone = self.fleet.drones.get(item.drone_id)
            return limit is None or (drone is not None and drone.site_id in limit)

        sub = self.fleet.hub.subscribe(ids, agency)
        try:
            for ctl in list(self.fleet.controllers.values()):
                if (ctl.drone.drone_id in ids) if ids else ctl.drone.agency_id == agency:
                    sample = ctl.telemetry()
                    if shown(sample):
                        sub.push(sample)
            while True:
                items = [item for item in await sub.next_batch() if shown(item)]
                if not items:
                    continue
                if batch == 1:
                    for item in items:
                        yield drone_pb2.WatchTelemetryResponse(telemetry=item)
                    continue
                # Each stream write costs a round through the event loop; batching is what lets
                # one process feed hundreds of drones at 10 Hz to every console.
                for i in range(0, len(items), batch):
                    yield drone_pb2.WatchTelemetryResponse(batch=items[i : i + batch])
        finally:
            sub.close()

    async def GetDroneState(self, request: drone_pb2.GetDroneStateRequest, context: Any) -> Any:
        drone = await self._drone(request.drone_id)
        ctl = self.fleet.controller(drone.drone_id)
        if ctl is None:
            # The live state is the controller's: name the replica that has it.
            await self._refer_to_holder(drone.drone_id)
            st = drone_pb2.DroneState(drone=drone, controller=self.fleet.leadership.holder(drone.drone_id))
            st.telemetry.drone_id, st.telemetry.agency_id = drone.drone_id, drone.agency_id
            st.telemetry.link_state = drone_pb2.LINK_STATE_CLOSED
            last = await self.store.last_mission(drone.drone_id)
            if last is not None:
                st.mission.CopyFrom(last)
        else:
            st = ctl.state()
        if st.mission.plan_id:
            plan = await self.store.get_plan(st.mission.plan_id)
            if plan is not None:
                st.plan.CopyFrom(plan)
        return drone_pb2.GetDroneStateResponse(state=st)

    # ----- protected areas and what the drones' cameras see ----------------------------------

    async def CreateProtectedArea(self, request: drone_pb2.CreateProtectedAreaRequest, context: Any) -> Any:
        caller = current_caller()
        caller.require_role(*AREA_EDITORS)
        area = request.area
        area.agency_id = _agency(caller, area.agency_id)
        area.area_id = area.area_id or str(uuid.uuid4())
        if len(area.area_id) > 64:
            raise InvalidArgument("area.area_id must be at most 64 characters")
        if await self.areas.get_area(area.area_id) is not None:
            raise AlreadyExists(f"protected area {area.area_id} exists")
        stored = await self._store_area(area, caller, None)
        await self._audit_area("drone.area.create", stored)
        return drone_pb2.CreateProtectedAreaResponse(area=stored)

    async def UpdateProtectedArea(self, request: drone_pb2.UpdateProtectedAreaRequest, context: Any) -> Any:
        caller = current_caller()
        caller.require_role(*AREA_EDITORS)
        existing = await self._area(request.area.area_id)
        if request.area.agency_id and request.area.agency_id != existing.agency_id:
            raise InvalidArgument("an area cannot move to another agency")
        request.area.agency_id = existing.agency_id
        stored = await self._store_area(request.area, caller, existing)
        await self._audit_area("drone.area.update", stored)
        return drone_pb2.UpdateProtectedAreaResponse(area=stored)

    async def GetProtectedArea(self, request: drone_pb2.GetProtectedAreaRequest, context: Any) -> Any:
        return drone_pb2.GetProtectedAreaResponse(area=await self._area(request.area_id))

    async def ListProtectedAreas(self, request: drone_pb2.ListProtectedAreasRequest, context: Any) -> Any:
        agency = _agency(current_caller(), request.agency_id)
        return drone_pb2.ListProtectedAreasResponse(areas=await self.areas.list_areas(agency))

    async def DeleteProtectedArea(self, request: drone_pb2.DeleteProtectedAreaRequest, context: Any) -> Any:
        current_caller().require_role(*AREA_EDITORS)
        area = await self._area(request.area_id)
        await self.areas.delete_area(area.area_id)
        await self._audit_area("drone.area.delete", area)
        return drone_pb2.DeleteProtectedAreaResponse()

    async def _area(self, area_id: str) -> drone_pb2.ProtectedArea:
        if not area_id:
            raise InvalidArgument("area_id is required")
        area = await self.areas.get_area(area_id)
        # Another agency's area is answered as missing, so that its ids cannot be probed.
        if area is None or not current_caller().sees_agency(area.agency_id):
            raise NotFound("no such protected area")
        return area

    async def _store_area(
        self, area: drone_pb2.ProtectedArea, caller: Caller, existing: drone_pb2.ProtectedArea | None
    ) -> drone_pb2.ProtectedArea:
        # Shapely and pyproj work on up to 2000 corners: off the event loop that carries telemetry.
        stored = await asyncio.to_thread(protectedareas.normalised, area)
        now = to_timestamp(utcnow())
        stored.created_at.CopyFrom(existing.created_at if existing is not None else now)
        stored.updated_at.CopyFrom(now)
        stored.updated_by = caller.subject
        await self.areas.put_area(stored)
        return stored

    async def _audit_area(self, action: str, area: drone_pb2.ProtectedArea) -> None:
        await self.audit.record(
            action,
            area.area_id,
            "ok",
            {"name": area.name, "kind": drone_pb2.ProtectedAreaKind.Name(area.kind)},
            agency=area.agency_id,
        )

    async def ReportDetections(self, request: drone_pb2.ReportDetectionsRequest, context: Any) -> Any:
        caller = current_caller()
        if caller.subject != INGEST:
            raise PermissionDenied(f"ReportDetections is called by {INGEST} only")
        drone = await self._drone(request.drone_id)
        return await self.detections.report(drone, request)
