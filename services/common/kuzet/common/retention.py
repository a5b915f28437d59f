"""Retention jobs: delete what has been kept long enough, in bounded batches, never what is held.

A service hands :class:`Retention` one :class:`RetentionJob` per kind of item it keeps. The jobs run
periodically on exactly one replica: the one holding the service's retention Lease
(:func:`kuzet.common.dblease.open_lease_lock`, a row in the service's own database, on one
machine and on Kubernetes alike), and a job checks it still holds the Lease before each batch.
Each batch is one transaction that first takes the holds lock
(:func:`kuzet.common.holds.lock_holds`), so a hold placed while a batch runs either lands before
it (and the batch keeps its items) or after it.

What a run deleted is recorded in the audit log as counts per agency (never contents); the audit
log itself is never pruned. The last run of each job is readable through HoldService's
GetRetentionStatus, as OpenTelemetry gauges (``kuzet.retention.*``) and as the gRPC health of
``kuzet.common.v1.HoldService/retention`` (NOT_SERVING while a job's last run failed here).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from grpc_health.v1 import health_pb2
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation
from pydantic import Field

from kuzet.common.audit import AuditLog
from kuzet.common.config import ServiceSettings
from kuzet.common.db import Database
from kuzet.common.dblease import open_lease_lock
from kuzet.common.errors import NotFound
from kuzet.common.holds import HeldItem, Hold, held
from kuzet.common.k8s import TRANSIENT_ERRORS, LeaderElector, LeaseLock, pod_identity
from kuzet.common.objectstore import ObjectStore
from kuzet.common.timeutil import to_timestamp, utcnow
from kuzet.common.v1 import holds_pb2
from kuzet.common.waiting import within

log = logging.getLogger(__name__)
ACTOR = "system:retention"
# gRPC health name: NOT_SERVING while the last run of a job on this replica failed.
HEALTH_NAME = f"{holds_pb2.DESCRIPTOR.services_by_name['HoldService'].full_name}/retention"


@dataclass(frozen=True)
class RetentionPolicy:
    """How long one kind of item is kept: a default and per-agency overrides (days)."""

    days: float
    agency_days: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for agency, days in {"(default)": self.days, **self.agency_days}.items():
            if not days > 0:
                raise ValueError(f"retention for agency {agency} must be a positive number of days")

    def cutoff(self, agency: str, now: datetime) -> datetime:
        """Items of ``agency`` made before this are due."""
        return now - timedelta(days=self.agency_days.get(agency, self.days))

    def earliest_cutoff(self, now: datetime) -> datetime:
        """The latest moment any agency's items may be due (the longest a query must look back)."""
        return now - timedelta(days=min([self.days, *self.agency_days.values()]))


class RetainingSettings(ServiceSettings):
    """Settings every service with retention jobs has (``KUZET_<SERVICE>_RETENTION_*``); the
    services add ``retention_<kind>_days`` and ``retention_<kind>_agency_days`` per kind."""

    retention_interval_s: float = Field(default=3600.0, gt=0, description="how often retention runs")
    retention_batch: int = Field(
        default=500, ge=1, le=10_000, description="items examined per retention transaction"
    )
    retention_lease_s: float = Field(
        default=30.0, ge=3, description="lease that lets one replica at a time run retention"
    )
    hold_release_ttl_s: float = Field(
        default=86400.0,
        gt=0,
        description="how long a first legal-hold release request waits for a second person",
    )


def agency_days_setting(values: dict[str, float]) -> dict[str, float]:
    """Validator of a per-agency ``*_AGENCY_DAYS`` setting (a JSON object: agency -> days)."""
    for agency, days in values.items():
        if not days > 0:
            raise ValueError(f"retention for agency {agency} must be a positive number of days")
    return values


