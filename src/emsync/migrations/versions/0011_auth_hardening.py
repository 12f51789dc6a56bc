"""auth hardening (issue #14): account versions for fresh authorisation, keyed audit chain

Revision ID: 0011_auth_hardening
Revises: 0001_foundation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_auth_hardening"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("auth",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("auth_version", sa.Integer(), nullable=False, server_default="0")
        )
    # ADD COLUMN only: SQLite's batch mode would rebuild the table, which its append-only
    # triggers refuse (and a rebuild is a DELETE of every row in all but name).
    op.add_column("audit_log", sa.Column("key_id", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # ALWAYS: the trigger fires also under session_replication_role = replica, which
        # otherwise let a session skip it (issue #14 item 6).
        op.execute("ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_append_only")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("key_id")
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("auth_version")
