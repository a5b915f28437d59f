"""erasures in the change feed: identity_changes.external_id and reason, so that the watchlist
change stream can say who was erased and why after the person's row is gone

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identity_changes") as batch:
        batch.add_column(sa.Column("external_id", sa.String(length=256), nullable=False, server_default=""))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("identity_changes") as batch:
        batch.drop_column("reason")
        batch.drop_column("external_id")