def delete_objects(
    objects: ObjectStore, keys: Iterable[str], loop: asyncio.AbstractEventLoop, timeout_s: float = 120
) -> None:
    """Delete ``keys`` from a worker thread inside a retention transaction (one already gone is
    fine); a failure raises, so the transaction rolls back and the next run tries again."""
    for key in keys:
        with contextlib.suppress(NotFound):
            asyncio.run_coroutine_threadsafe(objects.delete(key), loop).result(timeout=timeout_s)


@dataclass
class Batch:
    """What one batch did. ``cursor`` is where the next batch starts; None when nothing is left."""

    deleted: dict[str, int] = field(default_factory=dict)
    kept_by_hold: dict[str, int] = field(default_factory=dict)
    cursor: Any = None

    def count(self, into: dict[str, int], agency: str) -> None:
        into[agency] = into.get(agency, 0) + 1

    def settle(self, agency: str, item: HeldItem, holds: Iterable[Hold]) -> bool:
        """Whether an item past its time goes: not while a hold of its own agency covers it.
        Counted either way."""
        if held((h for h in holds if h.agency == agency), item):
            self.count(self.kept_by_hold, agency)
            return False
        self.count(self.deleted, agency)
        return True

    def done(self) -> Batch:
        self.cursor = None
        return self


# sweep(now, cursor, limit): examine at most ``limit`` items past ``cursor`` that retention may be
# due for, delete the due ones no hold covers, and say where to go on.
Sweep = Callable[[datetime, Any, int], Awaitable[Batch]]


@dataclass
class RunStatus:
    started_at: datetime | None = None
    finished_at: datetime | None = None
    deleted: int = 0
    kept_by_hold: int = 0
    error: str = ""


@dataclass
class RetentionJob:
    kind: str
    sweep: Sweep
    status: RunStatus = field(default_factory=RunStatus)


