"""imported hotlist entries: traffic_hotlist_imports, the feed and record behind each entry

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "traffic_hotlist_imports",
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("feed", sa.String(128), nullable=False),
        sa.Column("external_id", sa.String(256), nullable=False),
        sa.Column("plate", sa.String(16), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("record_sha256", sa.String(64), nullable=False),
        sa.Column("vehicle", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agency_id", "feed", "external_id"),
    )
    op.create_index(
        "ix_traffic_hotlist_imports_entry", "traffic_hotlist_imports", ["agency_id", "plate", "source"]
    )


def downgrade() -> None:
    op.drop_index("ix_traffic_hotlist_imports_entry", table_name="traffic_hotlist_imports")
    op.drop_table("traffic_hotlist_imports")
