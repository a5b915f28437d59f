"""initial schema: camera profiles, observations, per-minute lane counts, hotlists and their hits

Revision ID: 0001
Revises:
Create Date: 2026-12-07 04:00:00
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
        "traffic_cameras",
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_traffic_cameras_agency_id", "traffic_cameras", ["agency_id"])
    op.create_table(
        "traffic_observations",
        sa.Column("observation_id", sa.String(128), primary_key=True),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("observed_at_us", sa.BigInteger(), nullable=False),
        sa.Column("plate", sa.String(16), nullable=False),
        sa.Column("speed_kmh", sa.Float(), nullable=False),
        sa.Column("speeding", sa.Boolean(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index(
        "ix_traffic_observations_plate", "traffic_observations", ["agency_id", "plate", "observed_at_us"]
    )
    op.create_index(
        "ix_traffic_observations_camera_time", "traffic_observations", ["camera_id", "observed_at_us"]
    )
    op.create_index("ix_traffic_observations_time", "traffic_observations", ["observed_at_us"])
    op.create_table(
        "traffic_lane_counts",
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("line_id", sa.String(64), primary_key=True),
        sa.Column("minute_s", sa.BigInteger(), primary_key=True),
        sa.Column("vehicle_class", sa.String(16), primary_key=True),
        sa.Column("vehicles", sa.BigInteger(), nullable=False),
        sa.Column("speed_sum", sa.Float(), nullable=False),
        sa.Column("measured", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "traffic_hotlist_entries",
        sa.Column("agency_id", sa.String(64), primary_key=True),
        sa.Column("plate", sa.String(16), primary_key=True),
        sa.Column("source", sa.String(500), primary_key=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
    )
    op.create_table(
        "traffic_hotlist_hits",
        sa.Column("hit_id", sa.String(36), primary_key=True),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("observation_id", sa.String(128), nullable=False),
        sa.Column("observed_at_us", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_traffic_hotlist_hits_observation_id", "traffic_hotlist_hits", ["observation_id"])
    op.create_index(
        "ix_traffic_hotlist_hits_newest", "traffic_hotlist_hits", ["agency_id", "observed_at_us", "hit_id"]
    )


def downgrade() -> None:
    op.drop_table("traffic_hotlist_hits")
    op.drop_table("traffic_hotlist_entries")
    op.drop_table("traffic_lane_counts")
    op.drop_table("traffic_observations")
    op.drop_table("traffic_cameras")
