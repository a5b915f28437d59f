"""The alert update log: one entry per change of an alert, the cursor it takes, and the webhook
deliveries queued with it in the same transaction (publish folding and lifecycle transitions
both write through here); its reads by cursor, and the pruning of it with the other short-lived
state (event ids, finished webhook deliveries).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import delete, insert, select, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from kuzet.alerting import pgbulk
from kuzet.alerting.directory import Directory
from kuzet.alerting.models import AlertUpdateRow, PublishedEventRow, WebhookDeliveryRow
from kuzet.alerting.v1 import alerting_pb2 as pb
from kuzet.common.db import Database
from kuzet.common.timeutil import to_timestamp

WRITE_LOCK = 0x616C657274  # "alert": serialises alerting writers on PostgreSQL


@dataclass
class Entry:
    """An update of this transaction; ``alert`` is filled ("sealed") from the final row state."""

    alert_id: str
    agency_id: str
    kind: int
    actor: str
    traceparent: str
    alert: pb.Alert | None = None
    cursor: int = 0


def update_rows(entries: list[Entry], now: datetime) -> list[dict[str, Any]]:
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


def insert_updates(s: Session, entries: list[Entry], now: datetime) -> tuple[int, int]:
    """Append ``entries`` to the log; returns the (first, last) cursor taken."""
    rows = update_rows(entries, now)
    if is_pg(s):
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


def is_pg(s: Session) -> bool:
    return s.get_bind().dialect.name == "postgresql"


def enqueue_webhooks(s: Session, directory: Directory, entries: list[Entry], now: datetime) -> None:
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


def update_proto(e: Entry, now: datetime) -> pb.AlertUpdate:
    return pb.AlertUpdate(
        cursor=e.cursor,
        kind=cast(pb.AlertUpdateKind, e.kind),
        alert=e.alert,
        traceparent=e.traceparent,
        recorded_at=to_timestamp(now),
        actor=e.actor,
    )


def row_update(r: AlertUpdateRow) -> pb.AlertUpdate:
    return pb.AlertUpdate(
        cursor=r.cursor,
        kind=cast(pb.AlertUpdateKind, r.kind),
        alert=pb.Alert.FromString(r.alert),
        traceparent=r.traceparent,
        recorded_at=to_timestamp(r.recorded_at),
        actor=r.actor,
    )


class UpdateLog:
    """The update log's reads and pruning, part of ``AlertStore`` (a mixin: the store owns ``db``)."""

    db: Database

    def updates_after(self, cursor: int, owners: set[str] | None, limit: int) -> list[pb.AlertUpdate]:
        query = select(AlertUpdateRow).where(AlertUpdateRow.cursor > cursor)
        if owners is not None:
            query = query.where(AlertUpdateRow.agency_id.in_(owners))
        with self.db.session() as s:
            rows = s.execute(query.order_by(AlertUpdateRow.cursor).limit(limit)).scalars().all()
            return [row_update(r) for r in rows]

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
