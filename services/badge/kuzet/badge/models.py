"""Tables of the badge service (its own metadata; migrations in kuzet.badge.migrations).

Records that are only ever read back whole (a telemetry report, a citation, an integrity report)
keep their protobuf bytes in ``payload`` next to the columns that queries filter on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


UtcDateTime = DateTime(timezone=True)


class BadgeRow(Base):
    __tablename__ = "badges"

    badge_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64), index=True)
    unit_id: Mapped[str] = mapped_column(String(64), default="")
    serial_number: Mapped[str] = mapped_column(String(128), default="")
    firmware_version: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[int] = mapped_column(Integer)
    officer_id: Mapped[str] = mapped_column(String(64), default="")
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # SHA-256 (hex) of the device token's secret (credentials.py); empty = none or revoked.
    device_credential_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")


class ShiftRow(Base):
    __tablename__ = "badge_shifts"
    __table_args__ = (Index("ix_badge_shifts_badge_started", "badge_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    badge_id: Mapped[str] = mapped_column(String(64), ForeignKey("badges.badge_id"))
    officer_id: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    assigned_by: Mapped[str] = mapped_column(String(128), default="")


class TelemetryRow(Base):
    """One report, keyed (badge_id, device_time_us, seq): the history order, and a re-sent report
    (same seq, same device time) is stored once. The only index ordered by badge: at 10,000
    reports a second each one writes a page of every such index (migration 0002).

    Times are integer microseconds since the epoch: this table takes ~10,000 rows a second and
    integers skip per-row datetime conversion in both drivers.
    """

    __tablename__ = "badge_telemetry"
    __table_args__ = (PrimaryKeyConstraint("badge_id", "device_time_us", "seq", name="pk_badge_telemetry"),)

    badge_id: Mapped[str] = mapped_column(String(64))
    device_time_us: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    received_at_us: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[bytes] = mapped_column(LargeBinary)


class BadgeStateRow(Base):
    """The latest state per badge, written behind the in-memory state (restart and other replicas)."""

    __tablename__ = "badge_states"

    badge_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64), index=True)
    acked_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_seen: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)


class CommandRow(Base):
    """A command for a badge, kept until the badge acknowledges it (CommandResult) or it expires.

    ``pending`` is true until then: the holder of the badge's stream sends it once per stream, so
    a badge that reconnects to another replica gets what it had not acknowledged.
    """

    __tablename__ = "badge_commands"
    __table_args__ = (Index("ix_badge_commands_pending_badge", "pending", "badge_id"),)

    command_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    badge_id: Mapped[str] = mapped_column(String(64))
    agency_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at_us: Mapped[int] = mapped_column(BigInteger)
    expires_at_us: Mapped[int] = mapped_column(BigInteger)
    pending: Mapped[bool] = mapped_column(Boolean)
    acked_at_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    result_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    result_message: Mapped[str] = mapped_column(Text, default="")


class StreamHolderRow(Base):
    """Which replica holds a badge's Connect stream: claimed on connect, renewed, released on
    disconnect (expires_at_us = 0). ``signal_lost`` is the open signal-lost occurrence, shared so
    that whichever replica the badge comes back to resolves it."""

    __tablename__ = "badge_stream_holders"

    badge_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    replica_id: Mapped[str] = mapped_column(String(128))
    expires_at_us: Mapped[int] = mapped_column(BigInteger)
    last_seen_us: Mapped[int] = mapped_column(BigInteger)
    signal_lost: Mapped[bool] = mapped_column(Boolean)


class IncidentRow(Base):
    __tablename__ = "badge_incidents"

    incident_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64), index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    latitude: Mapped[float] = mapped_column(Float, default=0.0)
    longitude: Mapped[float] = mapped_column(Float, default=0.0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class IncidentBadgeRow(Base):
    __tablename__ = "badge_incident_assignments"

    incident_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("badge_incidents.incident_id"), primary_key=True
    )
    badge_id: Mapped[str] = mapped_column(String(64), ForeignKey("badges.badge_id"), primary_key=True)
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class UploadRow(Base):
    __tablename__ = "evidence_uploads"

    upload_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64), index=True)
    badge_id: Mapped[str] = mapped_column(String(64))
    # The EvidenceMetadata message as first sent; a resume must send the same one.
    metadata_payload: Mapped[bytes] = mapped_column(LargeBinary)
    total_size: Mapped[int] = mapped_column(BigInteger)
    chunk_size: Mapped[int] = mapped_column(Integer)
    total_chunks: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    evidence_id: Mapped[str] = mapped_column(String(64))
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class UploadChunkRow(Base):
    """A chunk whose SHA-256 matched and whose bytes are durable in the staging file."""

    __tablename__ = "evidence_upload_chunks"

    upload_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("evidence_uploads.upload_id"), primary_key=True
    )
    chunk_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)


class EvidenceRow(Base):
    __tablename__ = "evidence"
    __table_args__ = (
        Index("ix_evidence_agency_captured", "agency_id", "captured_at"),
        Index("ix_evidence_badge_captured", "badge_id", "captured_at"),
        # An incident's items, in the listing's order, without reading the agency's other items.
        Index("ix_evidence_agency_incident_captured", "agency_id", "incident_id", "captured_at"),
    )

    evidence_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64))
    badge_id: Mapped[str] = mapped_column(String(64))
    officer_id: Mapped[str] = mapped_column(String(64), default="")
    category: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    captured_at: Mapped[datetime] = mapped_column(UtcDateTime)
    captured_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    stored_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    object_key: Mapped[str] = mapped_column(String(512), default="")
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(128), default="application/octet-stream")
    latitude: Mapped[float] = mapped_column(Float, default=0.0)
    longitude: Mapped[float] = mapped_column(Float, default=0.0)
    case_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    case_closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    incident_id: Mapped[str] = mapped_column(String(64), default="")
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    retain_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    upload_id: Mapped[str] = mapped_column(String(64), default="")


class EvidenceShareRow(Base):
    __tablename__ = "evidence_shares"

    evidence_id: Mapped[str] = mapped_column(String(64), ForeignKey("evidence.evidence_id"), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    shared_at: Mapped[datetime] = mapped_column(UtcDateTime)
    shared_by: Mapped[str] = mapped_column(String(128))


class CustodyRow(Base):
    """One step of an item's chain of custody, hash-chained to the previous step of that item."""

    __tablename__ = "evidence_custody"

    evidence_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(128))
    actor_agency_id: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    object_sha256: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class RetentionPolicyRow(Base):
    __tablename__ = "evidence_retention_policies"

    agency_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    retention_days: Mapped[int] = mapped_column(Integer, default=0)
    until_case_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    days_after_case_closed: Mapped[int] = mapped_column(Integer, default=0)


