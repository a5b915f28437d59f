"""Retention of the snapshots and clips ingest stores (KUZET_INGEST_RETENTION_OBJECT_*).

Their keys name agency, camera and the moment of the frame
(``snapshots|clips/<agency>/<camera>/<YYYY>/<MM>/<DD>/<HHMMSS>-<seq>-<kind>.<ext>``), so the job
needs no table: a run lists the two prefixes once, keeps the keys older than the shortest
retention, and deletes them in batches. A legal hold of kind ``ingest.object`` keeps an object by
its key (item_id) or every object of a camera (source_id) over a time range. Alerts and face
matches point at these objects: hold them here to keep the pictures of a held alert or match.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from kuzet.common.audit import AuditLog
from kuzet.common.db import Database
from kuzet.common.holds import HeldItem, Holds, lock_holds
from kuzet.common.objectstore import ObjectStore
from kuzet.common.retention import Batch, Retention, RetentionJob, RetentionPolicy, delete_objects
from kuzet.ingest.config import IngestSettings

HOLD_KIND = "ingest.object"
HOLD_KINDS = {HOLD_KIND: "camera snapshots and clips in the object store, by key or camera and time"}
PREFIXES = ("snapshots/", "clips/")
_KEY = re.compile(
    r"^(?:snapshots|clips)/(?P<agency>[^/]+)/(?P<camera>[^/]+)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<t>\d{6})-[^/]*$"
)


@dataclass(frozen=True)
class StoredObject:
    key: str
    agency: str
    camera: str
    at: datetime


def parse_key(key: str) -> StoredObject | None:
    """What a snapshot or clip key says; None for any other key (never deleted by this job)."""
    m = _KEY.match(key)
    if m is None:
        return None
    try:
        at = datetime.strptime(f"{m['y']}{m['m']}{m['d']}{m['t']}", "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return StoredObject(key, m["agency"], m["camera"], at)


class ObjectRetention:
    def __init__(
        self, database: Database, objects: ObjectStore, holds: Holds, policy: RetentionPolicy
    ) -> None:
        self.database = database
        self.objects = objects
        self.holds = holds
        self.policy = policy
        self._due: list[StoredObject] = []

    async def _list_due(self, now: datetime) -> list[StoredObject]:
        horizon = self.policy.earliest_cutoff(now)
        found = []
        for prefix in PREFIXES:
            for key in await self.objects.list(prefix):
                item = parse_key(key)
                if item is not None and item.at < horizon:
                    found.append(item)
        return sorted(found, key=lambda o: o.key)

    async def sweep(self, now: datetime, cursor: Any, limit: int) -> Batch:
        if cursor is None:
            self._due = await self._list_due(now)
            cursor = 0
        start: int = cursor
        chunk = self._due[start : start + limit]
        loop = asyncio.get_running_loop()

        def work(session: Session) -> Batch:
            # The hold check and the deletes share one transaction with the holds lock, so a
            # hold placed meanwhile lands before this batch (and keeps its objects) or after it.
            lock_holds(session)
            holds = self.holds.active(session, HOLD_KIND)
            end = start + len(chunk)
            batch = Batch(cursor=end if end < len(self._due) else None)
            doomed = []
            for obj in chunk:
                if obj.at >= self.policy.cutoff(obj.agency, now):
                    continue
                item = HeldItem(obj.key, source_id=obj.camera, at=obj.at)
                if batch.settle(obj.agency, item, holds):
                    doomed.append(obj.key)
            delete_objects(self.objects, doomed, loop)
            return batch

        return await self.database.run(work)


def build_retention(
    settings: IngestSettings, database: Database, audit: AuditLog, objects: ObjectStore, holds: Holds
) -> Retention:
    policy = RetentionPolicy(settings.retention_object_days, settings.retention_object_agency_days)
    job = ObjectRetention(database, objects, holds, policy)
    return Retention(
        "ingest",
        [RetentionJob(HOLD_KIND, job.sweep)],
        database=database,
        audit=audit,
        interval_s=settings.retention_interval_s,
        batch_size=settings.retention_batch,
        identity=settings.replica_id,
        lease_duration_s=settings.retention_lease_s,
    )
