"""Persistence of alerts: one transaction per batch of publishes (group commit), the update log,
idempotency by event id, dedup, lifecycle transitions with audit, and the operators' queries.

Every method here is synchronous and runs on a worker thread; all writes go through one writer
at a time (``kuzet.alerting.pipeline``), and on PostgreSQL additionally take an advisory lock so
that cursor order equals commit order even if two replicas ever write.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, delete, false, insert, or_, select, text, tuple_, update
from sqlalchemy.engine import CursorResult, RowMapping
from sqlalchemy.orm import Session

from kuzet.alerting import domain, pgbulk
from kuzet.alerting.directory import Directory, WebhookTarget
from kuzet.alerting.models import (
    AlertRow,
    AlertUpdateRow,
    PublishedEventRow,
    SharedRouteRow,
    SiteConfigRow,
    WebhookDeliveryRow,
    WebhookRow,
    row_dict,
)
from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.audit import AuditLog
from kuzet.common.caller import Caller
from kuzet.common.db import Database
from kuzet.common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from kuzet.common.events import CONFIRMED_BY
from kuzet.common.paging import Keyset, descending
from kuzet.common.timeutil import as_utc, from_timestamp, to_timestamp, utcnow
from kuzet.common.v1 import common_pb2

_WRITE_LOCK = 0x616C657274  # "alert": serialises alerting writers on PostgreSQL
OPEN_STATES = (pb.ALERT_STATE_NEW, pb.ALERT_STATE_ACKNOWLEDGED)
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
class Incoming:
    """One event to publish with who sent it and the trace it belongs to."""

    event: common_pb2.Event
    actor: str
    traceparent: str


@dataclass
class _Entry:
    """An update of this transaction; ``alert`` is filled ("sealed") from the final row state."""

    alert_id: str
    agency_id: str
    kind: int
    actor: str
    traceparent: str
    alert: pb.Alert | None = None
    cursor: int = 0


@dataclass
class PublishOutcome:
    event_id: str
    alert_id: str = ""
    disposition: int = pb.PUBLISH_DISPOSITION_UNSPECIFIED
    count: int = 0
    cursor: int = 0
    error: str = ""
    entry: _Entry | None = field(default=None, repr=False)

    def to_result(self) -> pb.PublishResult:
        return pb.PublishResult(
            event_id=self.event_id,
            alert_id=self.alert_id,
            disposition=cast(pb.PublishDisposition, self.disposition),
            count=self.count,
            cursor=self.cursor,
            error=self.error,
        )


@dataclass
class Visibility:
    """Which alerts a caller may see: its own agency's plus those shared into it (None: all)."""

    agencies: set[str] | None
    routes: list[pb.SharedRoute]
    hidden_types: frozenset[str] = frozenset()

    def allows(self, alert: pb.Alert, now: datetime) -> bool:
        if alert.type in self.hidden_types:
            return False
        if self.agencies is None or alert.agency_id in self.agencies:
            return True
        return any(domain.route_matches(r, alert, now) for r in self.routes)

    def owners(self) -> set[str] | None:
        if self.agencies is None:
            return None
        return self.agencies | {r.owner_agency_id for r in self.routes}


