"""dispatch: units, unit status log, trips for ETA calibration

Revision ID: 0007_dispatch
Revises: 0001_foundation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_dispatch"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("dispatch",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("call_sign", sa.String(length=32), nullable=False),
        sa.Column("unit_type", sa.String(length=3), nullable=False),
        sa.Column("station_name", sa.String(length=100), nullable=True),
        sa.Column("station_lat", sa.Float(), nullable=False),
        sa.Column("station_lon", sa.Float(), nullable=False),
        sa.Column("crew", sa.JSON(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("position_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("speed_mps", sa.Float(), nullable=True),
        sa.Column("heading", sa.Float(), nullable=True),
        sa.Column("incident_id", sa.String(length=36), nullable=True),
        sa.Column("hospital_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_units_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("call_sign", name=op.f("uq_units_call_sign")),
        sa.UniqueConstraint("device_id", name=op.f("uq_units_device_id")),
    )
    op.create_index(op.f("ix_units_status"), "units", ["status"], unique=False)
    op.create_index(op.f("ix_units_incident_id"), "units", ["incident_id"], unique=False)
    op.create_table(
        "unit_status_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("old", sa.String(length=20), nullable=False),
        sa.Column("new", sa.String(length=20), nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_unit_status_log_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_status_log")),
    )
    op.create_index(
        op.f("ix_unit_status_log_unit_id"), "unit_status_log", ["unit_id"], unique=False
    )
    op.create_table(
        "dispatch_trips",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("unit_id", sa.String(length=36), nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("origin_lat", sa.Float(), nullable=False),
        sa.Column("origin_lon", sa.Float(), nullable=False),
        sa.Column("dest_lat", sa.Float(), nullable=False),
        sa.Column("dest_lon", sa.Float(), nullable=False),
        sa.Column("predicted_s", sa.Float(), nullable=False),
        sa.Column("class_seconds", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_s", sa.Float(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_dispatch_trips_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_trips")),
    )
    op.create_index(
        "ix_dispatch_trips_unit_state", "dispatch_trips", ["unit_id", "state"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_dispatch_trips_unit_state", table_name="dispatch_trips")
    op.drop_table("dispatch_trips")
    op.drop_index(op.f("ix_unit_status_log_unit_id"), table_name="unit_status_log")
    op.drop_table("unit_status_log")
    op.drop_index(op.f("ix_units_incident_id"), table_name="units")
    op.drop_index(op.f("ix_units_status"), table_name="units")
    op.drop_table("units")
