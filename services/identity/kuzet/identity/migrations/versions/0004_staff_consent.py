"""staff consent: identity_people.consent, the recorded consent a staff member was enrolled with

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identity_people") as batch:
        batch.add_column(sa.Column("consent", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("identity_people") as batch:
        batch.drop_column("consent")
