"""handoffs: how many attachments each handoff has, so reading one without any selects none

Every read of a handoff for its hospital (the live push of a sent handoff, the answer to the
hospital's acknowledgement, GET /api/handoffs/{id}) selected its attachments; almost none has
any. Counted from the existing rows.

Revision ID: 0026_handoffs_attachment_count
Revises: 0004_handoffs (the head of the handoffs branch)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_handoffs_attachment_count"
down_revision: str | Sequence[str] | None = "0004_handoffs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "handoffs",
        sa.Column("attachment_count", sa.Integer(), nullable=False, server_default="0"),
    )
    op.execute(
        "UPDATE handoffs SET attachment_count = (SELECT count(*) FROM handoff_attachments "
        "WHERE handoff_attachments.handoff_id = handoffs.id) "
        "WHERE EXISTS (SELECT 1 FROM handoff_attachments "
        "WHERE handoff_attachments.handoff_id = handoffs.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_column("attachment_count")
