"""The identity process: database, object store, indexes loaded from the database and kept in
step with it by the change feed, the channel to inference, the event sink to alerting, and the
gRPC server (`kuzet serve identity`)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2

from kuzet.common.audit import AuditLog, open_audit_log
from kuzet.common.auditservice import SERVICE_NAME as AUDIT_SERVICE_NAME
from kuzet.common.auditservice import add_audit_service
from kuzet.common.caller import service_caller
from kuzet.common.config import Endpoints
from kuzet.common.db import Database, migrate
from kuzet.common.eventsink import EventSink
from kuzet.common.grpcclient import open_channel
from kuzet.common.grpcserver import GrpcServer, ServiceSpec
from kuzet.common.holds import Holds
from kuzet.common.holdservice import SERVICE_NAME as HOLD_SERVICE_NAME
from kuzet.common.holdservice import add_hold_service
from kuzet.common.inference.client import InferenceClient
from kuzet.common.k8s import pod_identity
from kuzet.common.objectstore import ObjectStore, open_object_store
from kuzet.common.retention import Retention
from kuzet.common.runner import run_service
from kuzet.common.timeutil import utcnow
from kuzet.identity import metrics
from kuzet.identity.config import IdentitySettings
from kuzet.identity.faces import InferenceFaces, QualityBar
from kuzet.identity.registry import Registry
from kuzet.identity.replication import ChangeFeed
from kuzet.identity.retention import HOLD_KINDS, build_retention
from kuzet.identity.service import IdentityServicer
from kuzet.identity.v1 import identity_pb2, identity_pb2_grpc
from kuzet.identity.vectorindex import IndexParams, configure_threads
from kuzet.identity.watchlists import enforce_watchlist_rules

log = logging.getLogger(__name__)

SERVICE_NAME = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name
# gRPC health name that is SERVING while this replica's indexes are current with the database.
# The service itself stays SERVING when they are not: searches stay correct (checked against
# the database) and only miss enrolments made in the last moments.
REPLICATION_HEALTH = "kuzet.identity.replication"


@dataclass
class Identity:
    """Everything the service runs, reachable by in-process tests."""

    settings: IdentitySettings
    database: Database
    audit: AuditLog
    objects: ObjectStore
    registry: Registry
    changes: ChangeFeed
    servicer: IdentityServicer
    inference_channel: grpc.aio.Channel
    events: EventSink | None

    retention: Retention | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def sweep_expired(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                dropped = await asyncio.to_thread(self.registry.drop_expired, utcnow())
            except Exception:
                log.exception("expiry sweep failed")
                continue
            if dropped:
                log.info("expired entries dropped from the indexes", extra={"people": dropped})

    async def report_replication(self, server: GrpcServer, interval_s: float) -> None:
        """Keep REPLICATION_HEALTH true to the change feed; log every change of state."""
        current: bool | None = None
        while True:
            status = self.changes.status()
            if status.current != current:
                await server.health.set(
                    REPLICATION_HEALTH,
                    health_pb2.HealthCheckResponse.SERVING
                    if status.current
                    else health_pb2.HealthCheckResponse.NOT_SERVING,
                )
                level = logging.INFO if status.current else logging.WARNING
                log.log(
                    level,
                    "identity indexes %s",
                    status.describe(),
                    extra={
                        "replica": pod_identity(),
                        "applied_seq": status.applied_seq,
                        "listening": status.listening,
                    },
                )
                current = status.current
            await asyncio.sleep(interval_s)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.events is not None:
            await self.events.close(drain_timeout_s=2.0)
        await self.inference_channel.close()
        await self.audit.stop()
        self.database.dispose()


async def build(
    settings: IdentitySettings,
    *,
    port: int | None = None,
    endpoints: Endpoints | None = None,
    objects: ObjectStore | None = None,
) -> tuple[GrpcServer, Identity]:
    """The service, not yet started; migrations applied and indexes loaded."""
    endpoints = endpoints or Endpoints()
    configure_threads(settings.search_threads)
    database = Database(settings.effective_database_url)
    await asyncio.to_thread(migrate, database, "kuzet.identity.migrations")
    audit = await asyncio.to_thread(open_audit_log, settings, database)
    fixed = await asyncio.to_thread(
        enforce_watchlist_rules, database, audit, settings.watchlist_max_days, utcnow()
    )
    if fixed:
        log.warning(
            "watchlists brought under the expiry and reviewer rules (audited)", extra={"galleries": fixed}
        )
    store = objects or open_object_store(settings.effective_object_store_url)
    # Calls to inference forward the caller of the RPC being served (and its trace).
    channel = open_channel(endpoints.inference, audience="inference", max_message_mb=settings.max_message_mb)
    faces = InferenceFaces(
        InferenceClient(channel),
        QualityBar.of(settings),
    )
    events: EventSink | None = None
    if settings.publish_events:
        events = EventSink(endpoints.alerting, caller=service_caller("identity"))
        await events.start()
    registry = Registry(IndexParams(exact_limit=settings.exact_search_limit))
    changes = ChangeFeed(
        database,
        registry,
        poll_s=settings.change_poll_s,
        listen=settings.change_listen,
        behind_after_s=settings.behind_after_s,
    )
    servicer = IdentityServicer(settings, database, audit, store, faces, registry, changes, events)
    started = time.monotonic()
    loaded = await asyncio.to_thread(changes.load_all)
    log.info(
        "identity indexes loaded from the database",
        extra={
            "embeddings": loaded,
            "seconds": round(time.monotonic() - started, 2),
            "applied_seq": changes.applied_seq,
        },
    )
    app = Identity(settings, database, audit, store, registry, changes, servicer, channel, events)
    metrics.register(changes)
    holds = Holds(database, audit, HOLD_KINDS, release_ttl_s=settings.hold_release_ttl_s)
    app.retention = build_retention(settings, database, audit, store, holds)
    app.retention.register_metrics()
    server = GrpcServer(
        settings,
        [
            (identity_pb2_grpc.add_IdentityServiceServicer_to_server, servicer),
            add_audit_service(audit),
            add_hold_service(holds, app.retention),
        ],
        [SERVICE_NAME, AUDIT_SERVICE_NAME, HOLD_SERVICE_NAME],
        port=port,
        on_stop=[app.stop],
    )
    await app.retention.report_to(server.health)
    app.tasks = [
        asyncio.create_task(app.sweep_expired(settings.expiry_sweep_s), name="identity-expiry"),
        asyncio.create_task(changes.run(), name="identity-changes"),
        asyncio.create_task(
            app.report_replication(server, settings.change_poll_s), name="identity-replication-health"
        ),
        asyncio.create_task(app.retention.run(), name="identity-retention"),
    ]
    await audit.start()
    return server, app


async def _build_server(settings: IdentitySettings) -> GrpcServer:
    server, _ = await build(settings)
    return server


async def _run() -> None:
    await run_service(IdentitySettings, _build_server)


SPEC = ServiceSpec(name="identity", default_port=IdentitySettings.default_port, run=_run, order=30)
