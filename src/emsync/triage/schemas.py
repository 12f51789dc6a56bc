"""Triage request and response bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from emsync.triage.features import Mode
from emsync.triage.ktas import ArrivalMode, Sex
from emsync.triage.news2 import Acvpu, News2Band
from emsync.triage.pews import OxygenTherapy, PewsBand, RespiratoryEffort


class TriageRequest(BaseModel):
    """What is known at triage. Plausible ranges are checked by the assessment itself, which
    answers 422 naming each field outside its range."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    mode: Mode = Mode.FIELD
    incident_id: str | None = Field(default=None, max_length=36)
    patient_id: str | None = Field(
        default=None, max_length=36, description="Store the result on this incident patient"
    )
    age: float = Field(
        description="Years (fractions for infants: 0.1 is about five weeks). Under 16 the "
        "paediatric pathway (ESI v4 paediatric rules and Bedside PEWS) answers, not the adult model"
    )
    sex: Sex | Literal["unknown"] = Field(
        description="'unknown': the adult model is run for both and the more urgent level kept"
    )
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
    oxygen_therapy: OxygenTherapy | None = Field(
        default=None, description="Children: room air, low flow (< 4 L/min, < 50%) or high flow"
    )
    respiratory_effort: RespiratoryEffort | None = Field(
        default=None, description="Children: work of breathing (severe includes any apnoea)"
    )
    capillary_refill_seconds: float | None = Field(default=None, description="Children: seconds")
    high_risk: bool = Field(
        default=False, description="Children: a high-risk situation (ESI decision point B)"
    )
    expected_resources: int | None = Field(
        default=None, description="Children: ED resources expected, 0, 1 or 2 (two or more)"
    )


class News2Read(BaseModel):
    total: int
    band: News2Band
    subscores: dict[str, int]


class PewsRead(BaseModel):
    """Bedside PEWS (Parshuram et al. 2009): 0-26; items not observed score 0 and are listed."""

    total: int
    band: PewsBand
    age_group: str
    subscores: dict[str, int]
    not_measured: list[str]
    source: str


class RangeRead(BaseModel):
    low: float = Field(description="Exclusive: the normal range is above this")
    high: float = Field(description="Exclusive: the normal range is below this")


class ReferenceRangesRead(BaseModel):
    age_group: str
    heart_rate: RangeRead
    systolic_bp: RangeRead
    respiratory_rate: RangeRead
    spo2_min: float


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
    pathway: str = Field(description="adult (KTAS model, NEWS2) or paediatric (ESI v4, PEWS)")
    scale: str = Field(description="The scale `level` is on; read the level only on that scale")
    pews: PewsRead | None = Field(description="Children only; NEWS2 is never given for a child")
    reference_ranges: ReferenceRangesRead | None
    reasons: list[str] = Field(
        description="The paediatric rules that decided the level; an unrecorded sex's effect"
    )
    safety_rule: str | None = Field(
        default=None,
        description="Why the safety rule chose a more urgent level than the most likely one",
    )
