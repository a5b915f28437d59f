"""imported watchlist entries: identity_imported_entries, the feed and record behind each entry

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_imported_entries",
        sa.Column("gallery_id", sa.String(length=36), nullable=False),
        sa.Column("feed", sa.String(length=128), nullable=False),
        sa.Column("external_id", sa.String(length=256), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("record_sha256", sa.String(length=64), nullable=False),
        sa.Column("photo_sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=256), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("gallery_id", "feed", "external_id"),
    )
    op.create_index("ix_identity_imported_entries_person", "identity_imported_entries", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_identity_imported_entries_person", table_name="identity_imported_entries")
    op.drop_table("identity_imported_entries")
