"""Intake record shapes in and out: bed board, legal cases, clinicians, slots, bookings."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

BedStatus = Literal["available", "occupied", "cleaning", "closed"]
SlotKind = Literal["follow_up", "specialist"]
_Id = Field(min_length=1, max_length=36)
_Zone = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class BedCreate(_In):
    hospital_id: str = _Id
    zone: str = _Zone
    label: str = Field(min_length=1, max_length=40)
    monitored: bool = False


class BedMove(_In):
    """A status change on the board; `version` is the one read (a stale move is refused)."""

    status: BedStatus
    version: int = Field(ge=1)


class BedAssign(_In):
    session_id: str | None = Field(default=None, max_length=36)
    person_id: str | None = Field(default=None, max_length=36)
    acuity: int | None = Field(default=None, ge=1, le=5)


class Occupant(BaseModel):
    assignment_id: str
    session_id: str | None
    person_id: str | None
    acuity: int | None
    assigned_at: datetime


class BedRead(BaseModel):
    id: str
    hospital_id: str
    zone: str
    label: str
    status: BedStatus
    monitored: bool
    version: int
    updated_at: datetime
    occupant: Occupant | None = None


class BedBoard(BaseModel):
    hospital_id: str
    beds: list[BedRead]
    # Free beds per zone (what the hospital's reported ED capacity counts).
    available_by_zone: dict[str, int]
    available: int


class Obligation(BaseModel):
    rule: str
    category: str
    authority: str
    police: str
    police_task: str
    due_at: str | None
    evidence: bool
    legal_basis: str
    shown_by: str


class CustodyNoteCreate(_In):
    item: str = Field(min_length=1, max_length=200, description="The evidence item (clothing...)")
    from_party: str = Field(min_length=1, max_length=200)
    to_party: str = Field(min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=2000)


class CustodyNoteRead(BaseModel):
    id: str
    sequence: int
    item: str
    from_party: str
    to_party: str
    note: str | None
    recorded_by: str
    recorded_at: datetime


class LegalCaseUpdate(_In):
    police_task: Literal["to_do", "done", "awaiting_consent", "not_required"] | None = None
    police_reference: str | None = Field(default=None, max_length=80)
    consent: Literal["given", "refused", "not_asked"] | None = None
    capacity: Literal["has_capacity", "lacks_capacity", "not_assessed"] | None = None
    status: Literal["open", "reported", "closed"] | None = None
    # Why, for the audit (required: a legal record changes only with its reason).
    reason: str = Field(min_length=1, max_length=500)


class LegalCaseRead(BaseModel):
    id: str
    session_id: str
    person_id: str | None
    jurisdiction: str
    rules: list[str]
    categories: list[str]
    status: str
    police_task: str
    police_due_at: datetime | None
    police_reference: str | None
    consent: str
    capacity: str
    obligations: list[Obligation]
    circumstances: str | None
    custody: list[CustodyNoteRead]
    history: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


class ClinicianCreate(_In):
    name: str = Field(min_length=1, max_length=120)
    specialty: str = Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_]*$")
    hospital_id: str | None = Field(default=None, max_length=36)
    user_id: str | None = Field(default=None, max_length=36)


class ClinicianRead(BaseModel):
    id: str
    name: str
    specialty: str
    hospital_id: str | None
    user_id: str | None
    active: bool
    created_at: datetime


class AvailabilityCreate(_In):
    """A window of the clinician's time, cut into bookable slots."""

    starts_at: datetime
    ends_at: datetime
    slot_minutes: int = Field(default=20, ge=5, le=480)
    kind: SlotKind = "follow_up"
    location: str | None = Field(default=None, max_length=120)

    @model_validator(mode="after")
    def _aware_and_ordered(self) -> AvailabilityCreate:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("times need a UTC offset")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class SlotRead(BaseModel):
    id: str
    clinician_id: str
    clinician_name: str
    specialty: str
    kind: SlotKind
    starts_at: datetime
    ends_at: datetime
    location: str | None
    booked: bool


class BookingCreate(_In):
    slot_id: str = _Id
    reason: str = Field(min_length=1, max_length=200)
    person_id: str | None = Field(default=None, max_length=36)
    session_id: str | None = Field(default=None, max_length=36)


class BookingRead(BaseModel):
    id: str
    slot: SlotRead
    session_id: str | None
    person_id: str | None
    reason: str
    booked_by: str
    booked_at: datetime
    cancelled_at: datetime | None
