"""gRPC server of the traffic service (default port 50057)."""

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
from kuzet.common.grpcserver import GrpcServer, ServiceSpec
from kuzet.common.holds import Holds
from kuzet.common.holdservice import SERVICE_NAME as HOLD_SERVICE_NAME
from kuzet.common.holdservice import add_hold_service
from kuzet.common.retention import Retention
from kuzet.common.runner import run_service
from kuzet.common.v1 import common_pb2
from kuzet.traffic.config import TrafficSettings
from kuzet.traffic.retention import HOLD_KINDS, build_retention
from kuzet.traffic.service import TrafficServicer
from kuzet.traffic.store import TrafficStore
from kuzet.traffic.v1 import traffic_pb2, traffic_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = traffic_pb2.DESCRIPTOR.services_by_name["TrafficService"].full_name


class TrafficServer(GrpcServer):
    """The gRPC server with its retention jobs (tests run them on demand)."""

    retention: Retention


async def build(
    settings: TrafficSettings,
    *,
    port: int | None = None,
    publish_event: Callable[[common_pb2.Event], None] | None = None,
    endpoints: Endpoints | None = None,
) -> TrafficServer:
    """The server, ready to start(); tests pass ``port=0`` and may pass their own event sink."""
    database = Database(settings.effective_database_url)
    await asyncio.to_thread(migrate, database, "kuzet.traffic.migrations")
    audit = await asyncio.to_thread(open_audit_log, settings, database)
    holds = Holds(database, audit, HOLD_KINDS, release_ttl_s=settings.hold_release_ttl_s)
    retention = build_retention(settings, database, audit, holds)
    retention.register_metrics()
    on_stop = []
    if publish_event is None:
        if settings.publish_events:
            from kuzet.common.eventsink import EventSink

            sink = EventSink((endpoints or Endpoints()).alerting, caller=service_caller("traffic"))
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

    servicer = TrafficServicer(TrafficStore(database), audit, publish_event, max_batch=settings.max_batch)
    retention_task: asyncio.Task[None] | None = None

    async def start_retention() -> None:
        nonlocal retention_task
        retention_task = asyncio.create_task(retention.run(), name="traffic-retention")

    async def dispose() -> None:
        if retention_task is not None:
            retention_task.cancel()
            await asyncio.gather(retention_task, return_exceptions=True)
        await audit.stop()
        database.dispose()

    server = TrafficServer(
        settings,
        [
            (traffic_pb2_grpc.add_TrafficServiceServicer_to_server, servicer),
            add_audit_service(audit),
            add_hold_service(holds, retention),
        ],
        [SERVICE_NAME, AUDIT_SERVICE_NAME, HOLD_SERVICE_NAME],
        port=port,
        on_start=[audit.start, start_retention],
        on_stop=[*on_stop, dispose],
    )
    server.retention = retention
    await retention.report_to(server.health)
    return server


async def _run() -> None:
    await run_service(TrafficSettings, build)


SPEC = ServiceSpec(name="traffic", default_port=TrafficSettings.default_port, run=_run, order=60)
