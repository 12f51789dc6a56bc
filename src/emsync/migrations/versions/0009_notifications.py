"""notifications: contact points, preferences, teams, schedules, overrides, escalation
policies, pages, the notification outbox and its attempts, ack tokens, inbound SMS

Revision ID: 0009_notifications
Revises: 0001_foundation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_notifications"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("notifications",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notify_contact_points",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("address_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("address_digest", sa.String(length=64), nullable=False),
        sa.Column("masked", sa.String(length=200), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_digest", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_contact_points")),
    )
    with op.batch_alter_table("notify_contact_points", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notify_contact_points_address_digest"), ["address_digest"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notify_contact_points_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "notify_inbound",
        sa.Column("provider_id", sa.String(length=100), nullable=False),
        sa.Column("from_digest", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("provider_id", name=op.f("pk_notify_inbound")),
    )
    op.create_table(
        "notify_pages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=False),
        sa.Column("subject_kind", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("group_key", sa.String(length=200), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("data_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("policy_id", sa.String(length=36), nullable=True),
        sa.Column("policy_name", sa.String(length=100), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("steps_done", sa.Integer(), nullable=False),
        sa.Column("next_step_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=100), nullable=True),
        sa.Column("acknowledged_via", sa.String(length=32), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_pages")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_notify_pages_idempotency_key")),
    )
    with op.batch_alter_table("notify_pages", schema=None) as batch_op:
        batch_op.create_index("ix_notify_pages_due", ["status", "next_step_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_notify_pages_group_key"), ["group_key"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_notify_pages_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "notify_policies",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("triggers", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("repeat_after_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_policies")),
        sa.UniqueConstraint("name", name=op.f("uq_notify_policies_name")),
    )
    op.create_table(
        "notify_preferences",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("quiet_off_duty", sa.Boolean(), nullable=False),
        sa.Column("mute_after_logout", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notify_preferences")),
    )
    op.create_table(
        "notify_teams",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_notify_teams_name")),
    )
    op.create_table(
        "notify_ack_tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("page_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["notify_pages.id"],
            name=op.f("fk_notify_ack_tokens_page_id_notify_pages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_ack_tokens")),
    )
    op.create_table(
        "notify_notifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("page_id", sa.String(length=36), nullable=True),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("contact_point_id", sa.String(length=36), nullable=True),
        sa.Column("address_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("data_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("subject_kind", sa.String(length=32), nullable=True),
        sa.Column("subject_id", sa.String(length=64), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_id", sa.String(length=100), nullable=True),
        sa.Column("reply_code", sa.String(length=8), nullable=True),
        sa.Column("ack_token_id", sa.String(length=40), nullable=True),
        sa.Column("digest_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["notify_pages.id"],
            name=op.f("fk_notify_notifications_page_id_notify_pages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_notifications")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_notify_notifications_idempotency_key")
        ),
    )
    with op.batch_alter_table("notify_notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notify_notifications_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notify_notifications_page_id"), ["page_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notify_notifications_provider_id"), ["provider_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notify_notifications_subject_id"), ["subject_id"], unique=False
        )
        batch_op.create_index(
            "ix_notify_notifications_user_sent", ["user_id", "sent_at"], unique=False
        )

    op.create_table(
        "notify_schedules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("team_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("rotation_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shift_seconds", sa.Integer(), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["notify_teams.id"],
            name=op.f("fk_notify_schedules_team_id_notify_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_schedules")),
    )
    with op.batch_alter_table("notify_schedules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notify_schedules_team_id"), ["team_id"], unique=False)

    op.create_table(
        "notify_attempts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("notification_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notify_notifications.id"],
            name=op.f("fk_notify_attempts_notification_id_notify_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_attempts")),
    )
    with op.batch_alter_table("notify_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notify_attempts_notification_id"), ["notification_id"], unique=False
        )

    op.create_table(
        "notify_overrides",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("schedule_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["notify_schedules.id"],
            name=op.f("fk_notify_overrides_schedule_id_notify_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_overrides")),
    )
    with op.batch_alter_table("notify_overrides", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notify_overrides_schedule_id"), ["schedule_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notify_overrides", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_overrides_schedule_id"))

    op.drop_table("notify_overrides")
    with op.batch_alter_table("notify_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_attempts_notification_id"))

    op.drop_table("notify_attempts")
    with op.batch_alter_table("notify_schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_schedules_team_id"))

    op.drop_table("notify_schedules")
    with op.batch_alter_table("notify_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notify_notifications_user_sent")
        batch_op.drop_index(batch_op.f("ix_notify_notifications_subject_id"))
        batch_op.drop_index(batch_op.f("ix_notify_notifications_provider_id"))
        batch_op.drop_index(batch_op.f("ix_notify_notifications_page_id"))
        batch_op.drop_index("ix_notify_notifications_due")

    op.drop_table("notify_notifications")
    op.drop_table("notify_ack_tokens")
    op.drop_table("notify_teams")
    op.drop_table("notify_preferences")
    op.drop_table("notify_policies")
    with op.batch_alter_table("notify_pages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_pages_subject_id"))
        batch_op.drop_index(batch_op.f("ix_notify_pages_group_key"))
        batch_op.drop_index("ix_notify_pages_due")

    op.drop_table("notify_pages")
    op.drop_table("notify_inbound")
    with op.batch_alter_table("notify_contact_points", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_contact_points_user_id"))
        batch_op.drop_index(batch_op.f("ix_notify_contact_points_address_digest"))

    op.drop_table("notify_contact_points")
