"""Retention of face-match review cases and the probe images searches stored with them.

Two jobs, each with a default and per-agency overrides (KUZET_IDENTITY_RETENTION_*):

- ``identity.probe``: a match's probe image (the face that was searched) is deleted from the
  object store once the match is older than the probe retention; the match keeps its record,
  with the probe reference cleared as erasure does.
- ``identity.match``: the match record and its reviews are deleted once older than the match
  retention (with its probe image, if still kept). The audit trail of the search and of every
  review stays: the audit log is never pruned.

A legal hold of kind ``identity.match`` keeps both: by match id (item_id), by the id of the event
the match raised (case_id), or by source (camera) over the time the face was seen. The camera
snapshot a match points to belongs to ingest and follows ingest's retention.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kuzet.common.audit import AuditLog
from kuzet.common.db import Database
from kuzet.common.holds import HeldItem, Holds, lock_holds
from kuzet.common.objectstore import ObjectStore
from kuzet.common.retention import Batch, Retention, RetentionJob, RetentionPolicy, delete_objects
from kuzet.common.timeutil import as_utc
from kuzet.identity.config import IdentitySettings
from kuzet.identity.models import MatchRow, ReviewRow

HOLD_KIND = "identity.match"
HOLD_KINDS = {HOLD_KIND: "face-match review cases and their probe images"}


def _held_item(row: MatchRow) -> HeldItem:
    return HeldItem(row.match_id, case_id=row.event_id, source_id=row.source_id, at=row.occurred_at)


class MatchRetention:
    def __init__(
        self,
        database: Database,
        objects: ObjectStore,
        holds: Holds,
        probes: RetentionPolicy,
        matches: RetentionPolicy,
    ) -> None:
        self.database = database
        self.objects = objects
        self.holds = holds
        self.probes = probes
        self.matches = matches

    def _due(
        self,
        session: Session,
        policy: RetentionPolicy,
        now: datetime,
        cursor: Any,
        limit: int,
        *,
        probes_only: bool,
    ) -> list[MatchRow]:
        query = select(MatchRow).where(MatchRow.created_at < policy.earliest_cutoff(now))
        if probes_only:
            query = query.where(MatchRow.probe_key != "")
        if cursor is not None:
            query = query.where(MatchRow.match_id > cursor)
        return list(session.scalars(query.order_by(MatchRow.match_id).limit(limit)))

    async def _sweep(self, now: datetime, cursor: Any, limit: int, *, probes_only: bool) -> Batch:
        loop = asyncio.get_running_loop()
        policy = self.probes if probes_only else self.matches

        def work(session: Session) -> Batch:
            lock_holds(session)
            holds = self.holds.active(session, HOLD_KIND)
            rows = self._due(session, policy, now, cursor, limit, probes_only=probes_only)
            batch = Batch(cursor=rows[-1].match_id if len(rows) == limit else None)
            keys: set[str] = set()
            for row in rows:
                if as_utc(row.created_at) >= policy.cutoff(row.agency_id, now):
                    continue
                if not batch.settle(row.agency_id, _held_item(row), holds):
                    continue
                if row.probe_key:
                    keys.add(row.probe_key)
                if probes_only:
                    row.probe_key, row.probe_sha256, row.probe_size, row.probe_content_type = "", "", 0, ""
                else:
                    session.execute(delete(ReviewRow).where(ReviewRow.match_id == row.match_id))
                    session.delete(row)
            session.flush()
            # One probe image serves every candidate of a search: it goes with the last match using it.
            still_used = set(session.scalars(select(MatchRow.probe_key).where(MatchRow.probe_key.in_(keys))))
            # Inside the transaction: a failed delete rolls the batch back, the next run retries.
            delete_objects(self.objects, sorted(keys - still_used), loop)
            return batch

        return await self.database.run(work)

    async def sweep_probes(self, now: datetime, cursor: Any, limit: int) -> Batch:
        return await self._sweep(now, cursor, limit, probes_only=True)

    async def sweep_matches(self, now: datetime, cursor: Any, limit: int) -> Batch:
        return await self._sweep(now, cursor, limit, probes_only=False)


def build_retention(
    settings: IdentitySettings,
    database: Database,
    audit: AuditLog,
    objects: ObjectStore,
    holds: Holds,
    *,
    identity: str | None = None,
) -> Retention:
    jobs = MatchRetention(
        database,
        objects,
        holds,
        probes=RetentionPolicy(settings.retention_probe_days, settings.retention_probe_agency_days),
        matches=RetentionPolicy(settings.retention_match_days, settings.retention_match_agency_days),
    )
    return Retention(
        "identity",
        [
            RetentionJob("identity.probe", jobs.sweep_probes),
            RetentionJob("identity.match", jobs.sweep_matches),
        ],
        database=database,
        audit=audit,
        interval_s=settings.retention_interval_s,
        batch_size=settings.retention_batch,
        identity=identity,
        lease_duration_s=settings.retention_lease_s,
    )
