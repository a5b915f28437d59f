"""citation life cycle (status, history) and export to the administrative-offence register

Every citation stored so far was issued and never changed: it becomes ISSUED at version 1 with
one history row (the issue, dated when the offence occurred and attributed to its officer: who
entered it was not kept), pending export. Its unit is its badge's unit now (the unit at issue
time was not kept).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 04:10:00
"""

import sqlalchemy as sa
from alembic import op

from kuzet.badge.v1 import badge_pb2

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("citations") as batch:
        batch.add_column(sa.Column("unit_id", sa.String(length=64), nullable=False, server_default=""))
        batch.add_column(sa.Column("status", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("export_pending", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("exported_version", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("register_id", sa.String(length=128), nullable=False, server_default=""))
        batch.add_column(sa.Column("export_error", sa.Text(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("export_rejected", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_index("ix_citations_export_pending", ["export_pending"], unique=False)
    op.create_table(
        "citation_history",
        sa.Column("citation_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("offence_code", sa.String(length=64), nullable=False),
        sa.Column("from_status", sa.Integer(), nullable=False),
        sa.Column("to_status", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["citation_id"], ["citations.citation_id"]),
        sa.PrimaryKeyConstraint("citation_id", "seq"),
    )
    op.create_index("ix_citation_history_agency_at", "citation_history", ["agency_id", "at"], unique=False)
    _units_from_badges()
    op.execute(
        "INSERT INTO citation_history (citation_id, seq, agency_id, unit_id, offence_code, from_status, "
        "to_status, actor, at, reason) SELECT citation_id, 1, agency_id, unit_id, offence_code, "
        f"{badge_pb2.CITATION_STATUS_UNSPECIFIED}, {badge_pb2.CITATION_STATUS_ISSUED}, officer_id, occurred_at, '' "
        "FROM citations"
    )


def _units_from_badges() -> None:
    """The badge id is inside the payload only: read it there, in batches."""
    connection = op.get_bind()
    units: dict[str, str] = dict(connection.execute(sa.text("SELECT badge_id, unit_id FROM badges WHERE unit_id <> ''")).all())
    if not units:
        return
    after = ""
    while True:
        rows = connection.execute(
            sa.text(
                "SELECT citation_id, payload FROM citations WHERE citation_id > :after "
                "ORDER BY citation_id LIMIT :n"
            ),
            {"after": after, "n": _BATCH},
        ).all()
        if not rows:
            return
        updates = [
            {"id": citation_id, "unit": unit}
            for citation_id, payload in rows
            if (unit := units.get(badge_pb2.Citation.FromString(bytes(payload)).badge_id, ""))
        ]
        if updates:
            connection.execute(sa.text("UPDATE citations SET unit_id = :unit WHERE citation_id = :id"), updates)
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_citation_history_agency_at", table_name="citation_history")
    op.drop_table("citation_history")
    with op.batch_alter_table("citations") as batch:
        batch.drop_index("ix_citations_export_pending")
        for column in (
            "export_rejected",
            "export_error",
            "register_id",
            "exported_at",
            "exported_version",
            "export_pending",
            "version",
            "status",
            "unit_id",
        ):
            batch.drop_column(column)
