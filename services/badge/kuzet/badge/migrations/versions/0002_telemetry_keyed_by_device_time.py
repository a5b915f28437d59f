"""telemetry keyed by (badge_id, device_time_us, seq): one per-badge index instead of two

At 10,000 reports a second every report lands in a different page of every index ordered by
badge; the separate (badge_id, device_time_us) index doubled the pages written per report (about
80 MB/s on SQLite) and its write stalls held acks for seconds. A re-sent report has the same
device time and seq, so the new key still stores it once, and it serves the history order.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 16:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = "badge_id, seq, device_time_us, received_at_us, payload"


def _create(name: str, key: list[str], key_name: str) -> None:
    op.create_table(
        name,
        sa.Column("badge_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("device_time_us", sa.BigInteger(), nullable=False),
        sa.Column("received_at_us", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint(*key, name=key_name),
    )


def _copy_into_new_table(key: list[str], key_name: str) -> None:
    # A new table and a copy: the same steps on SQLite (which cannot change a primary key in
    # place) and PostgreSQL.
    _create("badge_telemetry_next", key, key_name)
    op.execute(
        f"INSERT INTO badge_telemetry_next ({COLUMNS}) SELECT {COLUMNS} FROM badge_telemetry WHERE true "
        "ON CONFLICT DO NOTHING"  # (SQLite needs the WHERE to parse an upsert after a SELECT)
    )
    op.drop_table("badge_telemetry")
    op.rename_table("badge_telemetry_next", "badge_telemetry")


def upgrade() -> None:
    op.drop_index("ix_badge_telemetry_badge_time", table_name="badge_telemetry")
    _copy_into_new_table(["badge_id", "device_time_us", "seq"], "pk_badge_telemetry")


def downgrade() -> None:
    _copy_into_new_table(["badge_id", "seq"], "badge_telemetry_pkey")
    op.create_index("ix_badge_telemetry_badge_time", "badge_telemetry", ["badge_id", "device_time_us"])
