"""Retention of observations (KUZET_TRAFFIC_RETENTION_OBSERVATION_*): a plate read is personal data.

An observation older than its agency's retention is deleted with its hotlist hits; a legal hold of
kind ``traffic.observation`` keeps it (by observation id, or by camera over a time range). The lane
counts hold no plate and stay; the audit trail of every search and hotlist change stays. Snapshots
and plate crops are ingest's objects and follow ingest's retention.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kuzet.common.audit import AuditLog
from kuzet.common.db import Database
from kuzet.common.holds import HeldItem, Holds, lock_holds
from kuzet.common.retention import Batch, Retention, RetentionJob, RetentionPolicy
from kuzet.traffic.config import TrafficSettings
from kuzet.traffic.models import HotlistHitRow, ObservationRow

HOLD_KIND = "traffic.observation"
HOLD_KINDS = {HOLD_KIND: "vehicle observations (plate reads) with their hotlist hits"}


def _us(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


class ObservationRetention:
    def __init__(self, database: Database, holds: Holds, policy: RetentionPolicy) -> None:
        self.database = database
        self.holds = holds
        self.policy = policy

    async def sweep(self, now: datetime, cursor: Any, limit: int) -> Batch:
        def work(session: Session) -> Batch:
            lock_holds(session)
            holds = self.holds.active(session, HOLD_KIND)
            o = ObservationRow
            query = select(o.observation_id, o.agency_id, o.camera_id, o.observed_at_us).where(
                o.observed_at_us < _us(self.policy.earliest_cutoff(now))
            )
            if cursor is not None:
                query = query.where(o.observation_id > cursor)
            rows = session.execute(query.order_by(o.observation_id).limit(limit)).all()
            batch = Batch(cursor=rows[-1].observation_id if len(rows) == limit else None)
            doomed: list[str] = []
            for row in rows:
                if row.observed_at_us >= _us(self.policy.cutoff(row.agency_id, now)):
                    continue
                at = datetime.fromtimestamp(row.observed_at_us / 1_000_000, UTC)
                item = HeldItem(row.observation_id, source_id=row.camera_id, at=at)
                if batch.settle(row.agency_id, item, holds):
                    doomed.append(row.observation_id)
            if doomed:
                session.execute(delete(HotlistHitRow).where(HotlistHitRow.observation_id.in_(doomed)))
                session.execute(delete(o).where(o.observation_id.in_(doomed)))
            return batch

        return await self.database.run(work)


def build_retention(
    settings: TrafficSettings,
    database: Database,
    audit: AuditLog,
    holds: Holds,
    *,
    identity: str | None = None,
) -> Retention:
    policy = RetentionPolicy(settings.retention_observation_days, settings.retention_observation_agency_days)
    job = ObservationRetention(database, holds, policy)
    return Retention(
        "traffic",
        [RetentionJob(HOLD_KIND, job.sweep)],
        database=database,
        audit=audit,
        interval_s=settings.retention_interval_s,
        batch_size=settings.retention_batch,
        identity=identity,
        lease_duration_s=settings.retention_lease_s,
    )
