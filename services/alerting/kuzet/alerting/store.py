"""Persistence of alerts: lifecycle transitions with audit, escalation, and the operators'
queries. Publishing folds its batches in ``kuzet.alerting.folding`` (group commit, idempotency
by event id, dedup), both write the update log through ``kuzet.alerting.updatelog``, and the
store's configuration (sites, shared routes, webhooks) is ``kuzet.alerting.configuration``.

Every method here is synchronous and runs on a worker thread; all writes go through one writer
at a time (``kuzet.alerting.pipeline``), and on PostgreSQL additionally take an advisory lock so
that cursor order equals commit order even if two replicas ever write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from kuzet.alerting import domain
from kuzet.alerting.configuration import Configuration
from kuzet.alerting.directory import Directory
from kuzet.alerting.folding import Incoming, PublishBatch, PublishOutcome
from kuzet.alerting.models import AlertRow, AlertUpdateRow
from kuzet.alerting.updatelog import (
    WRITE_LOCK,
    Entry,
    UpdateLog,
    enqueue_webhooks,
    insert_updates,
    row_update,
    update_proto,
)
from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.audit import AuditLog
from kuzet.common.caller import Caller
from kuzet.common.db import Database
from kuzet.common.errors import FailedPrecondition, InvalidArgument, NotFound
from kuzet.common.events import CONFIRMED_BY, OVERSIGHT_TYPES
from kuzet.common.paging import Keyset, descending
from kuzet.common.timeutil import from_timestamp, to_timestamp, utcnow
from kuzet.common.v1 import common_pb2

DEFAULT_MAX_ESCALATION = 3
_NEWEST_KEYS = Keyset("alerting.alerts.newest", descending(AlertRow.last_seen_at), AlertRow.alert_id)
_ORDER_KEYS: dict[int, Keyset] = {
    pb.ALERT_ORDER_PRIORITY: Keyset(
        "alerting.alerts.priority",
        descending(AlertRow.priority),
        descending(AlertRow.last_seen_at),
        AlertRow.alert_id,
    ),
    pb.ALERT_ORDER_OLDEST_FIRST: Keyset("alerting.alerts.oldest", AlertRow.first_seen_at, AlertRow.alert_id),
}


def alert_keys(order: int) -> Keyset:
    """ListAlerts' order as a keyset (newest seen first unless asked otherwise)."""
    return _ORDER_KEYS.get(order, _NEWEST_KEYS)


@dataclass
class Visibility:
    """Which alerts a caller may see: its own agency's plus those shared into it (None: all),
    less the hidden types, plus the oversight alerts of the agencies it ``oversees``."""

    agencies: set[str] | None
    routes: list[pb.SharedRoute]
    hidden_types: frozenset[str] = frozenset()
    oversees: frozenset[str] = frozenset()
    # The sites of its own agency the caller is limited to (empty: all of them).
    sites: frozenset[str] = frozenset()

    def allows(self, alert: pb.Alert, now: datetime) -> bool:
        if alert.type in OVERSIGHT_TYPES and alert.agency_id in self.oversees:
            return True
        if alert.type in self.hidden_types:
            return False
        if self.agencies is None:
            return True
        if alert.agency_id in self.agencies:
            return not self.sites or alert.site_id in self.sites
        return any(domain.route_matches(r, alert, now) for r in self.routes)

    def owners(self) -> set[str] | None:
        if self.agencies is None:
            return None
        return self.agencies | {r.owner_agency_id for r in self.routes} | self.oversees


