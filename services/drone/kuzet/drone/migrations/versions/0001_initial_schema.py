"""initial schema: drones, zones, plans, missions

Revision ID: 0001
Revises:
Create Date: 2026-11-23 15:10:00
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
        "drones",
        sa.Column("drone_id", sa.String(64), primary_key=True),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_drones_agency_id", "drones", ["agency_id"])
    op.create_table(
        "drone_zones",
        sa.Column("zone_id", sa.String(64), primary_key=True),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_drone_zones_agency_id", "drone_zones", ["agency_id"])
    op.create_table(
        "drone_plans",
        sa.Column("plan_id", sa.String(36), primary_key=True),
        sa.Column("drone_id", sa.String(64), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_drone_plans_drone_id", "drone_plans", ["drone_id"])
    op.create_table(
        "drone_missions",
        sa.Column("mission_id", sa.String(36), primary_key=True),
        sa.Column("drone_id", sa.String(64), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_drone_missions_drone_time", "drone_missions", ["drone_id", "dispatched_at"])


def downgrade() -> None:
    op.drop_table("drone_missions")
    op.drop_table("drone_plans")
    op.drop_table("drone_zones")
    op.drop_table("drones")
