"""Intake records: the ED bed board, admissions, legal cases, clinicians' slots and bookings,
and the ledger of other step effects.

Every effect row carries the step's idempotency key (`{session_id}:{agent}`) under a unique
constraint. Anything that says who a patient is or what happened to them (custody notes, the
reported circumstances) is sealed with the keyring; the rest is operational (bed states, slot
times) and stays in the clear so the boards can be queried.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from emsync.core.db import Base


class Bed(Base):
    """One bed of one hospital's ED, in a zone (resus, majors, minors, paediatric...)."""

    __tablename__ = "intake_beds"
    __table_args__ = (UniqueConstraint("hospital_id", "label"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hospital_id: Mapped[str] = mapped_column(String(36), index=True)
    zone: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(40))
    # available | occupied | cleaning | closed (beds.STATUSES; the moves are beds.MOVES).
    status: Mapped[str] = mapped_column(String(16))
    # Monitored beds (resus) take the most acute patients first.
    monitored: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime]


class BedAssignment(Base):
    """A patient in a bed. At most one open assignment per bed (partial unique index), and one
    per admitting step (idempotency key)."""

    __tablename__ = "intake_bed_assignments"
    __table_args__ = (
        Index(
            "uq_intake_bed_assignments_open_bed",
            "bed_id",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bed_id: Mapped[str] = mapped_column(ForeignKey("intake_beds.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    session_id: Mapped[str | None] = mapped_column(String(36), index=True, default=None)
    person_id: Mapped[str | None] = mapped_column(String(36), default=None)
    acuity: Mapped[int | None] = mapped_column(Integer, default=None)
    assigned_by: Mapped[str] = mapped_column(String(100))
    assigned_at: Mapped[datetime]
    released_at: Mapped[datetime | None] = mapped_column(default=None)


class Admission(Base):
    """What the admission step did for one session: the registry person and the bed."""

    __tablename__ = "intake_admissions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    session_id: Mapped[str] = mapped_column(String(36), index=True)
    hospital_id: Mapped[str | None] = mapped_column(String(36), default=None)
    person_id: Mapped[str] = mapped_column(String(36))
    match_decision: Mapped[str] = mapped_column(String(16))
    review_id: Mapped[str | None] = mapped_column(String(36), default=None)
    bed_id: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime]


class LegalCase(Base):
    """A reportable case: the rules that fired, the police-notification task, consent and
    capacity. The circumstances are sealed (they name what happened to a person)."""

    __tablename__ = "intake_legal_cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    session_id: Mapped[str] = mapped_column(String(36), index=True)
    person_id: Mapped[str | None] = mapped_column(String(36), default=None)
    jurisdiction: Mapped[str] = mapped_column(String(16))
    # Rule ids from the jurisdiction's table (data/legal_rules.json), e.g. ["FI-stab-wound"].
    rules: Mapped[list[str]] = mapped_column(JSON)
    categories: Mapped[list[str]] = mapped_column(JSON)
    # open | reported | closed
    status: Mapped[str] = mapped_column(String(16))
    # The police-notification task: to_do | done | not_required, and when it is due.
    police_task: Mapped[str] = mapped_column(String(16))
    police_due_at: Mapped[datetime | None] = mapped_column(default=None)
    police_reference: Mapped[str | None] = mapped_column(String(80), default=None)
    # Consent to share with police: given | refused | not_asked | not_required; capacity:
    # has_capacity | lacks_capacity | not_assessed.
    consent: Mapped[str] = mapped_column(String(16))
    capacity: Mapped[str] = mapped_column(String(16))
    details_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CustodyNote(Base):
    """One link of an evidence item's chain of custody (sealed: item, from, to, note)."""

    __tablename__ = "intake_custody_notes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(
        ForeignKey("intake_legal_cases.id", ondelete="CASCADE"), index=True
    )
    sequence: Mapped[int] = mapped_column(Integer)
    note_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("case_id", "sequence"),)


class Clinician(Base):
    __tablename__ = "intake_clinicians"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    specialty: Mapped[str] = mapped_column(String(60), index=True)
    hospital_id: Mapped[str | None] = mapped_column(String(36), default=None)
    # The user account, when the clinician has one (for on-call and notifications).
    user_id: Mapped[str | None] = mapped_column(String(36), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Slot(Base):
    """One bookable appointment slot. `booking_id` is set by a conditional UPDATE (only while it
    is NULL), so two bookings racing for the last slot cannot both win."""

    __tablename__ = "intake_slots"
    __table_args__ = (
        UniqueConstraint("clinician_id", "starts_at"),
        Index("ix_intake_slots_open", "kind", "starts_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    clinician_id: Mapped[str] = mapped_column(
        ForeignKey("intake_clinicians.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16))  # follow_up | specialist
    specialty: Mapped[str] = mapped_column(String(60))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    location: Mapped[str | None] = mapped_column(String(120), default=None)
    booking_id: Mapped[str | None] = mapped_column(String(36), unique=True, default=None)


class Booking(Base):
    __tablename__ = "intake_bookings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    slot_id: Mapped[str] = mapped_column(ForeignKey("intake_slots.id", ondelete="CASCADE"))
    session_id: Mapped[str | None] = mapped_column(String(36), index=True, default=None)
    person_id: Mapped[str | None] = mapped_column(String(36), default=None)
    reason: Mapped[str] = mapped_column(String(200))
    booked_by: Mapped[str] = mapped_column(String(100))
    booked_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)


class StepEffect(Base):
    """Effects written into other domains (a device report on the chart, a registry person)
    whose tables carry no key of ours: one row per (step key, effect), written in the same
    transaction as the effect, so a re-run finds it and repeats nothing."""

    __tablename__ = "intake_step_effects"

    idempotency_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    effect: Mapped[str] = mapped_column(String(40), primary_key=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