class AlertStore:
    def __init__(self, database: Database, audit: AuditLog, *, default_cooldown_s: float = 300.0) -> None:
        self.db = database
        self.audit = audit
        self.default_cooldown = timedelta(seconds=default_cooldown_s)
        self.directory = Directory()
        # (first, last) cursor taken by the latest write transaction, used or not: lets the
        # writer tell its own unused cursors from updates committed by another replica.
        self.allocation: tuple[int, int] = (0, 0)

    # ---------------------------------------------------------------- configuration cache

    def load_directory(self) -> None:
        d = Directory()
        with self.db.session() as s:
            for row in s.execute(select(SiteConfigRow)).scalars():
                d.sites[(row.agency_id, row.site_id)] = pb.SiteConfig.FromString(row.config)
            for rrow in s.execute(select(SharedRouteRow).where(SharedRouteRow.deleted == false())).scalars():
                d.routes[rrow.route_id] = pb.SharedRoute.FromString(rrow.route)
            for wrow in s.execute(select(WebhookRow).where(WebhookRow.deleted == false())).scalars():
                d.webhooks[wrow.webhook_id] = WebhookTarget(pb.Webhook.FromString(wrow.webhook), wrow.secret)
        self.directory = d

    def _lock(self, s: Session) -> None:
        if not self.db.is_sqlite:
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _WRITE_LOCK})

    def _cooldown(self, agency: str, site: str) -> timedelta:
        cfg = self.directory.site(agency, site)
        if cfg is not None and cfg.cooldown_seconds > 0:
            return timedelta(seconds=cfg.cooldown_seconds)
        return self.default_cooldown

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

    @staticmethod
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

    # ---------------------------------------------------------------- publish (group commit)

    def publish(self, items: Sequence[Incoming]) -> tuple[list[PublishOutcome], list[pb.AlertUpdate]]:
        """Apply ``items`` in order in ONE transaction; results are final once this returns."""
        self.allocation = (0, 0)
        with self.db.session() as s:
            batch = _Batch(self, s, utcnow())
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
            found = (
                s.execute(select(AlertRow.__table__).where(AlertRow.alert_id == alert_id)).mappings().first()
            )
            if found is None:
                raise NotFound(f"alert {alert_id} not found")
            row = dict(found)
            if (row["agency_id"] != caller.agency and not caller.has_role("service")) or row[
                "type"
            ] in domain.hidden_types(caller):
                # Shared agencies see alerts but the owner acts on them; do not confirm existence.
                raise NotFound(f"alert {alert_id} not found")
            now = utcnow()
            kind = change(s, row, now)
            row["updated_at"] = now
            row["priority"] = domain.priority(row["type"], row["severity"], row["escalation_level"])
            s.execute(update(AlertRow), [row])
            entry = _Entry(
                alert_id, row["agency_id"], kind, caller.subject, traceparent, self.to_proto(row, now)
            )
            self.allocation = _insert_updates(s, [entry], now)
            self.audit.append(
                action, alert_id, details=details, agency=row["agency_id"], actor=caller.subject, session=s
            )
            _enqueue_webhooks(s, self.directory, [entry], now)
            return _update_proto(entry, now)

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
                    _Entry(
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
                self.allocation = _insert_updates(s, entries, now)
                _enqueue_webhooks(s, self.directory, entries, now)
        return [_update_proto(e, now) for e in entries]

    # ---------------------------------------------------------------- queries

    def get(self, alert_id: str, vis: Visibility, history: bool) -> tuple[pb.Alert, list[pb.AlertUpdate]]:
        now = utcnow()
        with self.db.session() as s:
            found = (
                s.execute(select(AlertRow.__table__).where(AlertRow.alert_id == alert_id)).mappings().first()
            )
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
                updates = [_row_update(r) for r in rows]
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
        if vis.agencies is not None:
            scopes: list[ColumnElement[bool]] = [t.agency_id.in_(vis.agencies)]
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
            conds.append(or_(*scopes))
        if vis.hidden_types:
            conds.append(t.type.not_in(vis.hidden_types))
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

    def updates_after(self, cursor: int, owners: set[str] | None, limit: int) -> list[pb.AlertUpdate]:
        query = select(AlertUpdateRow).where(AlertUpdateRow.cursor > cursor)
        if owners is not None:
            query = query.where(AlertUpdateRow.agency_id.in_(owners))
        with self.db.session() as s:
            rows = s.execute(query.order_by(AlertUpdateRow.cursor).limit(limit)).scalars().all()
            return [_row_update(r) for r in rows]

    def prune(self, before: datetime) -> dict[str, int]:
        """Drop log entries, event ids and finished webhook deliveries older than ``before``.

        Alerts themselves stay (they are the record operators search). A retried publish older
        than the retention is no longer recognised as a duplicate: producers retry for minutes,
        not months.
        """
        with self.db.session() as s:

            def deleted(statement: Any) -> int:
                return int(cast(CursorResult[Any], s.execute(statement)).rowcount or 0)

            counts = {
                "alert_updates": deleted(delete(AlertUpdateRow).where(AlertUpdateRow.recorded_at < before)),
                "published_events": deleted(
                    delete(PublishedEventRow).where(PublishedEventRow.received_at < before)
                ),
                "webhook_deliveries": deleted(
                    delete(WebhookDeliveryRow).where(
                        WebhookDeliveryRow.status != "pending", WebhookDeliveryRow.next_attempt_at < before
                    )
                ),
            }
        return counts

    def min_cursor(self) -> int:
        """The oldest cursor still in the log (0 when empty)."""
        with self.db.session() as s:
            value = s.execute(select(AlertUpdateRow.cursor).order_by(AlertUpdateRow.cursor).limit(1)).scalar()
        return int(value or 0)

    def max_cursor(self) -> int:
        with self.db.session() as s:
            value = s.execute(
                select(AlertUpdateRow.cursor).order_by(AlertUpdateRow.cursor.desc()).limit(1)
            ).scalar()
        return int(value or 0)

    def published_count(self) -> int:
        with self.db.session() as s:
            return int(s.execute(text("SELECT count(*) FROM published_events")).scalar() or 0)

    # ---------------------------------------------------------------- configuration

    def put_site_config(self, cfg: pb.SiteConfig, caller: Caller) -> pb.SiteConfig:
        domain.validate_site_config(cfg)
        now = utcnow()
        with self.db.session() as s:
            values = {
                "agency_id": cfg.agency_id,
                "site_id": cfg.site_id,
                "config": cfg.SerializeToString(),
                "updated_by": caller.subject,
                "updated_at": now,
            }
            exists = s.get(SiteConfigRow, (cfg.agency_id, cfg.site_id))
            if exists is None:
                s.execute(insert(SiteConfigRow), [values])
            else:
                s.execute(update(SiteConfigRow), [values])
            self.audit.append(
                "alerting.site_config",
                f"{cfg.agency_id}/{cfg.site_id}",
                details={"duty": len(cfg.duty), "ack_timeout_seconds": cfg.ack_timeout_seconds},
                agency=cfg.agency_id,
                actor=caller.subject,
                session=s,
            )
        self.directory.sites[(cfg.agency_id, cfg.site_id)] = cfg
        return cfg

    def create_route(self, route: pb.SharedRoute, caller: Caller) -> pb.SharedRoute:
        route.route_id = str(uuid.uuid4())
        route.created_by = caller.subject
        route.created_at.CopyFrom(to_timestamp(utcnow()))
        with self.db.session() as s:
            s.add(
                SharedRouteRow(
                    route_id=route.route_id,
                    owner_agency_id=route.owner_agency_id,
                    target_agency_id=route.target_agency_id,
                    route=route.SerializeToString(),
                    deleted=False,
                )
            )
            self.audit.append(
                "alerting.share.create",
                route.route_id,
                details={
                    "target_agency": route.target_agency_id,
                    "sites": list(route.site_ids),
                    "types": list(route.types),
                    "reason": route.reason,
                },
                agency=route.owner_agency_id,
                actor=caller.subject,
                session=s,
            )
        self.directory.routes[route.route_id] = route
        return route

    def delete_route(self, route_id: str, caller: Caller, reason: str) -> None:
        route = self.directory.routes.get(route_id)
        if route is None or (route.owner_agency_id != caller.agency and not caller.has_role("service")):
            raise NotFound(f"shared route {route_id} not found")
        with self.db.session() as s:
            s.execute(update(SharedRouteRow).where(SharedRouteRow.route_id == route_id).values(deleted=True))
            self.audit.append(
                "alerting.share.delete",
                route_id,
                details={"target_agency": route.target_agency_id, "reason": reason},
                agency=route.owner_agency_id,
                actor=caller.subject,
                session=s,
            )
        self.directory.routes.pop(route_id, None)

    def create_webhook(self, hook: pb.Webhook, caller: Caller) -> pb.Webhook:
        secret = hook.secret
        hook.webhook_id = str(uuid.uuid4())
        hook.secret = ""
        hook.created_by = caller.subject
        hook.created_at.CopyFrom(to_timestamp(utcnow()))
        with self.db.session() as s:
            s.add(
                WebhookRow(
                    webhook_id=hook.webhook_id,
                    agency_id=hook.agency_id,
                    webhook=hook.SerializeToString(),
                    secret=secret,
                    deleted=False,
                )
            )
            # The URL may carry credentials: the audit keeps only the host.
            host = hook.url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
            self.audit.append(
                "alerting.webhook.create",
                hook.webhook_id,
                details={"host": host},
                agency=hook.agency_id,
                actor=caller.subject,
                session=s,
            )
        self.directory.webhooks[hook.webhook_id] = WebhookTarget(hook, secret)
        return hook

    def delete_webhook(self, webhook_id: str, caller: Caller) -> None:
        target = self.directory.webhooks.get(webhook_id)
        if target is None or (target.webhook.agency_id != caller.agency and not caller.has_role("service")):
            raise NotFound(f"webhook {webhook_id} not found")
        with self.db.session() as s:
            s.execute(update(WebhookRow).where(WebhookRow.webhook_id == webhook_id).values(deleted=True))
            self.audit.append(
                "alerting.webhook.delete",
                webhook_id,
                agency=target.webhook.agency_id,
                actor=caller.subject,
                session=s,
            )
        self.directory.webhooks.pop(webhook_id, None)

    def require_owner(self, caller: Caller, agency: str) -> None:
        if agency != caller.agency and not caller.has_role("service"):
            raise PermissionDenied(f"agency {caller.agency or '?'} may not configure agency {agency}")


class _Batch:
    """State of one publish transaction: alerts touched so far and the updates to log."""

    def __init__(self, store: AlertStore, s: Session, now: datetime) -> None:
        self.store = store
        self.s = s
        self.now = now
        self.alerts: dict[str, dict[str, Any]] = {}
        self.new_ids: set[str] = set()
        self.dirty: set[str] = set()
        self.slots: dict[str, str] = {}
        self.entries: list[_Entry] = []
        self.open_entry: dict[str, _Entry] = {}
        self.seen: dict[tuple[str, str], PublishOutcome] = {}
        self.pg = _is_pg(s)
        self.cursors: list[int] = []

    def preload(self, items: Sequence[Incoming]) -> None:
        """Two queries for the whole batch: known event ids and foldable alerts."""
        keys = [(i.event.agency_id, i.event.event_id) for i in items]
        p = PublishedEventRow
        dkeys = {domain.dedup_key(i.event) for i in items if not i.event.resolves}
        found: list[Any] = []
        if self.pg:
            # Resolves can log more than one update per event; more_cursors() covers that rare case.
            pre = pgbulk.preload(self.s, _WRITE_LOCK, [k[1] for k in keys], list(dkeys), len(items) + 8)
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
        log_rows = _update_rows(self.entries, self.now)
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
                self.store.allocation = _insert_updates(s, self.entries, self.now)
        if self.entries:
            _enqueue_webhooks(s, self.store.directory, self.entries, self.now)
        rows = []
        for item, out in zip(items, outcomes, strict=True):
            if out.entry is not None:
                out.cursor = out.entry.cursor
            if out.disposition == pb.PUBLISH_DISPOSITION_DUPLICATE:
                continue
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
        return [_update_proto(e, self.now) for e in self.entries]


def _apply(self: _Batch, item: Incoming) -> PublishOutcome:
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
    out = _resolve_by_event(self, item) if ev.resolves else _fold_or_create(self, item)
    self.seen[key] = out
    return out


def _entry_for(self: _Batch, row: dict[str, Any], kind: int, item: Incoming) -> _Entry:
    """Folds of one alert within a transaction coalesce into one update (fan-out stays small)."""
    current = self.open_entry.get(row["alert_id"])
    if current is not None and kind == pb.ALERT_UPDATE_KIND_UPDATED:
        current.traceparent = item.traceparent
        return current
    entry = _Entry(row["alert_id"], row["agency_id"], kind, item.actor, item.traceparent)
    self.entries.append(entry)
    self.open_entry[row["alert_id"]] = entry
    return entry


def _fold_or_create(self: _Batch, item: Incoming) -> PublishOutcome:
    ev = item.event
    occurred = domain.occurred_at(ev, self.now)
    dkey = domain.dedup_key(ev)
    severity = domain.effective_severity(ev)
    site = ev.source.site_id
    alert_id = self.slots.get(dkey)
    if alert_id is not None:
        row = self.alerts[alert_id]
        cooldown = self.store._cooldown(row["agency_id"], row["site_id"])
        first, last = as_utc(row["first_seen_at"]), as_utc(row["last_seen_at"])
        if first - cooldown <= occurred <= last + cooldown:
            row["count"] += 1
            if occurred >= last:
                row["last_seen_at"] = occurred
                row["latest"] = AlertStore._evidence(ev)
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
    cfg = self.store.directory.site(ev.agency_id, site)
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
        "latest": AlertStore._evidence(ev),
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


def _resolve_by_event(self: _Batch, item: Incoming) -> PublishOutcome:
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
    entry: _Entry | None = None
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
        entry = _Entry(
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


def _update_rows(entries: list[_Entry], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "alert_id": e.alert_id,
            "agency_id": e.agency_id,
            "kind": e.kind,
            "actor": e.actor,
            "traceparent": e.traceparent,
            "recorded_at": now,
            "alert": e.alert.SerializeToString() if e.alert is not None else b"",
        }
        for e in entries
    ]


def _insert_updates(s: Session, entries: list[_Entry], now: datetime) -> tuple[int, int]:
    """Append ``entries`` to the log; returns the (first, last) cursor taken."""
    rows = _update_rows(entries, now)
    if _is_pg(s):
        cursors = pgbulk.more_cursors(s, len(rows))
        for row, cursor in zip(rows, cursors, strict=True):
            row["cursor"] = cursor
        pgbulk.write(s, [], [], rows, [])
    else:
        cursors = list(
            s.execute(
                insert(AlertUpdateRow).returning(AlertUpdateRow.cursor, sort_by_parameter_order=True), rows
            )
            .scalars()
            .all()
        )
    for entry, cursor in zip(entries, cursors, strict=True):
        entry.cursor = int(cursor)
    return (entries[0].cursor, entries[-1].cursor) if entries else (0, 0)


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


def _is_pg(s: Session) -> bool:
    return s.get_bind().dialect.name == "postgresql"


def _enqueue_webhooks(s: Session, directory: Directory, entries: list[_Entry], now: datetime) -> None:
    """Deliveries are queued in the same transaction as the update: none is lost on a crash."""
    if not directory.webhooks:
        return
    rows = []
    for e in entries:
        assert e.alert is not None
        for target in directory.webhooks_for(e.alert):
            rows.append(
                {
                    "webhook_id": target.webhook.webhook_id,
                    "cursor": e.cursor,
                    "agency_id": e.agency_id,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "last_error": "",
                }
            )
    if rows:
        s.execute(insert(WebhookDeliveryRow), rows)


def _update_proto(e: _Entry, now: datetime) -> pb.AlertUpdate:
    return pb.AlertUpdate(
        cursor=e.cursor,
        kind=cast(pb.AlertUpdateKind, e.kind),
        alert=e.alert,
        traceparent=e.traceparent,
        recorded_at=to_timestamp(now),
        actor=e.actor,
    )


def _row_update(r: AlertUpdateRow) -> pb.AlertUpdate:
    return pb.AlertUpdate(
        cursor=r.cursor,
        kind=cast(pb.AlertUpdateKind, r.kind),
        alert=pb.Alert.FromString(r.alert),
        traceparent=r.traceparent,
        recorded_at=to_timestamp(r.recorded_at),
        actor=r.actor,
    )


def since_until(req: pb.ListAlertsRequest) -> tuple[datetime | None, datetime | None]:
    since = from_timestamp(req.since) if req.HasField("since") else None
    until = from_timestamp(req.until) if req.HasField("until") else None
    return since, until


__all__ = ["AlertStore", "Incoming", "PublishOutcome", "Visibility", "row_dict", "since_until"]
