"""The badge process built and run: BadgeService (service.py) and the audit trail on the API port,
the device port, and the jobs that run beside them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from grpc_health.v1 import health_pb2

from kuzet.badge.config import BadgeSettings
from kuzet.badge.evidence import EvidenceStore
from kuzet.badge.records import Records
from kuzet.badge.registry import Registry
from kuzet.badge.service import BadgeServicer, EventPublisher
from kuzet.badge.statistics import Statistics
from kuzet.badge.telemetry.hub import TelemetryHub
from kuzet.badge.telemetry.rules import RuleEngine
from kuzet.badge.telemetry.wire import DeviceEndpoint
from kuzet.badge.v1 import badge_pb2, badge_pb2_grpc
from kuzet.common.audit import open_audit_log
from kuzet.common.auditservice import AuditServicer
from kuzet.common.caller import service_caller
from kuzet.common.config import Endpoints
from kuzet.common.db import Database, migrate
from kuzet.common.dblease import open_lease_lock
from kuzet.common.grpcserver import GrpcServer, ServiceSpec
from kuzet.common.k8s import LeaderElector, LeaseLock, pod_identity
from kuzet.common.objectstore import ObjectStore, open_object_store
from kuzet.common.runner import run_service
from kuzet.common.v1 import audit_pb2_grpc

log = logging.getLogger(__name__)
A = badge_pb2
# Health of what several replicas need of the database (one machine or many pods alike).
REPLICAS_HEALTH = f"{A.DESCRIPTOR.services_by_name['BadgeService'].full_name}/replicas"
REPLICAS_HEALTH_INTERVAL_S = 1.0


@dataclass
class BadgeApp:
    """Everything a running badge service holds (tests reach the parts through it)."""

    settings: BadgeSettings
    database: Database
    objects: ObjectStore
    hub: TelemetryHub
    evidence: EvidenceStore
    server: GrpcServer
    device: DeviceEndpoint
    jobs: list[asyncio.Task[None]]
    # Held by the one replica that runs evidence retention and verification.
    jobs_lock: LeaseLock | None = None


async def _every(interval_s: float, name: str, job: Callable[[], Awaitable[Any]]) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await job()
        except Exception:
            log.exception("%s job failed; next run in %.0f s", name, interval_s)


async def _report_replicas(server: GrpcServer, hub: TelemetryHub) -> None:
    """Health of REPLICAS_HEALTH: the stream claims and commands reach the database (and, on
    PostgreSQL, the command notifications arrive); every change of state is logged."""
    current: bool | None = None
    while True:
        problems = [
            what
            for what, ok in (
                ("stream claims cannot be written", hub.streams.healthy),
                ("commands cannot be read or acknowledged", hub.commands.healthy),
                ("command notifications are not arriving (polling only)", hub.commands.listening),
            )
            if not ok
        ]
        if (not problems) != current:
            current = not problems
            status = (
                health_pb2.HealthCheckResponse.SERVING
                if current
                else health_pb2.HealthCheckResponse.NOT_SERVING
            )
            await server.health.set(REPLICAS_HEALTH, status)
            if current:
                log.info("badge replicas: stream claims, commands and notifications working")
            else:
                log.warning("badge replicas: %s", "; ".join(problems))
        await asyncio.sleep(REPLICAS_HEALTH_INTERVAL_S)


async def _lead_forever() -> None:
    """The rules leader's work is done by telemetry/streams.py while ``is_leader`` holds."""
    await asyncio.Event().wait()


