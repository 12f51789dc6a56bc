"""intake: each worker's unfinished runs, recorded with its heartbeat

The ops view of the workers (GET /api/intake/health/workers, the dashboard's intake health
panel) showed alive or silent and what was taken over, not how many runs a worker held: the
API process usually runs no DBOS and cannot ask DBOS's tables, so each worker records its count
with every heartbeat (intake.workers). Existing rows start at 0 until their next heartbeat.

Revision ID: 0027_intake_runs_in_flight
Revises: 0026_intake_workers (the head of the intake branch)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_intake_runs_in_flight"
down_revision: str | Sequence[str] | None = "0026_intake_workers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "intake_workers",
        sa.Column("runs_in_flight", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("intake_workers", schema=None) as batch_op:
        batch_op.drop_column("runs_in_flight")
