"""intake: worker heartbeats, so a live worker takes over a dead one's runs

Revision ID: 0026_intake_workers
Revises: 0024_intake_sessions

With several workers on one PostgreSQL database, DBOS recovers at launch only the runs of the
launching worker's own executor id: a worker that died and did not come back left its runs to
nobody. Each worker now records a heartbeat here; a live one claims a silent one's row (a
conditional UPDATE, so one survivor) and re-queues its unfinished runs (intake.workers).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_intake_workers"
down_revision: str | Sequence[str] | None = "0024_intake_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_workers",
        sa.Column("executor_id", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_over_by", sa.String(length=200), nullable=True),
        sa.Column("taken_over_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("runs_taken_over", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("executor_id"),
    )


def downgrade() -> None:
    op.drop_table("intake_workers")
