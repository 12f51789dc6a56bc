"""events: the transactional outbox, delivery records and persisted dead letters

Revision ID: 0024_events_outbox
Revises: 0001_foundation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_events_outbox"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("events",)
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("seq", BigId, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("payload_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("relayed_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_event_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_event_outbox_event_id")),
    )
    op.create_index("ix_event_outbox_relayed_at", "event_outbox", ["relayed_at"])
    op.create_table(
        "event_deliveries",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("handler", sa.String(length=200), nullable=False),
        sa.Column("delivered_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("event_id", "handler", name=op.f("pk_event_deliveries")),
    )
    op.create_index(op.f("ix_event_deliveries_delivered_at"), "event_deliveries", ["delivered_at"])
    op.create_table(
        "event_dead_letters",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("payload_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("handler", sa.String(length=200), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", UTC, nullable=False),
        sa.Column("last_failed_at", UTC, nullable=False),
        sa.Column("retry_requested_at", UTC, nullable=True),
        sa.Column("resolved_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_dead_letters")),
        sa.UniqueConstraint("event_id", "handler", name=op.f("uq_event_dead_letters_event_id")),
    )
    op.create_index(op.f("ix_event_dead_letters_handler"), "event_dead_letters", ["handler"])
    op.create_index(
        op.f("ix_event_dead_letters_resolved_at"), "event_dead_letters", ["resolved_at"]
    )


def downgrade() -> None:
    op.drop_table("event_dead_letters")
    op.drop_table("event_deliveries")
    op.drop_table("event_outbox")
