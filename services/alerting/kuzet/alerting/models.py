"""Tables of the alerting service (SQLite embedded, PostgreSQL in production; Alembic migrations)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kuzet.common.db import BigId


class Base(DeclarativeBase):
    pass


class AlertRow(Base):
    __tablename__ = "alerts"

    alert_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64))
    site_id: Mapped[str] = mapped_column(String(128), default="")
    type: Mapped[str] = mapped_column(String(64))
    severity: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer)
    state: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(BigInteger, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source_kind: Mapped[int] = mapped_column(Integer, default=0)
    source_id: Mapped[str] = mapped_column(String(128))
    source_name: Mapped[str] = mapped_column(String(256), default="")
    rule_id: Mapped[str] = mapped_column(String(128), default="")
    subject: Mapped[str] = mapped_column(String(256), default="")
    zone_id: Mapped[str] = mapped_column(String(128), default="")
    dedup_key: Mapped[str] = mapped_column(String(64))
    # Equal to dedup_key while later events may still fold into this alert, NULL afterwards.
    # Unique: two writers can never open two foldable alerts for the same key.
    dedup_slot: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    # kuzet.alerting.v1.AlertEvidence of the latest event, serialized.
    latest: Mapped[bytes] = mapped_column(LargeBinary)
    summary: Mapped[str] = mapped_column(Text, default="")
    acknowledged_by: Mapped[str] = mapped_column(String(256), default="")
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolved_by: Mapped[str] = mapped_column(String(256), default="")
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    ack_deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    duty_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    traceparent: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # The operators' questions: open alerts of a site / by severity / in a time range / of a source.
        # last_seen_at is deliberately in no index: every fold changes it, and an unindexed column
        # lets PostgreSQL update the row in place (HOT) instead of touching every index.
        Index("ix_alerts_site_state", "agency_id", "site_id", "state"),
        Index("ix_alerts_severity_state", "agency_id", "severity", "state"),
        Index("ix_alerts_first_seen", "agency_id", "first_seen_at"),
        Index("ix_alerts_source_state", "agency_id", "source_id", "state"),
        # The escalation sweep.
        Index("ix_alerts_ack_deadline", "ack_deadline"),
    )


class AlertUpdateRow(Base):
    """Append-only log of every change; Subscribe replays it from a cursor."""

    __tablename__ = "alert_updates"

    cursor: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(String(36), index=True)
    agency_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(256), default="")
    traceparent: Mapped[str] = mapped_column(String(64), default="")
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # kuzet.alerting.v1.Alert right after this update, serialized.
    alert: Mapped[bytes] = mapped_column(LargeBinary)

    # AUTOINCREMENT: SQLite must never hand out a pruned cursor again (resume relies on it).
    __table_args__ = (
        Index("ix_alert_updates_agency_cursor", "agency_id", "cursor"),
        {"sqlite_autoincrement": True},
    )


class PublishedEventRow(Base):
    """One row per accepted event id: makes Publish idempotent and proves nothing was lost."""

    __tablename__ = "published_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agency_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(64))
    alert_id: Mapped[str] = mapped_column(String(36), default="")
    disposition: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    type: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("event_id", "agency_id", name="uq_published_events_event"),)


class SiteConfigRow(Base):
    __tablename__ = "site_configs"

    agency_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    # kuzet.alerting.v1.SiteConfig, serialized (read whole, cached in memory).
    config: Mapped[bytes] = mapped_column(LargeBinary)
    updated_by: Mapped[str] = mapped_column(String(256), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SharedRouteRow(Base):
    __tablename__ = "shared_routes"

    route_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_agency_id: Mapped[str] = mapped_column(String(64), index=True)
    target_agency_id: Mapped[str] = mapped_column(String(64), index=True)
    # kuzet.alerting.v1.SharedRoute, serialized.
    route: Mapped[bytes] = mapped_column(LargeBinary)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class WebhookRow(Base):
    __tablename__ = "webhooks"

    webhook_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64), index=True)
    # kuzet.alerting.v1.Webhook without its secret, serialized.
    webhook: Mapped[bytes] = mapped_column(LargeBinary)
    secret: Mapped[str] = mapped_column(String(512))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class WebhookDeliveryRow(Base):
    """Persisted delivery queue: survives restarts, retried with backoff until a 2xx."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(String(36))
    cursor: Mapped[int] = mapped_column(BigInteger)
    agency_id: Mapped[str] = mapped_column(String(64))
    # "pending", "delivered", "failed"
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    # AUTOINCREMENT: the id is the receivers' X-Kuzet-Delivery dedup key, never reused after pruning.
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        {"sqlite_autoincrement": True},
    )
