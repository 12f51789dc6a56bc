"""Service-level triage assessment: validated inputs to KTAS level, probabilities, NEWS2, reasons.

`assess` is what `POST /api/triage` calls. It validates every input against plausible ranges and
raises `ValidationFailed` with one entry per offending field, so the API can answer 422 with a
field-level reason and nothing reaches the model that the model was not built for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from emsync.core.errors import ValidationFailed
from emsync.triage.acuity import AcuityModel, Contribution
from emsync.triage.features import Mode
from emsync.triage.ktas import ArrivalMode, KtasVisit, Mental, Sex
from emsync.triage.news2 import Acvpu, News2Score, news2
from emsync.triage.registry import acuity_model

# The acuity model was fitted on adult ED visits (16-96 years); paediatric KTAS is a separate scale.
MIN_AGE = 16
RANGES: dict[str, tuple[float, float]] = {
    "age": (MIN_AGE, 120),
    "nrs_pain": (0, 10),
    "sbp": (30, 300),
    "dbp": (10, 200),
    "hr": (20, 250),
    "rr": (4, 70),
    "temp": (30.0, 43.0),
    "spo2": (40, 100),
}
MAX_COMPLAINT_LENGTH = 500

# KTAS records mental state as AVPU; new confusion is coded with "responds to voice", the nearer
# of the two and the more urgent, so a confused patient is never treated as alert.
_MENTAL = {
    Acvpu.ALERT: Mental.ALERT,
    Acvpu.CONFUSION: Mental.VERBAL,
    Acvpu.VOICE: Mental.VERBAL,
    Acvpu.PAIN: Mental.PAIN,
    Acvpu.UNRESPONSIVE: Mental.UNRESPONSIVE,
}


@dataclass(frozen=True, slots=True)
class TriageInputs:
    """What is known about the patient at triage; vitals may be missing."""

    age: float
    sex: Sex
    chief_complaint: str
    arrival_mode: ArrivalMode = ArrivalMode.PUBLIC_AMBULANCE
    injury: bool = False
    consciousness: Acvpu = Acvpu.ALERT
    pain: bool = False
    nrs_pain: float | None = None
    sbp: float | None = None
    dbp: float | None = None
    hr: float | None = None
    rr: float | None = None
    temp: float | None = None
    spo2: float | None = None
    on_oxygen: bool = False
    nurse_level: int | None = None


@dataclass(frozen=True, slots=True)
class TriageAssessment:
    mode: Mode
    level: int
    most_likely_level: int
    probabilities: dict[int, float]
    news2: News2Score | None
    explanation: tuple[Contribution, ...]
    model_version: str
    # Review mode only: the model disagrees with the nurse (a second opinion, not a verdict).
    possible_mistriage: Literal["under-triage", "over-triage"] | None = None


def validate(inputs: TriageInputs, mode: Mode) -> None:
    """Raise ValidationFailed listing every field outside its plausible range."""
    errors: list[dict[str, str]] = []

    def bad(field: str, reason: str) -> None:
        errors.append({"field": field, "reason": reason})

    for name, (low, high) in RANGES.items():
        value = getattr(inputs, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            bad(name, "must be a number")
        elif not low <= value <= high:
            bad(name, f"must be between {low:g} and {high:g}, got {value:g}")
    if inputs.sbp is not None and inputs.dbp is not None and inputs.dbp >= inputs.sbp:
        bad("dbp", "must be lower than sbp")
    complaint = inputs.chief_complaint.strip()
    if not complaint:
        bad("chief_complaint", "must not be empty")
    elif len(complaint) > MAX_COMPLAINT_LENGTH:
        bad("chief_complaint", f"must be at most {MAX_COMPLAINT_LENGTH} characters")
    for name, enum in (("sex", Sex), ("arrival_mode", ArrivalMode), ("consciousness", Acvpu)):
        if getattr(inputs, name) not in set(enum):
            bad(name, f"must be one of {[e.value for e in enum]}")
    if inputs.nrs_pain is not None and inputs.nrs_pain > 0 and not inputs.pain:
        bad("nrs_pain", "a pain score needs pain=true")
    if mode is Mode.REVIEW:
        if inputs.nurse_level is None:
            bad("nurse_level", "review mode needs the nurse's KTAS level")
        elif isinstance(inputs.nurse_level, bool) or inputs.nurse_level not in {1, 2, 3, 4, 5}:
            bad("nurse_level", "must be a KTAS level 1-5")
    if errors:
        raise ValidationFailed(
            "; ".join(f"{e['field']}: {e['reason']}" for e in errors), errors=errors
        )


def to_visit(inputs: TriageInputs) -> KtasVisit:
    return KtasVisit(
        sex=Sex(inputs.sex),
        age=float(inputs.age),
        arrival_mode=ArrivalMode(inputs.arrival_mode),
        injury=inputs.injury,
        chief_complaint=" ".join(inputs.chief_complaint.split()),
        mental=_MENTAL[Acvpu(inputs.consciousness)],
        pain=inputs.pain,
        # The KTAS file records no NRS when there is no pain; its loader imputes 0 the same way.
        nrs_pain=inputs.nrs_pain if inputs.pain else 0.0,
        sbp=inputs.sbp,
        dbp=inputs.dbp,
        hr=inputs.hr,
        rr=inputs.rr,
        bt=inputs.temp,
        spo2=inputs.spo2,
    )


def news2_if_complete(inputs: TriageInputs) -> News2Score | None:
    """NEWS2 only when every observation it needs is present; a partial total would under-read."""
    rr, spo2, sbp, hr, temp = inputs.rr, inputs.spo2, inputs.sbp, inputs.hr, inputs.temp
    if rr is None or spo2 is None or sbp is None or hr is None or temp is None:
        return None
    return news2(
        rr=rr,
        spo2=spo2,
        on_oxygen=inputs.on_oxygen,
        sbp=sbp,
        hr=hr,
        consciousness=inputs.consciousness,
        temp=temp,
    )


def assess(
    inputs: TriageInputs,
    mode: Mode | str = Mode.FIELD,
    *,
    model: AcuityModel | None = None,
    explain: int = 8,
) -> TriageAssessment:
    """KTAS level (safety decision rule), calibrated probabilities, NEWS2 and top contributions."""
    try:
        mode = Mode(mode)
    except ValueError:
        raise ValidationFailed(
            f"mode: must be one of {[m.value for m in Mode]}",
            errors=[{"field": "mode", "reason": f"must be one of {[m.value for m in Mode]}"}],
        ) from None
    validate(inputs, mode)
    model = model or acuity_model(mode)
    prediction = model.predict(
        to_visit(inputs), inputs.nurse_level if mode is Mode.REVIEW else None, explain=explain
    )
    flag: Literal["under-triage", "over-triage"] | None = None
    if mode is Mode.REVIEW and inputs.nurse_level is not None:
        if prediction.level < inputs.nurse_level:
            flag = "under-triage"
        elif prediction.level > inputs.nurse_level:
            flag = "over-triage"
    return TriageAssessment(
        mode=mode,
        level=prediction.level,
        most_likely_level=prediction.most_likely_level,
        probabilities=dict(zip(range(1, 6), prediction.probabilities, strict=True)),
        news2=news2_if_complete(inputs),
        explanation=prediction.explanation,
        model_version=model.version,
        possible_mistriage=flag,
    )
