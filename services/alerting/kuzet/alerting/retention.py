"""Retention of alerts (KUZET_ALERTING_RETENTION_ALERT_*): an alert untouched for longer than its
agency's retention is deleted with its update log and event ids; a legal hold of kind
``alerting.alert`` keeps it (by alert id, or by source, e.g. a camera, over the time the alert was
first seen). The audit trail of every acknowledgement and resolution stays.

The camera snapshot an alert points to is ingest's object and follows ingest's retention (hold it
there, kind ``ingest.object``, by camera and time). The short-lived de-duplication state (update
log, event ids, webhook deliveries) keeps its own, shorter ``KUZET_ALERTING_RETENTION_DAYS``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kuzet.alerting.config import AlertingSettings
from kuzet.alerting.models import AlertRow, AlertUpdateRow, PublishedEventRow
from kuzet.common.audit import AuditLog
from kuzet.common.db import Database
from kuzet.common.holds import HeldItem, Holds, lock_holds
from kuzet.common.retention import Batch, Retention, RetentionJob, RetentionPolicy
from kuzet.common.timeutil import as_utc

HOLD_KIND = "alerting.alert"
HOLD_KINDS = {HOLD_KIND: "alerts with their update history"}


class AlertRetention:
    def __init__(self, database: Database, holds: Holds, policy: RetentionPolicy, lock: Any) -> None:
        self.database = database
        self.holds = holds
        self.policy = policy
        # The alerting writers' own lock: a batch never deletes an alert a writer is folding into.
        self.lock = lock

    async def sweep(self, now: datetime, cursor: Any, limit: int) -> Batch:
        def work(session: Session) -> Batch:
            self.lock(session)
            lock_holds(session)
            holds = self.holds.active(session, HOLD_KIND)
            query = select(
                AlertRow.alert_id,
                AlertRow.agency_id,
                AlertRow.source_id,
                AlertRow.first_seen_at,
                AlertRow.updated_at,
            ).where(AlertRow.updated_at < self.policy.earliest_cutoff(now))
            if cursor is not None:
                query = query.where(AlertRow.alert_id > cursor)
            rows = session.execute(query.order_by(AlertRow.alert_id).limit(limit)).all()
            batch = Batch(cursor=rows[-1].alert_id if len(rows) == limit else None)
            doomed: list[str] = []
            for row in rows:
                if as_utc(row.updated_at) >= self.policy.cutoff(row.agency_id, now):
                    continue
                item = HeldItem(row.alert_id, source_id=row.source_id, at=row.first_seen_at)
                if batch.settle(row.agency_id, item, holds):
                    doomed.append(row.alert_id)
            if doomed:
                session.execute(delete(AlertUpdateRow).where(AlertUpdateRow.alert_id.in_(doomed)))
                session.execute(delete(PublishedEventRow).where(PublishedEventRow.alert_id.in_(doomed)))
                session.execute(delete(AlertRow).where(AlertRow.alert_id.in_(doomed)))
            return batch

        return await self.database.run(work)


def build_retention(
    settings: AlertingSettings,
    database: Database,
    audit: AuditLog,
    holds: Holds,
    writer_lock: Any,
    *,
    identity: str | None = None,
) -> Retention:
    policy = RetentionPolicy(settings.retention_alert_days, settings.retention_alert_agency_days)
    job = AlertRetention(database, holds, policy, writer_lock)
    return Retention(
        "alerting",
        [RetentionJob("alerting.alert", job.sweep)],
        database=database,
        audit=audit,
        interval_s=settings.retention_interval_s,
        batch_size=settings.retention_batch,
        identity=identity,
        lease_duration_s=settings.retention_lease_s,
    )
