"""incidents: destinations of an incident's patients, for hospital staff's need-to-know scope

Revision ID: 0011_incident_destinations
Revises: 0001_foundation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_incident_destinations"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("incidents",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_destinations",
        sa.Column("incident_id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_destinations_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "source", name=op.f("pk_incident_destinations")),
    )
    with op.batch_alter_table("incident_destinations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_destinations_hospital_id"), ["hospital_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("incident_destinations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_destinations_hospital_id"))
    op.drop_table("incident_destinations")
