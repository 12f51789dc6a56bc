"""telemetry: devices, device keys, sealed readings, clinical alerts

Revision ID: 0003_telemetry
Revises: 0001_foundation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_telemetry"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("telemetry",)
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "telemetry_devices",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("label", sa.String(100), nullable=True),
        sa.Column("algorithm", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=True),
        sa.Column("incident_id", sa.String(36), nullable=True),
        sa.Column("unit_id", sa.String(36), nullable=True),
        sa.Column("spo2_scale", sa.Integer(), nullable=False),
        sa.Column("active_key_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("bound_at", TS, nullable=True),
        sa.Column("last_seen_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telemetry_devices")),
    )
    op.create_index(
        op.f("ix_telemetry_devices_patient_id"), "telemetry_devices", ["patient_id"], unique=False
    )
    op.create_table(
        "telemetry_device_keys",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("algorithm", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["telemetry_devices.id"],
            name=op.f("fk_telemetry_device_keys_device_id_telemetry_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", "key_id", name=op.f("pk_telemetry_device_keys")),
    )
    op.create_table(
        "telemetry_readings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=True),
        sa.Column("ts", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telemetry_readings")),
        sa.UniqueConstraint(
            "device_id", "key_id", "counter", "idx", name="uq_telemetry_readings_msg"
        ),
    )
    op.create_index(
        "ix_telemetry_readings_patient_ts", "telemetry_readings", ["patient_id", "ts"], unique=False
    )
    op.create_table(
        "telemetry_alerts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("acknowledged_by", sa.String(100), nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolved_by", sa.String(100), nullable=True),
        sa.Column("cleared_at", TS, nullable=True),
        sa.Column("escalation_step", sa.Integer(), nullable=False),
        sa.Column("escalated_to", sa.String(32), nullable=True),
        sa.Column("escalate_at", TS, nullable=True),
        sa.Column("detail_sealed", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telemetry_alerts")),
    )
    op.create_index(
        op.f("ix_telemetry_alerts_patient_id"), "telemetry_alerts", ["patient_id"], unique=False
    )
    op.create_index(
        op.f("ix_telemetry_alerts_status"), "telemetry_alerts", ["status"], unique=False
    )
    op.create_index(
        "ux_telemetry_alerts_open",
        "telemetry_alerts",
        ["patient_id", "kind", "scope"],
        unique=True,
        sqlite_where=sa.text("status != 'resolved'"),
        postgresql_where=sa.text("status != 'resolved'"),
    )


def downgrade() -> None:
    op.drop_table("telemetry_alerts")
    op.drop_table("telemetry_readings")
    op.drop_table("telemetry_device_keys")
    op.drop_index(op.f("ix_telemetry_devices_patient_id"), table_name="telemetry_devices")
    op.drop_table("telemetry_devices")
