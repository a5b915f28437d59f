"""per-device credentials: the hash of each badge's device token

A badge authenticates on the device port with its own token; only the SHA-256 of the token's
secret is stored, empty when the badge has none (never issued, or revoked).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 02:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("badges") as batch:
        batch.add_column(
            sa.Column("device_credential_hash", sa.String(length=64), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("badges") as batch:
        batch.drop_column("device_credential_hash")
