"""Wanted-vehicle records applied to one agency's hotlist, all or nothing, as one audited bulk
change.

Each record is keyed by (agency, feed, external id) and makes the hotlist entry (plate, source)
it names. Against what the last run of the feed left, a record is:

- unchanged (same fingerprint): nothing is written, so a re-run reports 0 changes;
- new: its entry is added (an entry already there for the same plate and source, typed in by
  hand, is replaced, as UpsertHotlistEntries would);
- changed: its entry follows the record; if the plate or source changed, the old entry expires;
- gone from a snapshot (the default mode): its entry expires now, kept readable beside its hits;
  the record coming back restores it.

A row the connector refused, a plate on two rows, or an entry another feed already imports
rejects the whole batch: nothing is written and every such row is reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from kuzet.common.audit import AuditLog
from kuzet.common.connectors.base import Batch, ImportReport, Plan, Rejection
from kuzet.common.connectors.reporting import AUDIT_LIST_LIMIT, append_audit, audit_details
from kuzet.common.db import Database
from kuzet.common.errors import FailedPrecondition
from kuzet.common.timeutil import utcnow
from kuzet.traffic.connectors.vehicles import WantedVehicle, plate_conflicts
from kuzet.traffic.models import HotlistImportRow
from kuzet.traffic.store import advisory_lock_key, expire_entry, put_entries

ACTION = "traffic.hotlist.import"


@dataclass(frozen=True)
class HotlistTarget:
    agency: str
    actor: str  # who runs the import: the audit record and each entry's created_by name them
    snapshot: bool = True  # the batch is the feed's whole list: entries not in it expire


@dataclass(frozen=True)
class _Link:
    plate: str
    source: str
    record_sha256: str  # "" once its entry expired for leaving a snapshot


_Plan = Plan[WantedVehicle, _Link]


class HotlistSink:
    def __init__(self, database: Database, audit: AuditLog, target: HotlistTarget) -> None:
        self.db = database
        self.audit = audit
        self.target = target

    async def failed(self, feed: str, source: str, error: str) -> ImportReport:
        report = ImportReport.source_failed(feed, source, error)
        await self.db.run(lambda s: self._audit(s, report, _Plan()))
        return report

    async def apply(self, batch: Batch[WantedVehicle]) -> ImportReport:
        links = await self.db.run(self._links, batch.feed)
        claimed = await self.db.run(self._claimed_by_other_feeds, batch.feed, batch.records)
        report = ImportReport.of_batch(batch, [*batch.rejected, *plate_conflicts(batch.records), *claimed])
        if report.rejected:
            await self.db.run(lambda s: self._audit(s, report, _Plan()))
            return report
        plan = self._plan(batch, links)
        report.outcome = "applied"
        report.added, report.updated = len(plan.adds), len(plan.updates)
        report.removed, report.unchanged = len(plan.removals), plan.unchanged
        await self.db.run(lambda s: self._write(s, report, plan, links, utcnow()))
        return report

    # -- reading and planning ---------------------------------------------------------------------

    def _links(self, s: Session, feed: str) -> dict[str, _Link]:
        rows = s.scalars(
            select(HotlistImportRow).where(
                HotlistImportRow.agency_id == self.target.agency, HotlistImportRow.feed == feed
            )
        )
        return {r.external_id: _Link(r.plate, r.source, r.record_sha256) for r in rows}

    def _claimed_by_other_feeds(
        self, s: Session, feed: str, records: Sequence[WantedVehicle]
    ) -> list[Rejection]:
        """Two feeds writing one entry would undo each other on every run: the second is refused."""
        wanted = {(r.entry.plate, r.entry.source): r for r in records}
        if not wanted:
            return []
        rows = s.execute(
            select(HotlistImportRow.plate, HotlistImportRow.source, HotlistImportRow.feed).where(
                HotlistImportRow.agency_id == self.target.agency,
                HotlistImportRow.feed != feed,
                HotlistImportRow.record_sha256 != "",
                HotlistImportRow.plate.in_(sorted({plate for plate, _ in wanted})),
            )
        )
        out = []
        for plate, source, other in rows:
            record = wanted.get((plate, source))
            if record is not None:
                out.append(
                    Rejection(
                        record.row,
                        record.external_id,
                        f"plate {plate} from {source!r} is already imported by feed {other!r}",
                    )
                )
        return out

    def _plan(self, batch: Batch[WantedVehicle], links: dict[str, _Link]) -> _Plan:
        plan = _Plan()
        for record in batch.records:
            link = links.get(record.external_id)
            if link is None:
                plan.adds.append(record)
            elif link.record_sha256 == record.fingerprint():
                plan.unchanged += 1
            else:
                plan.updates.append((record, link))
        if self.target.snapshot:
            listed = {r.external_id for r in batch.records}
            plan.removals = [
                (ext, link) for ext, link in sorted(links.items()) if ext not in listed and link.record_sha256
            ]
        return plan

    # -- writing --------------------------------------------------------------------------------

    def _write(
        self, s: Session, report: ImportReport, plan: _Plan, links: dict[str, _Link], now: datetime
    ) -> None:
        agency = self.target.agency
        if not self.db.is_sqlite:
            # Two imports of one feed take turns (SQLite's BEGIN IMMEDIATE already serialises them).
            s.execute(
                text("SELECT pg_advisory_xact_lock(:k)"),
                {"k": advisory_lock_key(f"kuzet-traffic-import:{agency}:{report.feed}")},
            )
        if self._links(s, report.feed) != links:
            raise FailedPrecondition(
                f"another import of feed {report.feed} changed agency {agency}'s hotlist meanwhile: "
                "run the import again"
            )
        if report.changes:
            for record, link in plan.updates:
                if (link.plate, link.source) != (record.entry.plate, record.entry.source):
                    expire_entry(s, agency, link.plate, link.source, now)
            changed = [*plan.adds, *(r for r, _ in plan.updates)]
            put_entries(s, agency, (r.entry for r in changed), self.target.actor, now)
            for record in changed:
                self._link(s, report, record, now)
            for external_id, link in plan.removals:
                expire_entry(s, agency, link.plate, link.source, now)
                row = s.get(HotlistImportRow, (agency, report.feed, external_id))
                assert row is not None  # the links were checked above, in this transaction
                row.record_sha256, row.run_id, row.updated_at = "", report.run_id, now
            s.flush()
        self._audit(s, report, plan)

    def _link(self, s: Session, report: ImportReport, record: WantedVehicle, now: datetime) -> None:
        s.merge(
            HotlistImportRow(
                agency_id=self.target.agency,
                feed=report.feed,
                external_id=record.external_id,
                plate=record.entry.plate,
                source=record.entry.source,
                record_sha256=record.fingerprint(),
                vehicle=record.vehicle,
                run_id=report.run_id,
                updated_at=now,
            )
        )

    def _audit(self, s: Session, report: ImportReport, plan: _Plan) -> None:
        details = audit_details(report, snapshot=self.target.snapshot)
        if report.outcome == "applied":
            details["count"] = report.changes
            details["added"] = [r.external_id for r in plan.adds][:AUDIT_LIST_LIMIT]
            details["updated"] = [r.external_id for r, _ in plan.updates][:AUDIT_LIST_LIMIT]
            details["expired"] = [ext for ext, _ in plan.removals][:AUDIT_LIST_LIMIT]
            plates = {r.entry.plate for r in plan.adds}
            plates |= {p for r, link in plan.updates for p in (r.entry.plate, link.plate)}
            plates |= {link.plate for _, link in plan.removals}
            details["plates"] = sorted(plates)[:AUDIT_LIST_LIMIT]
        append_audit(
            self.audit,
            s,
            ACTION,
            self.target.agency,
            report,
            details,
            agency=self.target.agency,
            actor=self.target.actor,
        )
