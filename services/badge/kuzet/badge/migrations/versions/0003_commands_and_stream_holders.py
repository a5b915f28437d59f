"""badge commands kept until acknowledged, and which replica holds each badge's stream

With several replicas a badge's Connect stream is on one of them: a command issued on any replica
is stored and delivered by the holder (woken by NOTIFY on PostgreSQL, by polling on SQLite), and
the holder's claim (renewed, expiring) tells the others not to judge the badge's silence.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "badge_commands",
        sa.Column("command_id", sa.String(length=64), primary_key=True),
        sa.Column("badge_id", sa.String(length=64), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("acked_at_us", sa.BigInteger(), nullable=True),
        sa.Column("result_ok", sa.Boolean(), nullable=True),
        sa.Column("result_message", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index("ix_badge_commands_pending_badge", "badge_commands", ["pending", "badge_id"])
    op.create_table(
        "badge_stream_holders",
        sa.Column("badge_id", sa.String(length=64), primary_key=True),
        sa.Column("replica_id", sa.String(length=128), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_us", sa.BigInteger(), nullable=False),
        sa.Column("signal_lost", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("badge_stream_holders")
    op.drop_index("ix_badge_commands_pending_badge", table_name="badge_commands")
    op.drop_table("badge_commands")
