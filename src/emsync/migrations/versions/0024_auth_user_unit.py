"""auth: the ambulance unit a crew member's account belongs to (the crew view's unit)

Revision ID: 0024_auth_user_unit
Revises: 0011_auth_hardening
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_auth_user_unit"
down_revision: str | Sequence[str] | None = "0011_auth_hardening"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("unit_id")
