"""Triage request and response bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from emsync.triage.features import Mode
from emsync.triage.ktas import ArrivalMode, Sex
from emsync.triage.news2 import Acvpu, News2Band


class TriageRequest(BaseModel):
    """What is known at triage. Plausible ranges are checked by the assessment itself, which
    answers 422 naming each field outside its range."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    mode: Mode = Mode.FIELD
    incident_id: str | None = Field(default=None, max_length=36)
    patient_id: str | None = Field(
        default=None, max_length=36, description="Store the result on this incident patient"
    )
    age: float = Field(description="Years (the model is for adults, 16 and over)")
    sex: Sex
    chief_complaint: str = Field(min_length=1, max_length=500)
    arrival_mode: ArrivalMode = ArrivalMode.PUBLIC_AMBULANCE
    injury: bool = False
    consciousness: Acvpu = Acvpu.ALERT
    pain: bool = False
    nrs_pain: float | None = Field(default=None, description="Numeric pain rating 0-10")
    sbp: float | None = Field(default=None, description="Systolic BP, mmHg")
    dbp: float | None = Field(default=None, description="Diastolic BP, mmHg")
    hr: float | None = Field(default=None, description="Heart rate, /min")
    rr: float | None = Field(default=None, description="Respiratory rate, /min")
    temp: float | None = Field(default=None, description="Temperature, °C")
    spo2: float | None = Field(default=None, description="SpO2, %")
    on_oxygen: bool = False
    nurse_level: int | None = Field(default=None, description="Review mode: the nurse's KTAS")


class News2Read(BaseModel):
    total: int
    band: News2Band
    subscores: dict[str, int]


class ContributionRead(BaseModel):
    feature: str
    value: float | None
    contribution: float


class TriageResponse(BaseModel):
    mode: Mode
    level: int = Field(description="KTAS level 1 (most urgent) to 5, after the safety rule")
    most_likely_level: int
    probabilities: dict[str, float]
    news2: News2Read | None
    explanation: list[ContributionRead]
    model_version: str
    possible_mistriage: str | None
    stored_on_patient: str | None
