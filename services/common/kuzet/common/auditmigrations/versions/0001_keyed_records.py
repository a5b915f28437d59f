"""keyed records: the audit table, and a key id per record

Before this revision the table was made by AuditLog itself (create_all) and every record was
plain SHA-256; those records keep key id "" and verify as legacy, unkeyed.

Revision ID: 0001
Revises:
Create Date: 2026-12-06 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLE = "kuzet_audit_log"


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table(TABLE):
        op.create_table(
            TABLE,
            sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("agency", sa.String(64), nullable=False),
            sa.Column("actor", sa.String(256), nullable=False),
            sa.Column("action", sa.String(128), nullable=False),
            sa.Column("target", sa.String(512), nullable=False),
            sa.Column("outcome", sa.String(256), nullable=False),
            sa.Column("details", sa.JSON, nullable=False),
            sa.Column("prev_hash", sa.String(64), nullable=False),
            sa.Column("hash", sa.String(64), nullable=False),
            sa.Column("key_id", sa.String(32), nullable=False, server_default=""),
        )
        op.create_index("ix_audit_agency_time", TABLE, ["agency", "recorded_at"])
        op.create_index("ix_audit_action", TABLE, ["action"])
        return
    if "key_id" not in {c["name"] for c in inspector.get_columns(TABLE)}:
        op.add_column(TABLE, sa.Column("key_id", sa.String(32), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column(TABLE, "key_id")