class CitationRow(Base):
    """A citation: ``payload`` is the Citation as issued; its life cycle (status, version = how
    many transitions, citation_history) and where it stands with the administrative-offence
    register are columns, merged into the message when it is read (citations.py)."""

    __tablename__ = "citations"
    __table_args__ = (Index("ix_citations_agency_occurred", "agency_id", "occurred_at"),)

    citation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64))
    officer_id: Mapped[str] = mapped_column(String(64), index=True)
    offence_code: Mapped[str] = mapped_column(String(64))
    vehicle_plate: Mapped[str] = mapped_column(String(32), default="", index=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    unit_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    status: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The register's side (export/): pending until it acknowledges or rejects the current version.
    export_pending: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true(), index=True)
    exported_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    exported_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    register_id: Mapped[str] = mapped_column(String(128), default="", server_default="")
    export_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    export_rejected: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class CitationHistoryRow(Base):
    """One transition of a citation's life cycle; seq 1 is the issue itself. The citation's unit
    and offence code are repeated here so statistics count transitions without a join."""

    __tablename__ = "citation_history"
    __table_args__ = (Index("ix_citation_history_agency_at", "agency_id", "at"),)

    citation_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("citations.citation_id"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[str] = mapped_column(String(64), default="")
    offence_code: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[int] = mapped_column(Integer)
    to_status: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")


class IntegrityReportRow(Base):
    __tablename__ = "integrity_reports"
    __table_args__ = (Index("ix_integrity_reports_agency_occurred", "agency_id", "occurred_at"),)

    report_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64))
    officer_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
