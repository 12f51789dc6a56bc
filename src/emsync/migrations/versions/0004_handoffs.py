"""handoffs: hospital keys, feeds, handoffs, update log, attachments, outbox, feed cursors

Revision ID: 0004_handoffs
Revises: 0001_foundation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_handoffs"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("handoffs",)
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "handoff_hospital_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("private_key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_hospital_keys")),
        sa.UniqueConstraint(
            "hospital_id", "version", name=op.f("uq_handoff_hospital_keys_hospital_id")
        ),
    )
    op.create_index(
        op.f("ix_handoff_hospital_keys_hospital_id"), "handoff_hospital_keys", ["hospital_id"]
    )
    op.create_table(
        "handoff_feeds",
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("last_seq", BigId, nullable=False),
        sa.PrimaryKeyConstraint("hospital_id", name=op.f("pk_handoff_feeds")),
    )
    op.create_table(
        "handoffs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=True),
        sa.Column("unit_id", sa.String(length=64), nullable=True),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("acuity", sa.Integer(), nullable=True),
        sa.Column("eta", sa.DateTime(timezone=True), nullable=True),
        sa.Column("key_id", sa.String(length=36), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("content_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("last_update_seq", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["handoff_hospital_keys.id"],
            name=op.f("fk_handoffs_key_id_handoff_hospital_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoffs")),
    )
    for column in ("status", "incident_id", "patient_id", "unit_id", "hospital_id"):
        op.create_index(op.f(f"ix_handoffs_{column}"), "handoffs", [column])
    op.create_index(op.f("ix_handoffs_created_at"), "handoffs", ["created_at"])
    op.create_index(op.f("ix_handoffs_sent_at"), "handoffs", ["sent_at"])
    op.create_table(
        "handoff_updates",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("handoff_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status_from", sa.String(length=20), nullable=True),
        sa.Column("status_to", sa.String(length=20), nullable=True),
        sa.Column("payload_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_handoff_updates_handoff_id_handoffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_updates")),
        sa.UniqueConstraint("handoff_id", "seq", name=op.f("uq_handoff_updates_handoff_id")),
    )
    op.create_table(
        "handoff_attachments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("handoff_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("content_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_handoff_attachments_handoff_id_handoffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_attachments")),
    )
    op.create_index(
        op.f("ix_handoff_attachments_handoff_id"), "handoff_attachments", ["handoff_id"]
    )
    op.create_table(
        "handoff_outbox",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("seq", BigId, nullable=False),
        sa.Column("handoff_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("update_seq", sa.Integer(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_handoff_outbox_handoff_id_handoffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_outbox")),
        sa.UniqueConstraint("hospital_id", "seq", name=op.f("uq_handoff_outbox_hospital_id")),
    )
    op.create_table(
        "handoff_feed_cursors",
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("acked_seq", BigId, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hospital_id", "client_id", name=op.f("pk_handoff_feed_cursors")),
    )


def downgrade() -> None:
    op.drop_table("handoff_feed_cursors")
    op.drop_table("handoff_outbox")
    op.drop_index(op.f("ix_handoff_attachments_handoff_id"), table_name="handoff_attachments")
    op.drop_table("handoff_attachments")
    op.drop_table("handoff_updates")
    for column in (
        "sent_at",
        "created_at",
        "hospital_id",
        "unit_id",
        "patient_id",
        "incident_id",
        "status",
    ):
        op.drop_index(op.f(f"ix_handoffs_{column}"), table_name="handoffs")
    op.drop_table("handoffs")
    op.drop_table("handoff_feeds")
    op.drop_index(op.f("ix_handoff_hospital_keys_hospital_id"), table_name="handoff_hospital_keys")
    op.drop_table("handoff_hospital_keys")
