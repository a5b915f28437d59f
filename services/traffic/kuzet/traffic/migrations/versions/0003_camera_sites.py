"""camera sites: traffic_cameras.site_id, a copy of each profile's site for site-limited lists

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 13:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kuzet.traffic.v1 import traffic_pb2

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "traffic_cameras", sa.Column("site_id", sa.String(256), nullable=False, server_default="")
    )
    # The site is only inside each profile's protobuf bytes until now; a site-limited caller
    # would see no camera configured before this column was.
    cameras = sa.table(
        "traffic_cameras", sa.column("camera_id", sa.String), sa.column("site_id", sa.String),
        sa.column("data", sa.LargeBinary),
    )  # fmt: skip
    bind = op.get_bind()
    for camera_id, data in bind.execute(sa.select(cameras.c.camera_id, cameras.c.data)).all():
        site = traffic_pb2.TrafficCamera.FromString(data).site_id
        if site:
            bind.execute(cameras.update().where(cameras.c.camera_id == camera_id).values(site_id=site))


def downgrade() -> None:
    op.drop_column("traffic_cameras", "site_id")
