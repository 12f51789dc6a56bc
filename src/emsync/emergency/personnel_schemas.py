"""Personnel, qualifications, teams, shifts and shift patterns."""

from __future__ import annotations

from datetime import date, time
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from emsync.emergency.roster import QualificationKind
from emsync.emergency.schemas import Name, Strict, UtcDatetime


class TeamCreate(Strict):
    name: Name


class TeamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str


class QualificationIn(Strict):
    kind: QualificationKind
    number: str | None = Field(default=None, max_length=60)
    expires_on: date | None = None


class QualificationRead(BaseModel):
    kind: QualificationKind
    number: str | None
    expires_on: date | None
    valid: bool  # unexpired today


class PersonCreate(Strict):
    name: Name
    username: str | None = Field(
        default=None, min_length=1, max_length=64, description="their EMsync login, if any"
    )
    agency: Name
    team_id: str | None = Field(default=None, max_length=36)
    phone: str | None = Field(default=None, max_length=40)
    qualifications: list[QualificationIn] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _one_per_kind(self) -> Self:
        kinds = [q.kind for q in self.qualifications]
        if len(kinds) != len(set(kinds)):
            raise ValueError("each qualification kind at most once")
        return self


class PersonUpdate(Strict):
    name: Name | None = None
    agency: Name | None = None
    team_id: str | None = Field(default=None, max_length=36)
    phone: str | None = Field(default=None, max_length=40)
    active: bool | None = None
    qualifications: list[QualificationIn] | None = Field(default=None, max_length=20)


class PersonRead(BaseModel):
    id: str
    name: str
    username: str | None
    agency: str
    team_id: str | None
    phone: str | None
    active: bool
    qualifications: list[QualificationRead]


class ShiftIn(Strict):
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    unit_id: str | None = Field(default=None, max_length=36, description="dispatch unit crewed")
    resource_id: str | None = Field(default=None, max_length=36)
    position: str | None = Field(default=None, max_length=30, description="e.g. driver")
    note: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if (self.ends_at - self.starts_at).total_seconds() > 36 * 3600:
            raise ValueError("a shift lasts at most 36 hours")
        return self


class ShiftBatch(Strict):
    """Shifts for one person, stored together or not at all."""

    shifts: list[ShiftIn] = Field(min_length=1, max_length=400)


class PatternSlotIn(Strict):
    day: int = Field(ge=0, le=59, description="day of the cycle, 0-based")
    start: time = Field(description="local wall-clock time in the pattern's timezone, no offset")
    # At least a quarter of an hour: a shorter "shift" is a typo, and a duration that rounds to
    # zero would make an empty window.
    hours: float = Field(ge=0.25, le=36)

    @field_validator("start")
    @classmethod
    def _local(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("start is a local time in the pattern's timezone: give no offset")
        return value


class PatternApply(Strict):
    """Roster a person from a repeating pattern (e.g. 2 days, 2 nights, 4 off)."""

    slots: list[PatternSlotIn] = Field(min_length=1, max_length=60)
    cycle_days: int = Field(ge=1, le=60)
    first_day: date
    days: int = Field(ge=1, le=366)
    timezone: str = Field(default="UTC", max_length=60)
    unit_id: str | None = Field(default=None, max_length=36)
    position: str | None = Field(default=None, max_length=30)

    @model_validator(mode="after")
    def _slots_in_cycle(self) -> Self:
        for n, slot in enumerate(self.slots):
            if slot.day >= self.cycle_days:
                raise ValueError(
                    f"slots[{n}].day {slot.day} is outside the {self.cycle_days}-day cycle"
                )
        return self


class ShiftRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    person_id: str
    person_name: str = ""
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    unit_id: str | None
    resource_id: str | None
    position: str | None
    note: str | None


class OnDutyRead(BaseModel):
    person_id: str
    name: str
    agency: str
    team_id: str | None
    shift_id: str
    ends_at: UtcDatetime
    unit_id: str | None
    resource_id: str | None
    position: str | None
    qualifications: list[QualificationRead]


class UnitCrewRead(BaseModel):
    """A dispatch unit's crew from the roster, and whether dispatch may send it."""

    unit_id: str
    call_sign: str
    unit_type: str
    status: str
    crew: list[str]
    rostered: bool
    problem: str | None
