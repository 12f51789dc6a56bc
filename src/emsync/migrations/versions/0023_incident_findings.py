"""incidents: the clinical findings and condition override the destination rules read

Revision ID: 0023_incident_findings
Revises: 0011_incident_destinations
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_incident_findings"
down_revision: str | Sequence[str] | None = "0011_incident_destinations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("findings_sealed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("findings_sealed")
