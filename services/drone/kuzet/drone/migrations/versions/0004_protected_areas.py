"""protected areas: reserves, no-fishing zones, forest blocks; rule hits; drone status

Protected areas are stored like zones (protobuf bytes). A rule that fired for a track is a row,
so an alert is raised once per track, rule and area even when several replicas place the same
drone's detections. A vehicle's stop (where and since when) is a row for the same reason. Each
replica writes the readiness of the drones it controls, so SuggestDrone on any replica sees the
whole fleet.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drone_protected_areas",
        sa.Column("area_id", sa.String(64), primary_key=True),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_drone_protected_areas_agency_id", "drone_protected_areas", ["agency_id"])
    op.create_table(
        "drone_rule_hits",
        sa.Column("drone_id", sa.String(64), primary_key=True),
        sa.Column("track_id", sa.String(32), primary_key=True),
        sa.Column("rule", sa.String(64), primary_key=True),
        sa.Column("area_id", sa.String(64), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "drone_track_stops",
        sa.Column("drone_id", sa.String(64), primary_key=True),
        sa.Column("track_id", sa.String(32), primary_key=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
    )
    op.create_table(
        "drone_status",
        sa.Column("drone_id", sa.String(64), primary_key=True),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("battery_pct", sa.Float(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
    )
    op.create_index("ix_drone_status_agency_id", "drone_status", ["agency_id"])


def downgrade() -> None:
    op.drop_index("ix_drone_status_agency_id", "drone_status")
    op.drop_table("drone_status")
    op.drop_table("drone_track_stops")
    op.drop_table("drone_rule_hits")
    op.drop_index("ix_drone_protected_areas_agency_id", "drone_protected_areas")
    op.drop_table("drone_protected_areas")
