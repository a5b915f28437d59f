"""gRPC server of the drone service (default port 50056)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from kuzet.common.audit import open_audit_log
from kuzet.common.auditservice import SERVICE_NAME as AUDIT_SERVICE_NAME
from kuzet.common.auditservice import add_audit_service
from kuzet.common.caller import service_caller
from kuzet.common.config import Endpoints
from kuzet.common.db import Database, migrate
from kuzet.common.dblease import in_kubernetes
from kuzet.common.grpcclient import open_channel
from kuzet.common.grpcserver import GrpcServer, ServiceSpec
from kuzet.common.runner import run_service
from kuzet.common.v1 import common_pb2
from kuzet.drone.alertgate import AlertLookup, alerting_lookup
from kuzet.drone.areastore import AreaStore
from kuzet.drone.config import DroneSettings
from kuzet.drone.coveragereport import CoverageReports
from kuzet.drone.detections import DetectionReports
from kuzet.drone.fleet import Fleet
from kuzet.drone.leadership import DatabaseLeadership, InProcessLeadership, KubernetesLeadership, Leadership
from kuzet.drone.service import DroneServicer
from kuzet.drone.store import DroneStore
from kuzet.drone.v1 import drone_pb2, drone_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = drone_pb2.DESCRIPTOR.services_by_name["DroneService"].full_name


def _leadership(settings: DroneSettings, database: Database) -> Leadership:
    kind = settings.leadership
    if kind == "auto":
        kind = "kubernetes" if in_kubernetes() else "database"
    identity = settings.controller_id or None
    if kind == "kubernetes":
        from kuzet.common.k8s import load_api_client

        return KubernetesLeadership(load_api_client(), identity=identity, lease_s=settings.lease_s)
    if kind == "database":
        return DatabaseLeadership(database, identity=identity, lease_s=settings.lease_s)
    return InProcessLeadership(identity or "drone-local", lease_s=settings.lease_s)


class DroneServer(GrpcServer):
    """The gRPC server with the fleet it serves (tests and the bench reach the fleet here)."""

    fleet: Fleet


async def build(
    settings: DroneSettings,
    *,
    leadership: Leadership | None = None,
    publish_event: Callable[[common_pb2.Event], None] | None = None,
    alerts: AlertLookup | None = None,
) -> DroneServer:
    """The server, ready to start(); tests pass their own leadership, event sink and alert lookup."""
    database = Database(settings.effective_database_url)
    await asyncio.to_thread(migrate, database, "kuzet.drone.migrations")
    store = DroneStore(database)
    audit = await asyncio.to_thread(open_audit_log, settings, database)
    on_stop = []
    if publish_event is None:
        if settings.publish_events:
            from kuzet.common.eventsink import EventSink

            sink = EventSink(Endpoints().alerting, caller=service_caller("drone"))
            await sink.start()
            publish_event = sink.publish
            on_stop.append(sink.close)
        else:

            def publish_event(event: common_pb2.Event) -> None:
                log.warning(
                    "alert (not sent, publish_events off): %s %s",
                    event.type,
                    event.summary,
                    extra={"agency": event.agency_id},
                )

    if alerts is None:
        # Dispatches that answer an alert check it there (an unconfirmed face match flies nobody).
        alerting = open_channel(Endpoints().alerting, audience="alerting", caller=service_caller("drone"))
        alerts = alerting_lookup(alerting)
        on_stop.append(alerting.close)

    fleet = Fleet(
        store,
        leadership or _leadership(settings, database),
        publish_event,
        telemetry_hz=settings.telemetry_hz,
    )
    reports = CoverageReports(store, fleet.live_track)
    areas = AreaStore(database)
    detections = DetectionReports(store, areas, fleet, publish_event)
    fleet.on_mission_end = reports.mission_ended
    await fleet.start()

    async def advertise() -> None:
        # Followers name the leader by this address (x-kuzet-leader) when a command reaches them.
        await store.put_replica(fleet.leadership.identity, settings.advertise_address or server.address)

    async def dispose() -> None:
        await audit.stop()
        database.dispose()

    server = DroneServer(
        settings,
        [
            (
                drone_pb2_grpc.add_DroneServiceServicer_to_server,
                DroneServicer(fleet, store, audit, alerts, reports, areas, detections),
            ),
            add_audit_service(audit),
        ],
        [SERVICE_NAME, AUDIT_SERVICE_NAME],
        on_start=[audit.start, advertise],
        on_stop=[fleet.stop, *on_stop, dispose],
    )
    server.fleet = fleet
    return server


async def _run() -> None:
    await run_service(DroneSettings, build)


SPEC = ServiceSpec(name="drone", default_port=DroneSettings.default_port, run=_run, order=60)