async def build_app(
    settings: BadgeSettings,
    *,
    sink: EventPublisher | None = None,
    objects: ObjectStore | None = None,
    port: int | None = None,
    device_port: int | None = None,
) -> BadgeApp:
    """Wire the service. Without ``sink`` events go to alerting through kuzet.common.eventsink."""
    database = Database(settings.effective_database_url, own_checkpoints=True)
    await asyncio.to_thread(migrate, database, "kuzet.badge.migrations")
    audit = await asyncio.to_thread(open_audit_log, settings, database)
    await audit.start()
    store = objects or open_object_store(settings.effective_object_store_url)
    on_stop: list[Callable[[], Awaitable[None]]] = []
    if sink is None:
        from kuzet.common.eventsink import EventSink

        event_sink = EventSink(Endpoints().alerting, caller=service_caller("badge", roles=("service",)))
        await event_sink.start()
        on_stop.append(event_sink.close)
        sink = event_sink
    rules = RuleEngine(settings, sink.publish)
    replica_id = settings.replica_id or pod_identity()
    hub = TelemetryHub(settings, database, rules, replica_id)
    # One replica judges the badges connected to none (telemetry/streams.py); the others stand by.
    rules_lock = open_lease_lock(
        "kuzet-badge-rules", database=database, identity=replica_id, lease_duration_s=settings.stream_lease_s
    )
    hub.leading = lambda: rules_lock.is_leader
    await hub.start()
    stop_electing = asyncio.Event()
    elector = asyncio.create_task(
        LeaderElector(rules_lock, on_started_leading=_lead_forever).run(stop_electing),
        name="badge-rules-leader",
    )
    evidence = EvidenceStore(settings, database, store, audit)
    servicer = BadgeServicer(
        settings,
        hub,
        Registry(database, hub, audit),
        evidence,
        Records(settings, database, audit, sink.publish),
        Statistics(database, audit),
    )
    # Evidence retention and verification run on one replica at a time (a lease row in the badge
    # database); each item is also deleted under its own row lock, so a takeover mid-run is safe.
    jobs_lock = open_lease_lock(
        "kuzet-badge-retention",
        database=database,
        identity=replica_id,
        lease_duration_s=settings.retention_lease_s,
        backend="database",
    )

    async def run_jobs() -> None:
        await asyncio.gather(
            _every(settings.retention_interval_s, "retention", evidence.run_retention),
            _every(settings.verification_interval_s, "verification", lambda: evidence.verify(None)),
        )

    jobs = [
        asyncio.create_task(
            LeaderElector(jobs_lock, on_started_leading=run_jobs).run(stop_electing),
            name="badge-retention-leader",
        )
    ]

    async def shutdown() -> None:
        # Stop first, cancel second: on Python 3.11 asyncio.wait_for can swallow a cancel that
        # lands as its timeout fires, and an elector that lost its cancel must still see the stop.
        stop_electing.set()
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        await hub.stop()
        await asyncio.gather(elector, return_exceptions=True)
        await audit.stop()
        database.dispose()

    on_stop.insert(0, shutdown)
    device = DeviceEndpoint(servicer.sessions, settings.device_limits(), settings.device_http2)

    async def report_replicas() -> None:
        jobs.append(asyncio.create_task(_report_replicas(server, hub), name="badge-replicas-health"))

    async def start_device() -> None:
        await device.start(settings.host, settings.device_port if device_port is None else device_port)

    async def stop_device() -> None:
        await device.stop(settings.shutdown_grace_s)

    on_stop.insert(0, stop_device)
    server = GrpcServer(
        settings,
        [
            (badge_pb2_grpc.add_BadgeServiceServicer_to_server, servicer),
            (audit_pb2_grpc.add_AuditServiceServicer_to_server, AuditServicer(audit)),
        ],
        [
            A.DESCRIPTOR.services_by_name["BadgeService"].full_name,
            "kuzet.common.v1.AuditService",
        ],
        port=port,
        on_start=[start_device, report_replicas],
        on_stop=on_stop,
    )
    return BadgeApp(settings, database, store, hub, evidence, server, device, jobs, jobs_lock)


async def build(settings: BadgeSettings) -> GrpcServer:
    return (await build_app(settings)).server


async def _run() -> None:
    await run_service(BadgeSettings, build)


SPEC = ServiceSpec(name="badge", default_port=BadgeSettings.default_port, run=_run, order=40)
