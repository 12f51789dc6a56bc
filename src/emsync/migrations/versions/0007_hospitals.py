"""hospitals: facilities, capabilities, ED capacity, diversion

Revision ID: 0007_hospitals
Revises: 0001_foundation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_hospitals"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("hospitals",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hospitals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("osm_kind", sa.String(length=10), nullable=True),
        sa.Column("osm_id", sa.BigInteger(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("emergency_department", sa.Boolean(), nullable=True),
        sa.Column("trauma_level", sa.Integer(), nullable=True),
        sa.Column("stroke_centre", sa.Boolean(), nullable=False),
        sa.Column("pci", sa.Boolean(), nullable=False),
        sa.Column("burns", sa.Boolean(), nullable=False),
        sa.Column("paediatrics", sa.Boolean(), nullable=False),
        sa.Column("ed_beds_available", sa.Integer(), nullable=True),
        sa.Column("diversion", sa.Boolean(), nullable=False),
        sa.Column("diversion_reason", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hospitals")),
        sa.UniqueConstraint("osm_kind", "osm_id", name="uq_hospitals_osm"),
    )


def downgrade() -> None:
    op.drop_table("hospitals")
