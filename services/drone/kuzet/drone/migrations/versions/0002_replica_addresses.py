"""replica addresses: where each drone service replica can be reached

A follower answers a drone command with the leader's address (x-kuzet-leader); the lease names
the leader by identity, this table maps the identity to the address it advertises.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 19:00:00
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
        "drone_replicas",
        sa.Column("replica_id", sa.String(253), primary_key=True),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("drone_replicas")
