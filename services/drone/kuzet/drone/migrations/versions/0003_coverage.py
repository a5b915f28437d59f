"""coverage: plans over an area, flown tracks, coverage reports

A coverage plan's legs are ordinary patrol plans; a mission now names its plan in a column so the
flights of a coverage plan's legs are found without reading every mission. A flight's track is
kept per mission for the report of what was actually seen.

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
        "drone_coverage_plans",
        sa.Column("coverage_plan_id", sa.String(36), primary_key=True),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_drone_coverage_plans_agency_id", "drone_coverage_plans", ["agency_id"])
    op.create_table(
        "drone_tracks",
        sa.Column("mission_id", sa.String(36), primary_key=True),
        sa.Column("drone_id", sa.String(64), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("points", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "drone_coverage_reports",
        sa.Column("coverage_plan_id", sa.String(36), primary_key=True),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.add_column("drone_missions", sa.Column("plan_id", sa.String(36), nullable=True))
    op.create_index("ix_drone_missions_plan_id", "drone_missions", ["plan_id"])


def downgrade() -> None:
    op.drop_index("ix_drone_missions_plan_id", "drone_missions")
    with op.batch_alter_table("drone_missions") as batch:
        batch.drop_column("plan_id")
    op.drop_table("drone_coverage_reports")
    op.drop_table("drone_tracks")
    op.drop_index("ix_drone_coverage_plans_agency_id", "drone_coverage_plans")
    op.drop_table("drone_coverage_plans")
