"""append-only: PostgreSQL refuses UPDATE, DELETE and TRUNCATE on the audit table

For every role, the services' included; an administrator who owns the table can still disable
the trigger, which is what the keyed MACs and the anchors outside the database are for.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 02:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION kuzet_audit_log_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'kuzet_audit_log is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER kuzet_audit_log_no_change BEFORE UPDATE OR DELETE ON kuzet_audit_log "
        "FOR EACH ROW EXECUTE FUNCTION kuzet_audit_log_append_only()"
    )
    op.execute(
        "CREATE TRIGGER kuzet_audit_log_no_truncate BEFORE TRUNCATE ON kuzet_audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION kuzet_audit_log_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS kuzet_audit_log_no_truncate ON kuzet_audit_log")
    op.execute("DROP TRIGGER IF EXISTS kuzet_audit_log_no_change ON kuzet_audit_log")
    op.execute("DROP FUNCTION IF EXISTS kuzet_audit_log_append_only()")
