"""telemetry: live deterioration risk scores kept at rest (sealed), for the monitor's trend

The live score (emsync.telemetry.live_risk) was kept only in the scoring process's memory: a
restart lost its trend, and a separate API process had none to show. Retention follows the
readings' (EMSYNC_TELEMETRY__RETENTION_DAYS).

Revision ID: 0025_telemetry_risk_scores
Revises: 0020_telemetry_partitions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_telemetry_risk_scores"
down_revision: str | Sequence[str] | None = "0020_telemetry_partitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "telemetry_risk_scores",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_id", "ts", "model_version", name="uq_telemetry_risk_scores"),
    )
    op.create_index("ix_telemetry_risk_scores_ts", "telemetry_risk_scores", ["ts"])


def downgrade() -> None:
    op.drop_index("ix_telemetry_risk_scores_ts", table_name="telemetry_risk_scores")
    op.drop_table("telemetry_risk_scores")
