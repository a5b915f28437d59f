"""What an import keeps beside the watchlist entry it made: which feed and external id the
entry comes from, what the record said (its fingerprint, to tell a changed record from the
same one read again) and what the person table has no column for (migration 0003)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kuzet.identity.models import Base


class ImportedEntryRow(Base):
    """One record of a feed in one watchlist. No foreign key to the person: an entry an
    administrator erased stays erased until the source changes the record (see sink)."""

    __tablename__ = "identity_imported_entries"
    __table_args__ = (Index("ix_identity_imported_entries_person", "person_id"),)

    gallery_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    feed: Mapped[str] = mapped_column(String(128), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(36))
    # "" once the entry was expired for leaving a snapshot: the record coming back is a change.
    record_sha256: Mapped[str] = mapped_column(String(64))
    photo_sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(256))
    legal_basis: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    date_of_birth: Mapped[date | None] = mapped_column(Date, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The import run (its id is in that run's audit record) that last changed this entry.
    run_id: Mapped[str] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