class Retention:
    """A service's retention jobs, run by whichever of its replicas holds the retention Lease."""

    def __init__(
        self,
        service: str,
        jobs: Iterable[RetentionJob],
        *,
        database: Database,
        audit: AuditLog,
        interval_s: float,
        batch_size: int,
        identity: str | None = None,
        lease_duration_s: float = 30.0,
        lock: LeaseLock | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._health: Any = None
        self.service = service
        self.jobs = list(jobs)
        self.audit = audit
        self.interval_s = interval_s
        self.batch_size = batch_size
        # The Lease lives in the service's own database on Kubernetes too: every replica reaches
        # it, and services that hold no other Lease need no API access for this one.
        self.lock = lock or open_lease_lock(
            f"kuzet-{service}-retention",
            database=database,
            identity=identity or pod_identity(),
            lease_duration_s=lease_duration_s,
            backend="database",
        )

    @property
    def running_here(self) -> bool:
        return self.lock.is_leader

    @property
    def healthy(self) -> bool:
        """False while the last run of any job on this replica failed."""
        return not any(job.status.error for job in self.jobs)

    async def report_to(self, health: Any) -> None:
        """Keep HEALTH_NAME of a grpc_health HealthServicer true to the last runs (from now on)."""
        self._health = health
        await self._report()

    async def _report(self) -> None:
        if self._health is not None:
            status = health_pb2.HealthCheckResponse
            await self._health.set(HEALTH_NAME, status.SERVING if self.healthy else status.NOT_SERVING)

    async def run_once(self, now: datetime | None = None) -> dict[str, int] | None:
        """Run every job once if this replica holds the Lease: {kind: deleted}; None otherwise."""
        if not self.lock.is_leader:
            return None
        done = {job.kind: await self._run_job(job, now or utcnow()) for job in self.jobs}
        await self._report()
        return done

    async def _run_job(self, job: RetentionJob, now: datetime) -> int:
        status = RunStatus(started_at=utcnow())
        job.status = status
        deleted: dict[str, int] = {}
        kept: dict[str, int] = {}
        cursor: Any = None
        try:
            while self.lock.is_leader:
                batch = await job.sweep(now, cursor, self.batch_size)
                for into, counts in ((deleted, batch.deleted), (kept, batch.kept_by_hold)):
                    for agency, n in counts.items():
                        into[agency] = into.get(agency, 0) + n
                if batch.cursor is None:
                    break
                cursor = batch.cursor
            else:
                status.error = "stopped: this replica no longer holds the retention lease"
        except Exception as exc:
            status.error = f"{type(exc).__name__}: {exc}"
            log.exception("retention of %s failed", job.kind, extra={"service": self.service})
        status.deleted, status.kept_by_hold = sum(deleted.values()), sum(kept.values())
        for agency in sorted(set(deleted) | set(kept)):
            await self.audit.record(
                "retention.delete",
                job.kind,
                "ok" if not status.error else f"error: {status.error}"[:256],
                details={
                    "deleted": deleted.get(agency, 0),
                    "kept_by_hold": kept.get(agency, 0),
                    "as_of": now.isoformat(),
                },
                agency=agency,
                actor=ACTOR,
            )
        status.finished_at = utcnow()
        if status.deleted or status.error:
            log.info(
                "retention of %s: %d deleted, %d kept by a legal hold%s",
                job.kind,
                status.deleted,
                status.kept_by_hold,
                f" ({status.error})" if status.error else "",
                extra={"service": self.service},
            )
        return status.deleted

    async def _lead(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self.interval_s)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Contend for the Lease until ``stop``; while holding it, run the jobs every interval."""
        elector = LeaderElector(self.lock, on_started_leading=self._lead)
        await elector.run(stop)

    def to_proto(self) -> list[holds_pb2.RetentionRun]:
        out = []
        for job in self.jobs:
            s = job.status
            run = holds_pb2.RetentionRun(
                kind=job.kind,
                running_here=self.running_here,
                deleted=s.deleted,
                kept_by_hold=s.kept_by_hold,
                error=s.error,
            )
            if s.started_at is not None:
                run.last_started_at.CopyFrom(to_timestamp(s.started_at))
            if s.finished_at is not None:
                run.last_finished_at.CopyFrom(to_timestamp(s.finished_at))
            out.append(run)
        return out

    def register_metrics(self, provider: metrics.MeterProvider | None = None) -> None:
        """Gauges per job, read at each export: last run's deletions, holds, failure and age."""
        meter = metrics.get_meter("kuzet.retention", meter_provider=provider)
        replica = pod_identity()

        def gauge(read: Callable[[RetentionJob], float]) -> Callable[[CallbackOptions], list[Observation]]:
            def observe(_options: CallbackOptions) -> list[Observation]:
                return [
                    Observation(read(job), {"service": self.service, "kind": job.kind, "replica": replica})
                    for job in self.jobs
                    if job.status.finished_at is not None
                ]

            return observe

        meter.create_observable_gauge(
            "kuzet.retention.deleted", [gauge(lambda j: j.status.deleted)], unit="items"
        )
        meter.create_observable_gauge(
            "kuzet.retention.kept_by_hold", [gauge(lambda j: j.status.kept_by_hold)], unit="items"
        )
        meter.create_observable_gauge(
            "kuzet.retention.failed", [gauge(lambda j: 1 if j.status.error else 0)], unit="1"
        )
        meter.create_observable_gauge(
            "kuzet.retention.last_run_age_s",
            [
                gauge(
                    lambda j: (utcnow() - j.status.finished_at).total_seconds() if j.status.finished_at else 0
                )
            ],
            unit="s",
        )


async def start(retention: Retention) -> tuple[asyncio.Task[None], Callable[[], Awaitable[None]]]:
    """Run ``retention`` in the background: (its task, a coroutine function that stops it)."""
    stop = asyncio.Event()
    task = asyncio.create_task(retention.run(stop), name=f"{retention.service}-retention")

    async def close() -> None:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, *TRANSIENT_ERRORS):
            await within(10, task)

    return task, close
