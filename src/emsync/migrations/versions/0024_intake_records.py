"""intake records: the ED bed board, admissions, legal cases and custody notes, clinicians'
slots and bookings, and the ledger of step effects

Revision ID: 0024_intake_records
Revises: 0001_foundation

The intake agents' own branch on the foundation (intake-engine's sessions are another branch).
Every effect table has a unique idempotency key; a bed has at most one open assignment (partial
unique index) and a slot at most one booking (unique booking_id).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_intake_records"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("intake_records",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_admissions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("hospital_id", sa.String(length=36), nullable=True),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("match_decision", sa.String(length=16), nullable=False),
        sa.Column("review_id", sa.String(length=36), nullable=True),
        sa.Column("bed_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_admissions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_intake_admissions_idempotency_key")),
    )
    op.create_index(
        op.f("ix_intake_admissions_session_id"), "intake_admissions", ["session_id"], unique=False
    )

    op.create_table(
        "intake_beds",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("hospital_id", sa.String(length=36), nullable=False),
        sa.Column("zone", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("monitored", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_beds")),
        sa.UniqueConstraint("hospital_id", "label", name=op.f("uq_intake_beds_hospital_id")),
    )
    op.create_index(
        op.f("ix_intake_beds_hospital_id"), "intake_beds", ["hospital_id"], unique=False
    )

    op.create_table(
        "intake_clinicians",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("specialty", sa.String(length=60), nullable=False),
        sa.Column("hospital_id", sa.String(length=36), nullable=True),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_clinicians")),
    )
    op.create_index(
        op.f("ix_intake_clinicians_specialty"), "intake_clinicians", ["specialty"], unique=False
    )

    op.create_table(
        "intake_legal_cases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("jurisdiction", sa.String(length=16), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("police_task", sa.String(length=16), nullable=False),
        sa.Column("police_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("police_reference", sa.String(length=80), nullable=True),
        sa.Column("consent", sa.String(length=16), nullable=False),
        sa.Column("capacity", sa.String(length=16), nullable=False),
        sa.Column("details_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_legal_cases")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_intake_legal_cases_idempotency_key")),
    )
    op.create_index(
        op.f("ix_intake_legal_cases_session_id"), "intake_legal_cases", ["session_id"], unique=False
    )

    op.create_table(
        "intake_step_effects",
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("effect", sa.String(length=40), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("idempotency_key", "effect", name=op.f("pk_intake_step_effects")),
    )
    op.create_table(
        "intake_bed_assignments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("bed_id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("acuity", sa.Integer(), nullable=True),
        sa.Column("assigned_by", sa.String(length=100), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["bed_id"],
            ["intake_beds.id"],
            name=op.f("fk_intake_bed_assignments_bed_id_intake_beds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_bed_assignments")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_intake_bed_assignments_idempotency_key")
        ),
    )
    op.create_index(
        op.f("ix_intake_bed_assignments_session_id"),
        "intake_bed_assignments",
        ["session_id"],
        unique=False,
    )
    op.create_index(
        "uq_intake_bed_assignments_open_bed",
        "intake_bed_assignments",
        ["bed_id"],
        unique=True,
        sqlite_where=sa.text("released_at IS NULL"),
        postgresql_where=sa.text("released_at IS NULL"),
    )

    op.create_table(
        "intake_custody_notes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("note_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["intake_legal_cases.id"],
            name=op.f("fk_intake_custody_notes_case_id_intake_legal_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_custody_notes")),
        sa.UniqueConstraint("case_id", "sequence", name=op.f("uq_intake_custody_notes_case_id")),
    )
    op.create_index(
        op.f("ix_intake_custody_notes_case_id"), "intake_custody_notes", ["case_id"], unique=False
    )

    op.create_table(
        "intake_slots",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("clinician_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("specialty", sa.String(length=60), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("location", sa.String(length=120), nullable=True),
        sa.Column("booking_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinician_id"],
            ["intake_clinicians.id"],
            name=op.f("fk_intake_slots_clinician_id_intake_clinicians"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_slots")),
        sa.UniqueConstraint("booking_id", name=op.f("uq_intake_slots_booking_id")),
        sa.UniqueConstraint("clinician_id", "starts_at", name=op.f("uq_intake_slots_clinician_id")),
    )
    op.create_index("ix_intake_slots_open", "intake_slots", ["kind", "starts_at"], unique=False)

    op.create_table(
        "intake_bookings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("slot_id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("booked_by", sa.String(length=100), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["intake_slots.id"],
            name=op.f("fk_intake_bookings_slot_id_intake_slots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_bookings")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_intake_bookings_idempotency_key")),
    )
    op.create_index(
        op.f("ix_intake_bookings_session_id"), "intake_bookings", ["session_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("intake_bookings")
    op.drop_table("intake_slots")
    op.drop_table("intake_custody_notes")
    op.drop_table("intake_bed_assignments")
    op.drop_table("intake_step_effects")
    op.drop_table("intake_legal_cases")
    op.drop_table("intake_clinicians")
    op.drop_table("intake_beds")
    op.drop_table("intake_admissions")
