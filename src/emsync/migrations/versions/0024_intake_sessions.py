"""intake: sessions, steps, agent logs, overrides

Revision ID: 0024_intake_sessions
Revises: 0001_foundation

The intake orchestrator's own branch on the foundation: one session per workflow run (its
input sealed), its steps with status, tries, claim and sealed result, one agent-log row per
attempt (inputs sealed, rule versions in the clear) and clinicians' overrides (reason sealed).
The durable workflows' checkpoints live in DBOS's system tables, which DBOS migrates itself.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_intake_sessions"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("intake",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workflow", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source_key", sa.String(length=100), nullable=True),
        sa.Column("hospital_id", sa.String(length=36), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("payload_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clinical_done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_sessions")),
        sa.UniqueConstraint("source_key", name=op.f("uq_intake_sessions_source_key")),
    )
    with op.batch_alter_table("intake_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_sessions_hospital_id"), ["hospital_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_intake_sessions_status"), ["status"], unique=False)

    op.create_table(
        "intake_agent_logs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("agent", sa.String(length=30), nullable=False),
        sa.Column("agent_version", sa.String(length=40), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("inputs_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("result_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["intake_sessions.id"],
            name=op.f("fk_intake_agent_logs_session_id_intake_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_agent_logs")),
    )
    with op.batch_alter_table("intake_agent_logs", schema=None) as batch_op:
        batch_op.create_index("ix_intake_agent_logs_agent", ["agent", "started_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_intake_agent_logs_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "intake_overrides",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("agent", sa.String(length=30), nullable=True),
        sa.Column("order", sa.JSON(), nullable=True),
        sa.Column("reason_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["intake_sessions.id"],
            name=op.f("fk_intake_overrides_session_id_intake_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_overrides")),
    )
    with op.batch_alter_table("intake_overrides", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_overrides_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "intake_steps",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("agent", sa.String(length=30), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("clinical", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=160), nullable=True),
        sa.Column("result_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Double(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["intake_sessions.id"],
            name=op.f("fk_intake_steps_session_id_intake_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "agent", name=op.f("pk_intake_steps")),
    )


def downgrade() -> None:
    op.drop_table("intake_steps")
    with op.batch_alter_table("intake_overrides", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_overrides_session_id"))

    op.drop_table("intake_overrides")
    with op.batch_alter_table("intake_agent_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_agent_logs_session_id"))
        batch_op.drop_index("ix_intake_agent_logs_agent")

    op.drop_table("intake_agent_logs")
    with op.batch_alter_table("intake_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_sessions_status"))
        batch_op.drop_index(batch_op.f("ix_intake_sessions_hospital_id"))

    op.drop_table("intake_sessions")
