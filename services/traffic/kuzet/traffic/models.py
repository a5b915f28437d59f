"""The traffic service's tables. Records keep their protobuf bytes; indexed columns are copies.

Times of observations, hits and counts are integer microseconds (seconds for a count's minute)
since the epoch: they are written in batches straight to the driver (kuzet.common.bulkwrite),
and integers need no per-row datetime conversion in either driver.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Float, Index, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class CameraRow(Base):
    """A camera's traffic profile (TrafficCamera)."""

    __tablename__ = "traffic_cameras"
    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64), index=True)
    # A copy of TrafficCamera.site_id, for the lists of a caller limited to some sites.
    site_id: Mapped[str] = mapped_column(String(256), server_default="")
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ObservationRow(Base):
    """One vehicle passing a counting line (VehicleObservation), stored once per observation_id."""

    __tablename__ = "traffic_observations"
    observation_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(64))
    observed_at_us: Mapped[int] = mapped_column(BigInteger)
    # normalised; "" when unread or unreadable
    plate: Mapped[str] = mapped_column(String(16))
    # 0 when not measured
    speed_kmh: Mapped[float] = mapped_column(Float)
    speeding: Mapped[bool] = mapped_column(Boolean)
    data: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        Index("ix_traffic_observations_plate", "agency_id", "plate", "observed_at_us"),
        Index("ix_traffic_observations_camera_time", "camera_id", "observed_at_us"),
        Index("ix_traffic_observations_time", "observed_at_us"),
    )


class LaneCountRow(Base):
    """Vehicles of one class across one line in one UTC minute; longer intervals are sums of these."""

    __tablename__ = "traffic_lane_counts"
    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # the minute's first second since the epoch
    minute_s: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    vehicle_class: Mapped[str] = mapped_column(String(16), primary_key=True)
    vehicles: Mapped[int] = mapped_column(BigInteger)
    # over the vehicles whose speed was measured: the mean is speed_sum / measured
    speed_sum: Mapped[float] = mapped_column(Float)
    measured: Mapped[int] = mapped_column(BigInteger)


class HotlistEntryRow(Base):
    """One source's entry for one plate in one agency's hotlist."""

    __tablename__ = "traffic_hotlist_entries"
    agency_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    plate: Mapped[str] = mapped_column(String(16), primary_key=True)
    source: Mapped[str] = mapped_column(String(500), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(256))


class HotlistHitRow(Base):
    """A read plate that matched an entry (HotlistHit), exact or fuzzy."""

    __tablename__ = "traffic_hotlist_hits"
    hit_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64))
    observation_id: Mapped[str] = mapped_column(String(128), index=True)
    observed_at_us: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_traffic_hotlist_hits_newest", "agency_id", "observed_at_us", "hit_id"),)


class HotlistImportRow(Base):
    """One record of an imported feed (kuzet import-vehicles) and the hotlist entry it made: the
    record's fingerprint tells a changed record from the same one read again, and what the
    entry has no column for (the vehicle's description) is kept here."""

    __tablename__ = "traffic_hotlist_imports"
    agency_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    feed: Mapped[str] = mapped_column(String(128), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    # the entry's key in traffic_hotlist_entries (with agency_id)
    plate: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(500))
    # "" once the record left a snapshot and its entry expired: the record coming back is a change
    record_sha256: Mapped[str] = mapped_column(String(64))
    vehicle: Mapped[str] = mapped_column(Text)
    # the import run (its id is in that run's audit record) that last changed this record
    run_id: Mapped[str] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_traffic_hotlist_imports_entry", "agency_id", "plate", "source"),)
