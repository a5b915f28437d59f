"""The alerting process: storage, writer, background jobs and the gRPC server (`kuzet serve alerting`)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from kuzet.alerting.config import AlertingSettings
from kuzet.alerting.fanout import Hub
from kuzet.alerting.mqtt import MqttPublisher
from kuzet.alerting.oversight import Oversight
from kuzet.alerting.pipeline import Pipeline
from kuzet.alerting.retention import HOLD_KINDS, build_retention
from kuzet.alerting.service import AlertingServicer
from kuzet.alerting.store import AlertStore
from kuzet.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from kuzet.alerting.webhooks import WebhookWorker
from kuzet.common.audit import open_audit_log
from kuzet.common.auditservice import AuditServicer
from kuzet.common.db import Database, migrate
from kuzet.common.grpcserver import GrpcServer, ServiceSpec
from kuzet.common.holds import Holds
from kuzet.common.holdservice import SERVICE_NAME as HOLD_SERVICE_NAME
from kuzet.common.holdservice import add_hold_service
from kuzet.common.runner import run_service
from kuzet.common.timeutil import utcnow
from kuzet.common.v1 import audit_pb2, audit_pb2_grpc

log = logging.getLogger(__name__)
PRUNE_EVERY_S = 3600.0


class Alerting:
    """Everything the service runs, reachable by in-process tests."""

    def __init__(self, settings: AlertingSettings) -> None:
        self.settings = settings
        self.database = Database(settings.effective_database_url)
        if not self.database.is_sqlite and settings.pg_synchronous_commit != "on":
            _set_synchronous_commit(self.database, settings.pg_synchronous_commit)
        migrate(self.database, "kuzet.alerting.migrations")
        self.audit = open_audit_log(settings, self.database)
        self.store = AlertStore(self.database, self.audit, default_cooldown_s=settings.cooldown_s)
        self.store.load_directory()
        self.hub = Hub(settings.subscriber_queue)
        self.pipeline = Pipeline(
            self.store, self.hub, max_batch=settings.max_batch, max_queue=settings.max_queue
        )
        self.webhooks = WebhookWorker(
            self.store,
            timeout_s=settings.webhook_timeout_s,
            max_attempts=settings.webhook_max_attempts,
            poll_s=settings.webhook_poll_s,
        )
        self.pipeline.listeners.append(self.webhooks.notify)
        self.mqtt: MqttPublisher | None = None
        if settings.mqtt_url:
            self.mqtt = MqttPublisher(settings.mqtt_url, settings.mqtt_topic_prefix)
            self.pipeline.listeners.append(self.mqtt.notify)
        self.oversight = Oversight(settings.oversight_agencies, self.audit)
        self.pipeline.listeners.append(self.oversight.warn_unrouted)
        self.servicer = AlertingServicer(settings, self.store, self.pipeline, self.hub, self.oversight)
        self.holds = Holds(self.database, self.audit, HOLD_KINDS, release_ttl_s=settings.hold_release_ttl_s)
        self.retention = build_retention(settings, self.database, self.audit, self.holds, self.store._lock)
        self._retention: asyncio.Task[None] | None = None
        self._escalation: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.audit.start()
        self.pipeline.start()
        self.webhooks.start()
        self._escalation = asyncio.create_task(self._escalate_forever(), name="alerting-escalation")
        self._retention = asyncio.create_task(self.retention.run(), name="alerting-retention")
        if self.settings.replica_poll_s > 0:
            self._poller = asyncio.create_task(self._poll_forever(), name="alerting-replica-poll")

    async def stop(self) -> None:
        for task in (self._escalation, self._poller, self._retention):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.pipeline.stop()
        await self.webhooks.stop()
        if self.mqtt is not None:
            self.mqtt.close()
        await self.audit.stop()
        self.database.dispose()

    async def escalate_once(self) -> list[alerting_pb2.AlertUpdate]:
        return await self.pipeline.write(self.store.escalate_due, utcnow())

    async def _poll_forever(self) -> None:
        """Other replicas' commits reach this replica's streams; their config changes its cache."""
        loop = asyncio.get_running_loop()
        reloaded = loop.time()
        while True:
            await asyncio.sleep(self.settings.replica_poll_s)
            try:
                await self.pipeline.poll_other_writers()
                if loop.time() - reloaded >= self.settings.config_reload_s:
                    await asyncio.to_thread(self.store.load_directory)
                    reloaded = loop.time()
            except Exception:
                log.exception("reading other replicas' updates failed")

    async def prune_once(self) -> dict[str, int]:
        before = utcnow() - timedelta(days=self.settings.retention_days)
        return await asyncio.to_thread(self.store.prune, before)

    async def _escalate_forever(self) -> None:
        loop = asyncio.get_running_loop()
        pruned = loop.time()
        while True:
            await asyncio.sleep(self.settings.escalation_interval_s)
            if loop.time() - pruned >= PRUNE_EVERY_S:
                pruned = loop.time()
                try:
                    counts = await self.prune_once()
                    log.info("pruned entries older than the retention: %s", counts)
                except Exception:
                    log.exception("pruning failed")
            try:
                updates = await self.escalate_once()
            except Exception:
                log.exception("escalation sweep failed")
                continue
            if updates:
                log.info("escalated %d unacknowledged alerts", len(updates))


def _set_synchronous_commit(database: Database, value: str) -> None:
    from sqlalchemy import event

    log.warning("PostgreSQL synchronous_commit=%s: a database crash may lose acknowledged events", value)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cur:
            cur.execute(f"SET synchronous_commit = {value}")  # value is one of a fixed set (settings)
        dbapi_connection.commit()

    event.listen(database.engine, "connect", on_connect)


async def build(settings: AlertingSettings, *, port: int | None = None) -> tuple[GrpcServer, Alerting]:
    app = Alerting(settings)
    await app.start()
    server = GrpcServer(
        settings,
        [
            (alerting_pb2_grpc.add_AlertingServiceServicer_to_server, app.servicer),
            (audit_pb2_grpc.add_AuditServiceServicer_to_server, AuditServicer(app.audit)),
            add_hold_service(app.holds, app.retention),
        ],
        [
            alerting_pb2.DESCRIPTOR.services_by_name["AlertingService"].full_name,
            audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name,
            HOLD_SERVICE_NAME,
        ],
        port=port,
        on_stop=[app.stop],
    )
    await app.retention.report_to(server.health)
    return server, app


async def _build_server(settings: AlertingSettings) -> GrpcServer:
    server, _ = await build(settings)
    return server


async def _run() -> None:
    await run_service(AlertingSettings, _build_server)


SPEC = ServiceSpec(name="alerting", default_port=50053, run=_run, order=20)
