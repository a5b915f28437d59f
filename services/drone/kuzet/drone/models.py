"""The drone service's tables. Records keep their protobuf bytes; indexed columns are copies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, Index, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class DroneRow(Base):
    __tablename__ = "drones"
    drone_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64), index=True)
    # Empty for an agency-wide drone (and for every drone stored before sites, 0005).
    site_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ZoneRow(Base):
    __tablename__ = "drone_zones"
    zone_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64), index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class PlanRow(Base):
    __tablename__ = "drone_plans"
    plan_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    drone_id: Mapped[str] = mapped_column(String(64), index=True)
    agency_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class MissionRow(Base):
    __tablename__ = "drone_missions"
    mission_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    drone_id: Mapped[str] = mapped_column(String(64))
    agency_id: Mapped[str] = mapped_column(String(64))
    dispatched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    # Null for missions stored before coverage plans (0003); set for every mission since.
    plan_id: Mapped[str | None] = mapped_column(String(36), index=True, nullable=True)

    __table_args__ = (Index("ix_drone_missions_drone_time", "drone_id", "dispatched_at"),)


class CoveragePlanRow(Base):
    __tablename__ = "drone_coverage_plans"
    coverage_plan_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class TrackRow(Base):
    """A mission's flown positions (``flighttrack.Track.to_bytes``)."""

    __tablename__ = "drone_tracks"
    mission_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    drone_id: Mapped[str] = mapped_column(String(64))
    agency_id: Mapped[str] = mapped_column(String(64))
    points: Mapped[bytes] = mapped_column(LargeBinary)


class CoverageReportRow(Base):
    __tablename__ = "drone_coverage_reports"
    coverage_plan_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ReplicaRow(Base):
    """Where a replica (a lease holder identity) can be reached: its advertise address."""

    __tablename__ = "drone_replicas"
    replica_id: Mapped[str] = mapped_column(String(253), primary_key=True)
    address: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProtectedAreaRow(Base):
    __tablename__ = "drone_protected_areas"
    area_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64), index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class RuleHitRow(Base):
    """A rule that fired for a track in an area: alerts are raised once per row (``rulehits``)."""

    __tablename__ = "drone_rule_hits"
    drone_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    track_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    area_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StopRow(Base):
    """Where a tracked vehicle has stood still since when (forest blocks' stopped-vehicle rule)."""

    __tablename__ = "drone_track_stops"
    drone_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    track_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)


class StatusRow(Base):
    """A controlled drone's readiness, written by its controller's replica for the others."""

    __tablename__ = "drone_status"
    drone_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    available: Mapped[bool] = mapped_column(Boolean)
    battery_pct: Mapped[float] = mapped_column(Float)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
