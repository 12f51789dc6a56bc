"""Hospital request and response bodies, validated at the edge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from emsync.core.clock import as_utc
from emsync.hospitals.destination import Capability, Condition

# SQLite hands back naive datetimes for aware columns: always answer in UTC.
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]

Lat = Field(ge=-90, le=90, description="WGS84 latitude, degrees")
Lon = Field(ge=-180, le=180, description="WGS84 longitude, degrees")
TraumaLevel = Field(default=None, ge=1, le=4, description="1 = highest (major trauma centre)")
Beds = Field(default=None, ge=0, le=10_000, description="ED beds free now")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class HospitalCreate(_Strict):
    name: str = Field(min_length=1, max_length=200)
    lat: float = Lat
    lon: float = Lon
    emergency_department: bool | None = True
    trauma_level: int | None = TraumaLevel
    stroke_centre: bool = False
    pci: bool = False
    burns: bool = False
    paediatrics: bool = False
    ed_beds_available: int | None = Beds


class HospitalUpdate(_Strict):
    """What a hospital coordinator keeps current: capabilities, capacity, diversion."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    emergency_department: bool | None = None
    trauma_level: int | None = TraumaLevel
    stroke_centre: bool | None = None
    pci: bool | None = None
    burns: bool | None = None
    paediatrics: bool | None = None
    ed_beds_available: int | None = Beds
    diversion: bool | None = None
    diversion_reason: str | None = Field(default=None, min_length=1, max_length=300)

    @model_validator(mode="after")
    def _not_null(self) -> Self:
        for name in ("name", "stroke_centre", "pci", "burns", "paediatrics", "diversion"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if self.diversion_reason is not None and self.diversion is False:
            raise ValueError("diversion_reason only goes with diversion: true")
        return self


class HospitalRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    osm_kind: str | None
    osm_id: int | None
    lat: float
    lon: float
    emergency_department: bool | None
    trauma_level: int | None
    stroke_centre: bool
    pci: bool
    burns: bool
    paediatrics: bool
    capabilities: list[Capability]
    ed_beds_available: int | None
    diversion: bool
    diversion_reason: str | None
    updated_at: UtcDatetime
    updated_by: str


class DestinationRead(BaseModel):
    hospital_id: str
    name: str
    rank: int | None
    eta_s: float | None
    reason: str
    diversion: bool
    missing: list[Capability]


class NeedRead(BaseModel):
    """One reason the patient needs a capability (hospitals/needs.py)."""

    condition: Condition | None
    capability: Capability
    criterion: str = Field(description="Stable code, e.g. red.vitals.sbp, yellow.mechanism.fall")
    reason: str
    source: str = Field(description="The guideline or scale, 'complaint', 'age' or 'set'")
    applied: bool = Field(description="False when the dispatcher's or crew's override replaced it")


class DestinationRecommendation(BaseModel):
    origin: tuple[float, float]  # (lat, lon)
    conditions: list[Condition]
    age_years: int | None
    required: list[Capability]
    needs: list[NeedRead]
    questions: list[str] = Field(description="What to ask to decide (e.g. a crash's details)")
    overridden: bool = Field(description="The conditions were set by the dispatcher or crew")
    ranked: list[DestinationRead]
    excluded: list[DestinationRead]


class MapImportResult(BaseModel):
    region: str
    in_map: int
    added: int
