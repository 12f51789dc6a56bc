"""dispatch: which crew account is signed on to which unit (the crew view's unit)

Revision ID: 0024_dispatch_crew_sign_ons
Revises: 0007_dispatch
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_dispatch_crew_sign_ons"
down_revision: str | Sequence[str] | None = "0007_dispatch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crew_sign_ons",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("unit_id", sa.String(length=36), nullable=False),
        sa.Column("signed_on_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_crew_sign_ons_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_crew_sign_ons")),
    )
    with op.batch_alter_table("crew_sign_ons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crew_sign_ons_unit_id"), ["unit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("crew_sign_ons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crew_sign_ons_unit_id"))
    op.drop_table("crew_sign_ons")