class AlertStore(Configuration, UpdateLog):
    def __init__(self, database: Database, audit: AuditLog, *, default_cooldown_s: float = 300.0) -> None:
        self.db = database
        self.audit = audit
        self.default_cooldown = timedelta(seconds=default_cooldown_s)
        self.directory = Directory()
        # (first, last) cursor taken by the latest write transaction, used or not: lets the
        # writer tell its own unused cursors from updates committed by another replica.
        self.allocation: tuple[int, int] = (0, 0)

    def _lock(self, s: Session) -> None:
        if not self.db.is_sqlite:
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK})

    # ---------------------------------------------------------------- conversion

    def to_proto(self, row: dict[str, Any], now: datetime | None = None) -> pb.Alert:
        alert = pb.Alert(
            alert_id=row["alert_id"],
            agency_id=row["agency_id"],
            site_id=row["site_id"],
            type=row["type"],
            severity=row["severity"],
            priority=row["priority"],
            state=row["state"],
            count=row["count"],
            first_seen_at=to_timestamp(row["first_seen_at"]),
            last_seen_at=to_timestamp(row["last_seen_at"]),
            source=common_pb2.Source(
                kind=row["source_kind"], id=row["source_id"], site_id=row["site_id"], name=row["source_name"]
            ),
            rule_id=row["rule_id"],
            subject=row["subject"],
            zone_id=row["zone_id"],
            latest=pb.AlertEvidence.FromString(row["latest"]),
            acknowledged_by=row["acknowledged_by"],
            resolved_by=row["resolved_by"],
            outcome=row["outcome"],
            note=row["note"],
            escalation_level=row["escalation_level"],
            duty_roles=row["duty_roles"],
            traceparent=row["traceparent"],
            summary=row["summary"],
            updated_at=to_timestamp(row["updated_at"]),
        )
        for name in ("acknowledged_at", "resolved_at", "ack_deadline"):
            if row[name] is not None:
                getattr(alert, name).CopyFrom(to_timestamp(row[name]))
        alert.shared_with_agency_ids.extend(self.directory.shared_with(alert, now or utcnow()))
        return alert

    # ---------------------------------------------------------------- publish (group commit)

    def publish(self, items: Sequence[Incoming]) -> tuple[list[PublishOutcome], list[pb.AlertUpdate]]:
        """Apply ``items`` in order in ONE transaction; results are final once this returns."""
        self.allocation = (0, 0)
        with self.db.session() as s:
            batch = PublishBatch(self, s, utcnow())
            if not batch.pg:
                self._lock(s)
            batch.preload(items)
            outcomes = [batch.apply(item) for item in items]
            updates = batch.flush(items, outcomes)
        return outcomes, updates

    # ---------------------------------------------------------------- lifecycle

    def acknowledge(self, alert_id: str, caller: Caller, note: str, traceparent: str) -> pb.AlertUpdate:
        def change(s: Session, row: dict[str, Any], now: datetime) -> int:
            if row["state"] == pb.ALERT_STATE_RESOLVED:
                raise FailedPrecondition(f"alert {alert_id} is already resolved")
            if row["state"] == pb.ALERT_STATE_ACKNOWLEDGED:
                raise FailedPrecondition(
                    f"alert {alert_id} was already acknowledged by {row['acknowledged_by']}"
                )
            row.update(state=pb.ALERT_STATE_ACKNOWLEDGED, acknowledged_by=caller.subject, acknowledged_at=now)
            row["ack_deadline"] = None
            if note:
                row["note"] = note
            return pb.ALERT_UPDATE_KIND_ACKNOWLEDGED

        return self._transition(alert_id, caller, traceparent, "alert.acknowledge", change, {"note": note})

    def resolve(
        self, alert_id: str, caller: Caller, outcome: int, note: str, traceparent: str
    ) -> pb.AlertUpdate:
        if outcome == pb.ALERT_OUTCOME_UNSPECIFIED or outcome not in pb.AlertOutcome.values():
            raise InvalidArgument("outcome is required (ACTION_TAKEN, NO_ACTION_NEEDED, FALSE_ALARM, ...)")

        def change(s: Session, row: dict[str, Any], now: datetime) -> int:
            if row["state"] == pb.ALERT_STATE_RESOLVED:
                raise FailedPrecondition(f"alert {alert_id} was already resolved by {row['resolved_by']}")
            domain.require_confirmed_to_resolve(row["type"], outcome, lambda: _confirmed(s, row), alert_id)
            row.update(
                state=pb.ALERT_STATE_RESOLVED, resolved_by=caller.subject, resolved_at=now, outcome=outcome
            )
            row.update(ack_deadline=None, dedup_slot=None)
            if note:
                row["note"] = note
            return pb.ALERT_UPDATE_KIND_RESOLVED

        details = {"outcome": pb.AlertOutcome.Name(outcome), "note": note}
        return self._transition(alert_id, caller, traceparent, "alert.resolve", change, details)

    def _transition(
        self,
        alert_id: str,
        caller: Caller,
        traceparent: str,
        action: str,
        change: Any,
        details: dict[str, Any],
    ) -> pb.AlertUpdate:
        self.allocation = (0, 0)
        with self.db.session() as s:
            self._lock(s)
            found = _alert_row(s, alert_id)
            if found is None:
                raise NotFound(f"alert {alert_id} not found")
            row = dict(found)
            if (
                (row["agency_id"] != caller.agency and not caller.has_role("service"))
                or row["type"] in domain.hidden_types(caller)
                or not caller.sees_site(row["agency_id"], row["site_id"])
            ):
                # Shared agencies see alerts but the owner acts on them; do not confirm existence.
                raise NotFound(f"alert {alert_id} not found")
            if row["type"] in OVERSIGHT_TYPES:
                # Nobody may acknowledge an oversight alert away, services included.
                raise FailedPrecondition(f"alert {alert_id} is an oversight alert: its state does not change")
            now = utcnow()
            kind = change(s, row, now)
            row["updated_at"] = now
            row["priority"] = domain.priority(row["type"], row["severity"], row["escalation_level"])
            s.execute(update(AlertRow), [row])
            entry = Entry(
                alert_id, row["agency_id"], kind, caller.subject, traceparent, self.to_proto(row, now)
            )
            self.allocation = insert_updates(s, [entry], now)
            self.audit.append(
                action, alert_id, details=details, agency=row["agency_id"], actor=caller.subject, session=s
            )
            enqueue_webhooks(s, self.directory, [entry], now)
            return update_proto(entry, now)

    def escalate_due(self, now: datetime, limit: int = 200) -> list[pb.AlertUpdate]:
        """Raise the escalation level of unacknowledged alerts past their deadline and re-notify."""
        self.allocation = (0, 0)
        with self.db.session() as s:
            self._lock(s)
            rows = [
                dict(r)
                for r in s.execute(
                    select(AlertRow.__table__)
                    .where(AlertRow.ack_deadline <= now, AlertRow.state == pb.ALERT_STATE_NEW)
                    .order_by(AlertRow.ack_deadline)
                    .limit(limit)
                ).mappings()
            ]
            entries = []
            for row in rows:
                cfg = self.directory.site(row["agency_id"], row["site_id"])
                level = row["escalation_level"] + 1
                max_level = (cfg.max_escalation_level if cfg else 0) or DEFAULT_MAX_ESCALATION
                timeout = cfg.ack_timeout_seconds if cfg else 0
                row["escalation_level"] = level
                row["ack_deadline"] = (
                    now + timedelta(seconds=timeout) if timeout and level < max_level else None
                )
                row["duty_roles"] = domain.duty_roles(cfg, row["severity"], level, now) or row["duty_roles"]
                row["priority"] = domain.priority(row["type"], row["severity"], level)
                row["updated_at"] = now
                entries.append(
                    Entry(
                        row["alert_id"],
                        row["agency_id"],
                        pb.ALERT_UPDATE_KIND_ESCALATED,
                        "system",
                        row["traceparent"],
                        self.to_proto(row, now),
                    )
                )
                self.audit.append(
                    "alert.escalate",
                    row["alert_id"],
                    details={"level": level, "roles": row["duty_roles"]},
                    agency=row["agency_id"],
                    actor="system",
                    session=s,
                )
            if rows:
                s.execute(update(AlertRow), rows)
                self.allocation = insert_updates(s, entries, now)
                enqueue_webhooks(s, self.directory, entries, now)
        return [update_proto(e, now) for e in entries]

    # ---------------------------------------------------------------- queries

    def get(self, alert_id: str, vis: Visibility, history: bool) -> tuple[pb.Alert, list[pb.AlertUpdate]]:
        now = utcnow()
        with self.db.session() as s:
            found = _alert_row(s, alert_id)
            alert = self.to_proto(dict(found), now) if found else None
            if alert is None or not vis.allows(alert, now):
                raise NotFound(f"alert {alert_id} not found")
            updates = []
            if history:
                rows = s.execute(
                    select(AlertUpdateRow)
                    .where(AlertUpdateRow.alert_id == alert_id)
                    .order_by(AlertUpdateRow.cursor)
                ).scalars()
                updates = [row_update(r) for r in rows]
        return alert, updates

    def list_alerts(
        self,
        vis: Visibility,
        f: pb.AlertFilter,
        states: Sequence[int],
        since: datetime | None,
        until: datetime | None,
        order: int,
        after: tuple[Any, ...] | None,
        size: int,
    ) -> tuple[list[pb.Alert], str]:
        """One page of alerts in ``order`` after the keys ``after``, and the next page's token."""
        now = utcnow()
        t = AlertRow
        conds: list[ColumnElement[bool]] = []
        scopes: list[ColumnElement[bool]] = []
        if vis.agencies is not None:
            own = t.agency_id.in_(vis.agencies)
            scopes.append(and_(own, t.site_id.in_(vis.sites)) if vis.sites else own)
            for r in vis.routes:
                part: list[ColumnElement[bool]] = [
                    t.agency_id == r.owner_agency_id,
                    t.severity >= r.min_severity,
                    t.type.not_in(domain.INTERNAL_ONLY_TYPES),
                ]
                if r.site_ids:
                    part.append(t.site_id.in_(list(r.site_ids)))
                if r.types:
                    part.append(t.type.in_(list(r.types)))
                scopes.append(and_(*part))
        visible = [or_(*scopes)] if scopes else []
        if vis.hidden_types:
            visible.append(t.type.not_in(vis.hidden_types))
        if vis.oversees and visible:
            overseen = and_(t.agency_id.in_(vis.oversees), t.type.in_(OVERSIGHT_TYPES))
            visible = [or_(and_(*visible), overseen)]
        conds.extend(visible)
        if f.site_ids:
            conds.append(t.site_id.in_(list(f.site_ids)))
        if f.min_severity:
            conds.append(t.severity >= f.min_severity)
        if f.types:
            conds.append(t.type.in_(list(f.types)))
        if f.source_ids:
            conds.append(t.source_id.in_(list(f.source_ids)))
        if states:
            conds.append(t.state.in_(list(states)))
        if since is not None:
            conds.append(t.last_seen_at >= since)
        if until is not None:
            conds.append(t.first_seen_at < until)
        query = select(t.__table__).where(*conds)
        keys = alert_keys(order)
        found: list[tuple[RowMapping, pb.Alert]] = []
        # duty_roles lives in a JSON column: filtered here rather than per dialect, so reading
        # goes on past rows the filter drops until the page and one more alert are found.
        batch = size + 50 if f.duty_roles else size
        with self.db.session() as s:
            while len(found) <= size:
                rows = s.execute(keys.query(query, after, batch)).mappings().all()
                for row in rows:
                    alert = self.to_proto(dict(row), now)
                    if not f.duty_roles or domain.filter_matches(f, alert):
                        found.append((row, alert))
                if len(rows) <= batch:
                    break
                after = keys.values(rows[-1])
        page, token = keys.page(found, size, key_of=lambda pair: pair[0])
        return [alert for _, alert in page], token


def _alert_row(s: Session, alert_id: str) -> RowMapping | None:
    return s.execute(select(AlertRow.__table__).where(AlertRow.alert_id == alert_id)).mappings().first()


def _confirmed(s: Session, row: dict[str, Any]) -> bool:
    """Whether the confirmation of a review-gated candidate arrived: an alert of the confirming
    type with the candidate's (opaque, per-match) subject in the same agency."""
    if not row["subject"]:
        return False
    found = s.execute(
        select(AlertRow.alert_id)
        .where(
            AlertRow.agency_id == row["agency_id"],
            AlertRow.type == CONFIRMED_BY[row["type"]],
            AlertRow.subject == row["subject"],
        )
        .limit(1)
    ).first()
    return found is not None


def since_until(req: pb.ListAlertsRequest) -> tuple[datetime | None, datetime | None]:
    since = from_timestamp(req.since) if req.HasField("since") else None
    until = from_timestamp(req.until) if req.HasField("until") else None
    return since, until


__all__ = ["AlertStore", "Visibility", "since_until"]
