"""telemetry: readings partitioned by month on PostgreSQL

On PostgreSQL `telemetry_readings` becomes a table partitioned by range of `ts` (monthly
partitions, named and maintained by emsync.telemetry.retention / maintenance, plus a default
partition), so retention drops whole months instead of deleting rows. PostgreSQL requires the
partition key in every unique constraint, so the primary key becomes (id, ts) and the
idempotency key (device, key id, counter, index, ts): a redelivered message carries the same ts
and is still refused; a different message reusing a counter was already refused by the replay
guard. SQLite keeps the plain table.

Revision ID: 0020_telemetry_partitions
Revises: 0003_telemetry
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from emsync.telemetry.retention import DEFAULT_PARTITION, TABLE, Month, months_to_create

revision: str = "0020_telemetry_partitions"
down_revision: str | Sequence[str] | None = "0003_telemetry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = f"{TABLE}_unpartitioned"
MONTHS_AHEAD = 3  # the worker keeps EMSYNC_TELEMETRY__PARTITIONS_AHEAD from then on


def _create_month(month: Month) -> None:
    op.execute(
        f"CREATE TABLE {month.partition} PARTITION OF {TABLE} "
        f"FOR VALUES FROM ('{month.start.isoformat()}') TO ('{month.end.isoformat()}')"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
    for old, new in (
        ("pk_telemetry_readings", "pk_telemetry_readings_unpartitioned"),
        ("uq_telemetry_readings_msg", "uq_telemetry_readings_msg_unpartitioned"),
    ):
        op.execute(f"ALTER TABLE {OLD} RENAME CONSTRAINT {old} TO {new}")
    op.execute(
        "ALTER INDEX ix_telemetry_readings_patient_ts "
        "RENAME TO ix_telemetry_readings_patient_ts_unpartitioned"
    )
    # LIKE ... INCLUDING DEFAULTS keeps `id`'s nextval() on the existing sequence.
    op.execute(f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS) PARTITION BY RANGE (ts)")
    op.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT pk_telemetry_readings PRIMARY KEY (id, ts)")
    op.execute(
        f"ALTER TABLE {TABLE} ADD CONSTRAINT uq_telemetry_readings_msg "
        "UNIQUE (device_id, key_id, counter, idx, ts)"
    )
    op.execute(f"CREATE INDEX ix_telemetry_readings_patient_ts ON {TABLE} (patient_id, ts)")
    op.execute(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {TABLE} DEFAULT")
    bind = op.get_bind()
    oldest, newest = bind.execute(sa.text(f"SELECT min(ts), max(ts) FROM {OLD}")).one()  # noqa: S608 - constant names
    now = datetime.now(UTC)
    months = set(months_to_create(now, MONTHS_AHEAD))
    if oldest is not None:
        month, last = Month.of(oldest), Month.of(max(newest, now))
        while month <= last:
            months.add(month)
            month = month.plus(1)
    for month in sorted(months):
        _create_month(month)
    op.execute(f"INSERT INTO {TABLE} SELECT * FROM {OLD}")  # noqa: S608 - constant names
    op.execute(f"ALTER SEQUENCE {TABLE}_id_seq OWNED BY {TABLE}.id")
    op.execute(f"DROP TABLE {OLD}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE TABLE {OLD} (LIKE {TABLE} INCLUDING DEFAULTS)")
    op.execute(f"INSERT INTO {OLD} SELECT * FROM {TABLE}")  # noqa: S608 - constant names
    op.execute(f"ALTER SEQUENCE {TABLE}_id_seq OWNED BY {OLD}.id")
    op.execute(f"DROP TABLE {TABLE}")  # its partitions go with it
    op.execute(f"ALTER TABLE {OLD} RENAME TO {TABLE}")
    op.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT pk_telemetry_readings PRIMARY KEY (id)")
    op.execute(
        f"ALTER TABLE {TABLE} ADD CONSTRAINT uq_telemetry_readings_msg "
        "UNIQUE (device_id, key_id, counter, idx)"
    )
    op.execute(f"CREATE INDEX ix_telemetry_readings_patient_ts ON {TABLE} (patient_id, ts)")
