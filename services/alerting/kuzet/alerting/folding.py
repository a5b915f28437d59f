"""Publish folding: a batch of published events applied in one transaction (group commit).

Idempotency by event id, dedup of repeated events into one open alert within the site's
cool-down, resolution by resolving events, and the coalescing of one alert's folds into one
update of the log.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.orm import Session

from kuzet.alerting import domain, pgbulk
from kuzet.alerting.models import AlertRow, PublishedEventRow
from kuzet.alerting.updatelog import (
    WRITE_LOCK,
    Entry,
    enqueue_webhooks,
    insert_updates,
    is_pg,
    update_proto,
    update_rows,
)
from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.events import OVERSIGHT_TYPES
from kuzet.common.timeutil import as_utc
from kuzet.common.v1 import common_pb2

if TYPE_CHECKING:
    from kuzet.alerting.store import AlertStore

OPEN_STATES = (pb.ALERT_STATE_NEW, pb.ALERT_STATE_ACKNOWLEDGED)


@dataclass
class Incoming:
    """One event to publish with who sent it and the trace it belongs to."""

    event: common_pb2.Event
    actor: str
    traceparent: str


@dataclass
class PublishOutcome:
    event_id: str
    alert_id: str = ""
    disposition: int = pb.PUBLISH_DISPOSITION_UNSPECIFIED
    count: int = 0
    cursor: int = 0
    error: str = ""
    entry: Entry | None = field(default=None, repr=False)

    def to_result(self) -> pb.PublishResult:
        return pb.PublishResult(
            event_id=self.event_id,
            alert_id=self.alert_id,
            disposition=cast(pb.PublishDisposition, self.disposition),
            count=self.count,
            cursor=self.cursor,
            error=self.error,
        )


class PublishBatch:
    """State of one publish transaction: alerts touched so far and the updates to log."""

    def __init__(self, store: AlertStore, s: Session, now: datetime) -> None:
        self.store = store
        self.s = s
        self.now = now
        self.alerts: dict[str, dict[str, Any]] = {}
        self.new_ids: set[str] = set()
        self.dirty: set[str] = set()
        self.slots: dict[str, str] = {}
        self.entries: list[Entry] = []
        self.open_entry: dict[str, Entry] = {}
        self.seen: dict[tuple[str, str], PublishOutcome] = {}
        self.pg = is_pg(s)
        self.cursors: list[int] = []

    def preload(self, items: Sequence[Incoming]) -> None:
        """Two queries for the whole batch: known event ids and foldable alerts."""
        keys = [(i.event.agency_id, i.event.event_id) for i in items]
        p = PublishedEventRow
        dkeys = {domain.dedup_key(i.event) for i in items if not i.event.resolves}
        found: list[Any] = []
        if self.pg:
            # Resolves can log more than one update per event; more_cursors() covers that rare case.
            pre = pgbulk.preload(self.s, WRITE_LOCK, [k[1] for k in keys], list(dkeys), len(items) + 8)
            known, found, self.cursors = pre.known, pre.foldable, pre.cursors
        else:
            known = [
                dict(r)
                for r in self.s.execute(
                    select(p.agency_id, p.event_id, p.alert_id, p.count, p.cursor).where(
                        tuple_(p.event_id, p.agency_id).in_([(e, a) for a, e in keys])
                    )
                ).mappings()
            ]
        wanted = set(keys)
        for r in known:
            if (r["agency_id"], r["event_id"]) not in wanted:
                continue
            self.seen[(r["agency_id"], r["event_id"])] = PublishOutcome(
                r["event_id"], r["alert_id"], pb.PUBLISH_DISPOSITION_DUPLICATE, r["count"], r["cursor"]
            )
        if dkeys and not self.pg:
            found = list(
                self.s.execute(select(AlertRow.__table__).where(AlertRow.dedup_slot.in_(dkeys))).mappings()
            )
        for row in found:
            self.alerts[row["alert_id"]] = dict(row)
            self.slots[row["dedup_slot"]] = row["alert_id"]

    def apply(self, item: Incoming) -> PublishOutcome:
        return _apply(self, item)

    def flush(self, items: Sequence[Incoming], outcomes: list[PublishOutcome]) -> list[pb.AlertUpdate]:
        s = self.s
        for entry in self.entries:
            if entry.alert is None:
                entry.alert = self.store.to_proto(self.alerts[entry.alert_id], self.now)
        changed = [self.alerts[a] for a in self.dirty - self.new_ids]
        fresh = [self.alerts[a] for a in self.new_ids]
        log_rows = update_rows(self.entries, self.now)
        if self.pg:
            if len(self.cursors) < len(self.entries):
                self.cursors += pgbulk.more_cursors(s, len(self.entries) - len(self.cursors))
            self.store.allocation = (self.cursors[0], self.cursors[-1]) if self.cursors else (0, 0)
            for entry, row, cursor in zip(self.entries, log_rows, self.cursors, strict=False):
                entry.cursor = row["cursor"] = cursor
        else:
            if changed:
                # Releases of dedup slots must land before new alerts take the same slot.
                s.execute(update(AlertRow), changed)
            if fresh:
                s.execute(insert(AlertRow), fresh)
            if self.entries:
                self.store.allocation = insert_updates(s, self.entries, self.now)
        if self.entries:
            enqueue_webhooks(s, self.store.directory, self.entries, self.now)
        rows = []
        for item, out in zip(items, outcomes, strict=True):
            if out.entry is not None:
                out.cursor = out.entry.cursor
            if out.disposition in (pb.PUBLISH_DISPOSITION_DUPLICATE, pb.PUBLISH_DISPOSITION_REJECTED):
                continue  # a refused amendment may be sent again once its event is in
            rows.append(
                {
                    "agency_id": item.event.agency_id,
                    "event_id": item.event.event_id,
                    "alert_id": out.alert_id,
                    "disposition": out.disposition,
                    "count": out.count,
                    "cursor": out.cursor,
                    "type": item.event.type,
                    "received_at": self.now,
                }
            )
        if self.pg:
            pgbulk.write(s, changed, fresh, log_rows, rows)
        elif rows:
            s.execute(insert(PublishedEventRow), rows)
        return [update_proto(e, self.now) for e in self.entries]


def _apply(self: PublishBatch, item: Incoming) -> PublishOutcome:
    ev = item.event
    key = (ev.agency_id, ev.event_id)
    earlier = self.seen.get(key)
    if earlier is not None:
        return PublishOutcome(
            ev.event_id,
            earlier.alert_id,
            pb.PUBLISH_DISPOSITION_DUPLICATE,
            earlier.count,
            earlier.cursor,
            "",
            earlier.entry,
        )
    if ev.resolves:
        out = _resolve_by_event(self, item)
    elif ev.amends:
        out = _amend(self, item)
    else:
        out = _fold_or_create(self, item)
    self.seen[key] = out
    return out


def _entry_for(self: PublishBatch, row: dict[str, Any], kind: int, item: Incoming) -> Entry:
    """Folds of one alert within a transaction coalesce into one update (fan-out stays small)."""
    current = self.open_entry.get(row["alert_id"])
    if current is not None and kind == pb.ALERT_UPDATE_KIND_UPDATED:
        current.traceparent = item.traceparent
        return current
    entry = Entry(row["alert_id"], row["agency_id"], kind, item.actor, item.traceparent)
    self.entries.append(entry)
    self.open_entry[row["alert_id"]] = entry
    return entry


def _fold_or_create(self: PublishBatch, item: Incoming) -> PublishOutcome:
    ev = item.event
    occurred = domain.occurred_at(ev, self.now)
    dkey = domain.dedup_key(ev)
    severity = domain.effective_severity(ev)
    site = ev.source.site_id
    alert_id = self.slots.get(dkey)
    if alert_id is not None:
        row = self.alerts[alert_id]
        cooldown = self.store.cooldown(row["agency_id"], row["site_id"])
        first, last = as_utc(row["first_seen_at"]), as_utc(row["last_seen_at"])
        if first - cooldown <= occurred <= last + cooldown:
            row["count"] += 1
            if occurred >= last:
                row["last_seen_at"] = occurred
                row["latest"] = _evidence(ev)
                row["summary"] = ev.summary or row["summary"]
                row["zone_id"] = ev.zone_id or row["zone_id"]
            row["first_seen_at"] = min(first, occurred)
            row["severity"] = max(row["severity"], severity)
            row["priority"] = domain.priority(row["type"], row["severity"], row["escalation_level"])
            row["traceparent"] = item.traceparent or row["traceparent"]
            row["updated_at"] = self.now
            self.dirty.add(alert_id)
            entry = _entry_for(self, row, pb.ALERT_UPDATE_KIND_UPDATED, item)
            return PublishOutcome(
                ev.event_id, alert_id, pb.PUBLISH_DISPOSITION_FOLDED, row["count"], 0, "", entry
            )
        # Cool-down over: the old alert stays open for operators but no longer absorbs events.
        row["dedup_slot"] = None
        self.dirty.add(alert_id)
        del self.slots[dkey]
    # The site's duty roster and acknowledgement deadline are the overseen agency's own: an
    # oversight alert has no duty roles there and never escalates to them.
    cfg = None if ev.type in OVERSIGHT_TYPES else self.store.directory.site(ev.agency_id, site)
    timeout = cfg.ack_timeout_seconds if cfg else 0
    alert_id = str(uuid.uuid4())
    row = {
        "alert_id": alert_id,
        "agency_id": ev.agency_id,
        "site_id": site,
        "type": ev.type,
        "severity": severity,
        "priority": domain.priority(ev.type, severity, 0),
        "state": pb.ALERT_STATE_NEW,
        "count": 1,
        "first_seen_at": occurred,
        "last_seen_at": occurred,
        "source_kind": int(ev.source.kind),
        "source_id": ev.source.id,
        "source_name": ev.source.name,
        "rule_id": ev.rule_id,
        "subject": ev.subject,
        "zone_id": ev.zone_id,
        "dedup_key": dkey,
        "dedup_slot": dkey,
        "latest": _evidence(ev),
        "summary": ev.summary,
        "acknowledged_by": "",
        "acknowledged_at": None,
        "resolved_by": "",
        "resolved_at": None,
        "outcome": 0,
        "note": "",
        "escalation_level": 0,
        "ack_deadline": self.now + timedelta(seconds=timeout) if timeout else None,
        "duty_roles": domain.duty_roles(cfg, severity, 0, occurred),
        "traceparent": item.traceparent,
        "updated_at": self.now,
    }
    self.alerts[alert_id] = row
    self.slots[dkey] = alert_id
    self.new_ids.add(alert_id)
    entry = _entry_for(self, row, pb.ALERT_UPDATE_KIND_CREATED, item)
    return PublishOutcome(ev.event_id, alert_id, pb.PUBLISH_DISPOSITION_CREATED, 1, 0, "", entry)


def _resolve_by_event(self: PublishBatch, item: Incoming) -> PublishOutcome:
    ev = item.event
    types = domain.resolved_types(ev.type)

    def matches(row: dict[str, Any]) -> bool:
        return (
            row["agency_id"] == ev.agency_id
            and row["source_id"] == ev.source.id
            and row["rule_id"] == ev.rule_id
            and row["subject"] == ev.subject
            and row["type"] in types
            and row["state"] in OPEN_STATES
        )

    t = AlertRow
    for found in self.s.execute(
        select(t.__table__).where(
            t.agency_id == ev.agency_id,
            t.source_id == ev.source.id,
            t.rule_id == ev.rule_id,
            t.subject == ev.subject,
            t.type.in_(types),
            t.state.in_(OPEN_STATES),
        )
    ).mappings():
        self.alerts.setdefault(found["alert_id"], dict(found))
    targets = [row for row in self.alerts.values() if matches(row)]
    if not targets:
        return PublishOutcome(ev.event_id, "", pb.PUBLISH_DISPOSITION_NO_OPEN_ALERT, 0, 0)
    entry: Entry | None = None
    for row in targets:
        # The alert's pending update shows its state before the resolution.
        pending = self.open_entry.pop(row["alert_id"], None)
        if pending is not None and pending.alert is None:
            pending.alert = self.store.to_proto(row, self.now)
        row.update(
            state=pb.ALERT_STATE_RESOLVED,
            resolved_by=item.actor,
            resolved_at=self.now,
            outcome=pb.ALERT_OUTCOME_AUTO_RESOLVED,
            note=ev.summary or f"resolved by {ev.type}",
            ack_deadline=None,
            dedup_slot=None,
            updated_at=self.now,
        )
        if self.slots.get(row["dedup_key"]) == row["alert_id"]:
            del self.slots[row["dedup_key"]]
        self.dirty.add(row["alert_id"])
        entry = Entry(
            row["alert_id"], row["agency_id"], pb.ALERT_UPDATE_KIND_RESOLVED, item.actor, item.traceparent
        )
        entry.alert = self.store.to_proto(row, self.now)
        self.entries.append(entry)
        self.store.audit.append(
            "alert.resolve",
            row["alert_id"],
            details={"outcome": "AUTO_RESOLVED", "event_id": ev.event_id, "event_type": ev.type},
            agency=row["agency_id"],
            actor=item.actor,
            session=self.s,
        )
    first = targets[0]
    return PublishOutcome(
        ev.event_id, first["alert_id"], pb.PUBLISH_DISPOSITION_RESOLVED, first["count"], 0, "", entry
    )


def _amend(self: PublishBatch, item: Incoming) -> PublishOutcome:
    """Later media for an occurrence already published (the clip that now covers the seconds
    after it too): they replace the occurrence's own, and their attributes join its, while it is
    the alert's latest; the alert's count and times stay."""
    ev = item.event
    original = self.seen.get((ev.agency_id, ev.amends))
    alert_id = original.alert_id if original is not None else None
    if original is None:
        p = PublishedEventRow
        alert_id = self.s.execute(
            select(p.alert_id).where(p.agency_id == ev.agency_id, p.event_id == ev.amends)
        ).scalar()
    if not alert_id:
        return _refused(
            ev, f"amends event {ev.amends}, which opened or joined no alert of agency {ev.agency_id}"
        )
    row = self.alerts.get(alert_id)
    if row is None:
        found = (
            self.s.execute(select(AlertRow.__table__).where(AlertRow.alert_id == alert_id)).mappings().one()
        )
        row = self.alerts[alert_id] = dict(found)
    if row["source_id"] != ev.source.id or row["type"] != ev.type:
        return _refused(
            ev, f"amends event {ev.amends} of another source or type ({row['source_id']}, {row['type']})"
        )
    latest = pb.AlertEvidence.FromString(bytes(row["latest"]))
    entry: Entry | None = None
    if latest.event_id == ev.amends:
        media = [name for name in ("snapshot", "clip") if ev.HasField(name)]
        for name in media:
            getattr(latest, name).CopyFrom(getattr(ev, name))
        latest.attributes.MergeFrom(ev.attributes)  # what the new media cover (e.g. clip_after_s)
        row["latest"] = latest.SerializeToString()
        row["updated_at"] = self.now
        self.dirty.add(alert_id)
        entry = _entry_for(self, row, pb.ALERT_UPDATE_KIND_UPDATED, item)
        self.store.audit.append(
            "alert.evidence_added",
            alert_id,
            details={
                "event_id": ev.amends,
                "by_event_id": ev.event_id,
                **{
                    name: {"key": getattr(ev, name).key, "sha256": getattr(ev, name).sha256} for name in media
                },
            },
            agency=row["agency_id"],
            actor=item.actor,
            session=self.s,
        )
    return PublishOutcome(ev.event_id, alert_id, pb.PUBLISH_DISPOSITION_AMENDED, row["count"], 0, "", entry)


def _refused(ev: common_pb2.Event, why: str) -> PublishOutcome:
    return PublishOutcome(
        ev.event_id, "", pb.PUBLISH_DISPOSITION_REJECTED, 0, 0, f"event {ev.event_id}: {why}"
    )


def _evidence(event: common_pb2.Event) -> bytes:
    ev = pb.AlertEvidence(
        event_id=event.event_id,
        boxes=event.boxes,
        track_ids=event.track_ids,
        summary=event.summary,
    )
    for name in ("occurred_at", "snapshot", "clip", "location", "attributes"):
        if event.HasField(name):
            getattr(ev, name).CopyFrom(getattr(event, name))
    return ev.SerializeToString()
