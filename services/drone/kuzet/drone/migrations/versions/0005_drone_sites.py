"""drone sites: the site (facility, district) a drone belongs to

A copy of Drone.site_id, so a site-limited caller's drones are listed without reading every
drone's record. Drones stored before sites had none: they stay agency-wide ("").

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("drones", sa.Column("site_id", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("drones") as batch:
        batch.drop_column("site_id")
