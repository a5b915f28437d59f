"""Tables of the identity service (SQLite embedded, PostgreSQL in production).

Embeddings live in the database (float32 bytes) so the FAISS indexes can be rebuilt from it at
start; the face images themselves live in the object store and only their keys are kept here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
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


class GalleryRow(Base):
    __tablename__ = "identity_galleries"

    gallery_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(256))
    kind: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(256))
    threshold: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    required_reviewers: Mapped[int] = mapped_column(Integer)
    # name@version of the embeddings searched; "" until the first enrolment.
    model: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(256))


class ShareRow(Base):
    __tablename__ = "identity_gallery_shares"

    gallery_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("identity_galleries.gallery_id", ondelete="CASCADE"), primary_key=True
    )
    agency_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    shared_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    shared_by: Mapped[str] = mapped_column(String(256))
    reason: Mapped[str] = mapped_column(Text)


class PersonRow(Base):
    __tablename__ = "identity_people"

    person_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    gallery_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("identity_galleries.gallery_id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str] = mapped_column(String(256))
    display_name: Mapped[str] = mapped_column(String(256))
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    enrolled_by: Mapped[str] = mapped_column(String(256))
    # Staff galleries: the reference of the person's recorded consent ("" elsewhere).
    consent: Mapped[str] = mapped_column(Text, default="", server_default="")


class ImageRow(Base):
    __tablename__ = "identity_images"

    image_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("identity_people.person_id", ondelete="CASCADE"), index=True
    )
    gallery_id: Mapped[str] = mapped_column(String(36), index=True)
    object_key: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(64))
    # Whether the stored bytes are a whole photo ("image") or a face crop ("crop").
    source_kind: Mapped[str] = mapped_column(String(8))
    box_x1: Mapped[float] = mapped_column(Float)
    box_y1: Mapped[float] = mapped_column(Float)
    box_x2: Mapped[float] = mapped_column(Float)
    box_y2: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EmbeddingRow(Base):
    """One image's embedding by one model; the id is the FAISS id."""

    __tablename__ = "identity_embeddings"
    __table_args__ = (
        UniqueConstraint("image_id", "model", name="uq_identity_embedding_image_model"),
        Index("ix_identity_embeddings_gallery_model", "gallery_id", "model"),
    )

    embedding_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("identity_images.image_id", ondelete="CASCADE")
    )
    person_id: Mapped[str] = mapped_column(String(36), index=True)
    gallery_id: Mapped[str] = mapped_column(String(36))
    model: Mapped[str] = mapped_column(String(128))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MatchRow(Base):
    """A candidate match awaiting human review."""

    __tablename__ = "identity_matches"
    __table_args__ = (Index("ix_identity_matches_agency_state", "agency_id", "state", "created_at"),)

    match_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64))
    gallery_id: Mapped[str] = mapped_column(String(36), index=True)
    # Kept after erasure (as a reference only) so the review history stays readable.
    person_id: Mapped[str] = mapped_column(String(36), index=True)
    external_id: Mapped[str] = mapped_column(String(256))
    display_name: Mapped[str] = mapped_column(String(256))
    image_id: Mapped[str] = mapped_column(String(36))
    score: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    state: Mapped[int] = mapped_column(Integer)
    required_reviewers: Mapped[int] = mapped_column(Integer)
    probe_key: Mapped[str] = mapped_column(String(512), default="")
    probe_sha256: Mapped[str] = mapped_column(String(64), default="")
    probe_size: Mapped[int] = mapped_column(BigInteger, default=0)
    probe_content_type: Mapped[str] = mapped_column(String(64), default="")
    source_kind: Mapped[int] = mapped_column(Integer, default=0)
    source_id: Mapped[str] = mapped_column(String(128), default="")
    source_site: Mapped[str] = mapped_column(String(128), default="")
    source_name: Mapped[str] = mapped_column(String(256), default="")
    track_id: Mapped[int] = mapped_column(BigInteger, default=0)
    zone_id: Mapped[str] = mapped_column(String(128), default="")
    snapshot_key: Mapped[str] = mapped_column(String(512), default="")
    snapshot_sha256: Mapped[str] = mapped_column(String(64), default="")
    snapshot_size: Mapped[int] = mapped_column(BigInteger, default=0)
    snapshot_content_type: Mapped[str] = mapped_column(String(64), default="")
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(256))
    purpose: Mapped[str] = mapped_column(Text, default="")
    event_id: Mapped[str] = mapped_column(String(36), default="")


class ReviewRow(Base):
    __tablename__ = "identity_reviews"
    __table_args__ = (UniqueConstraint("match_id", "reviewer", name="uq_identity_review_reviewer"),)

    review_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    match_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("identity_matches.match_id", ondelete="CASCADE"), index=True
    )
    reviewer: Mapped[str] = mapped_column(String(256))
    decision: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    reviewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TrackRow(Base):
    """Tracks already matched, so ingest's retries and repeats never match a track twice."""

    __tablename__ = "identity_tracks"

    agency_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    track_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    outcome: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str] = mapped_column(String(36), default="")
    matched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChangeRow(Base):
    """One change to what the indexes hold, in commit order: every replica applies these in
    ``seq`` order to its in-memory indexes. A row names what changed (a person, or a whole
    gallery when ``person_id`` is empty); the replica reads the current state from the tables,
    so applying a change twice, or a later state early, is harmless."""

    __tablename__ = "identity_changes"
    # Never reuse a sequence number on SQLite, even after the newest row is deleted.
    __table_args__ = {"sqlite_autoincrement": True}

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    gallery_id: Mapped[str] = mapped_column(String(36))
    person_id: Mapped[str] = mapped_column(String(36), default="")
    # enrol, erase, expiry, import, reembed: replicas do not branch on it; the watchlist change
    # stream (watchlistfeed.py) does.
    kind: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # An erasure: who was erased and why, which the person's row no longer tells.
    external_id: Mapped[str] = mapped_column(String(256), default="", server_default="")
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
