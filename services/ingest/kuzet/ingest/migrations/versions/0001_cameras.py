"""cameras

Revision ID: 0001
Revises:
Create Date: 2026-11-23 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_cameras",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=128), nullable=False),
        sa.Column("spec", sa.LargeBinary(), nullable=False),
        sa.Column("username", sa.String(length=256), nullable=False),
        sa.Column("password", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ingest_cameras_agency_site", "ingest_cameras", ["agency_id", "site_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_ingest_cameras_agency_site", table_name="ingest_cameras")
    op.drop_table("ingest_cameras")
