"""evidence listed by incident: an index for ListEvidence's incident filter

An incident's items are read in the listing's order (capture time) within the agency, instead of
being picked out of all the agency's items.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 12:50:00
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.create_index(
            "ix_evidence_agency_incident_captured", ["agency_id", "incident_id", "captured_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.drop_index("ix_evidence_agency_incident_captured")
