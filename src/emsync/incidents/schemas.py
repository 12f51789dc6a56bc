"""Incident request and response bodies, validated at the edge."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from emsync.core.schemas import refuse_explicit_null
from emsync.incidents.lifecycle import IncidentStatus

# Optional fields need an explicit default=None: a bare Field() would make them required.
Lat = Field(default=None, ge=-90, le=90, description="WGS84 latitude, degrees")
Lon = Field(default=None, ge=-180, le=180, description="WGS84 longitude, degrees")
Priority = Field(ge=1, le=5, description="1 = most urgent (KTAS-aligned) … 5 = least urgent")
Phone = Field(
    default=None,
    pattern=r"^\+?[0-9][0-9 ()\-]{2,24}$",
    max_length=25,
    description="Caller callback number (stored encrypted)",
)
Sex = Literal["female", "male", "other", "unknown"]
# The hospitals domain's vocabulary (hospitals.destination.Condition, hospitals.needs), spelled
# here because incidents cannot import hospitals; tests/unit/hospitals/test_needs.py pins both.
SuspectedCondition = Literal["stroke", "stemi", "major_trauma", "trauma", "burns"]
BeFastSign = Literal["balance", "eyes", "face", "arm", "speech"]
EcgFinding = Literal["stemi", "stemi_equivalent", "non_diagnostic", "normal"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PatientCreate(_Strict):
    label: str | None = Field(default=None, min_length=1, max_length=20)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    age_years: int | None = Field(default=None, ge=0, le=120)
    sex: Sex | None = None


class PatientUpdate(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    age_years: int | None = Field(default=None, ge=0, le=120)
    sex: Sex | None = None


class PatientRead(BaseModel):
    id: str
    incident_id: str
    label: str
    name: str | None
    age_years: int | None
    sex: str | None
    acuity: int | None
    news2: int | None
    triaged_at: datetime | None
    created_at: datetime


def _check_location(lat: float | None, lon: float | None) -> None:
    if (lat is None) != (lon is None):
        raise ValueError("lat and lon must be given together")


class IncidentCreate(_Strict):
    chief_complaint: str = Field(min_length=1, max_length=500)
    priority: int = Priority
    address: str | None = Field(default=None, min_length=1, max_length=300)
    lat: float | None = Lat
    lon: float | None = Lon
    caller_name: str | None = Field(default=None, min_length=1, max_length=200)
    callback_number: str | None = Phone
    notes: str | None = Field(default=None, max_length=4000)
    mci: bool = False
    patients: list[PatientCreate] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _location_pairs(self) -> Self:
        _check_location(self.lat, self.lon)
        if self.lat is None and self.address is None:
            raise ValueError("give the incident a location: lat/lon, an address, or both")
        return self


class IncidentUpdate(_Strict):
    chief_complaint: str | None = Field(default=None, min_length=1, max_length=500)
    priority: int | None = Field(default=None, ge=1, le=5)
    address: str | None = Field(default=None, min_length=1, max_length=300)
    lat: float | None = Lat
    lon: float | None = Lon
    caller_name: str | None = Field(default=None, min_length=1, max_length=200)
    callback_number: str | None = Phone
    notes: str | None = Field(default=None, max_length=4000)
    mci: bool | None = None

    @model_validator(mode="after")
    def _location_pairs(self) -> Self:
        refuse_explicit_null(self, "chief_complaint", "priority", "mci")
        _check_location(self.lat, self.lon)
        return self


class StatusChange(_Strict):
    status: IncidentStatus
    reason: str | None = Field(default=None, min_length=1, max_length=500)

    @model_validator(mode="after")
    def _reason_for_cancel(self) -> Self:
        if self.status is IncidentStatus.CANCELLED and self.reason is None:
            raise ValueError("a cancellation needs a reason")
        return self


class ClinicalFindings(_Strict):
    """What the dispatcher or crew found or decided; the destination rules read it beside the
    chief complaint and the triage (hospitals/needs.py)."""

    conditions: list[SuspectedCondition] | None = Field(
        default=None,
        max_length=5,
        description="Override: route for these conditions ([] for none); null: from the rules",
    )
    mechanism: str | None = Field(
        default=None, min_length=1, max_length=1000, description="Mechanism of injury"
    )
    befast: list[BeFastSign] = Field(
        default_factory=list, max_length=5, description="Positive BE-FAST signs"
    )
    ecg: EcgFinding | None = Field(default=None, description="12-lead ECG finding")
    gcs_motor: int | None = Field(default=None, ge=1, le=6, description="GCS motor score")

    @model_validator(mode="after")
    def _unique(self) -> Self:
        if self.conditions is not None and len(set(self.conditions)) != len(self.conditions):
            raise ValueError("conditions: each condition once")
        if len(set(self.befast)) != len(self.befast):
            raise ValueError("befast: each sign once")
        return self


class IncidentRead(BaseModel):
    id: str
    number: int
    status: IncidentStatus
    priority: int
    chief_complaint: str
    address: str | None
    lat: float | None
    lon: float | None
    mci: bool
    caller_name: str | None
    callback_number: str | None
    notes: str | None
    findings: ClinicalFindings
    created_by: str
    created_at: datetime
    updated_at: datetime
    patients: list[PatientRead]


class IncidentSummary(BaseModel):
    id: str
    number: int
    status: IncidentStatus
    priority: int
    chief_complaint: str
    address: str | None
    lat: float | None
    lon: float | None
    mci: bool
    patient_count: int
    created_at: datetime
    updated_at: datetime


class TimelineEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor: str
    kind: str
    data: dict[str, Any]
