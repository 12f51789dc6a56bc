"""Service-level triage assessment: validated inputs to an acuity level, NEWS2 or PEWS, reasons.

`assess` is what `POST /api/triage` calls. It validates every input against plausible ranges and
raises `ValidationFailed` with one entry per offending field, so the API can answer 422 with a
field-level reason and nothing reaches the model that the model was not built for.

Adults (16 and over) get the KTAS acuity model and NEWS2. Children get the paediatric pathway:
ESI v4's paediatric rules and Bedside PEWS (`paediatric.py`, `pews.py`), labelled as such and
never NEWS2 (an adult score) nor the adult model (fitted on adults only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from emsync.core.errors import ValidationFailed
from emsync.triage.features import Mode
from emsync.triage.ktas import ArrivalMode, KtasVisit, Mental, Sex
from emsync.triage.news2 import Acvpu, News2Score, news2
from emsync.triage.paediatric import (
    PAEDIATRIC_MAX_AGE,
    ChildObservations,
    PaediatricTriage,
    triage_child,
)
from emsync.triage.paediatric import STANDARD as PAEDIATRIC_STANDARD
from emsync.triage.pews import (
    SOURCE as PEWS_SOURCE,
)
from emsync.triage.pews import (
    OxygenTherapy,
    PewsScore,
    ReferenceRanges,
    RespiratoryEffort,
    bedside_pews,
    reference_ranges,
)
from emsync.triage.registry import acuity_model

if TYPE_CHECKING:
    # The model's module (xgboost, scikit-learn) is imported by its first load (registry).
    from emsync.triage.acuity import AcuityModel, Contribution

# The acuity model was fitted on adult ED visits (16-96 years); under that, the paediatric pathway.
ADULT_MIN_AGE = PAEDIATRIC_MAX_AGE
ADULT_SCALE = "KTAS (EMsync acuity model, adults 16+)"
PAEDIATRIC_MODEL = f"rules: {PAEDIATRIC_STANDARD}; {PEWS_SOURCE}"
RANGES: dict[str, tuple[float, float]] = {
    "age": (0, 120),
    "nrs_pain": (0, 10),
    "sbp": (30, 300),
    "dbp": (10, 200),
    "hr": (20, 250),
    "rr": (4, 70),
    "temp": (30.0, 43.0),
    "spo2": (40, 100),
    "capillary_refill_seconds": (0, 20),
}
# Infants breathe and beat faster than any adult: wider plausible limits under 16.
CHILD_RANGES: dict[str, tuple[float, float]] = {"hr": (20, 320), "rr": (4, 120)}
MAX_COMPLAINT_LENGTH = 500

UNKNOWN_SEX = "unknown"

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
    sex: Sex | Literal["unknown"]
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
    # Paediatric pathway (under 16); ignored for adults.
    oxygen_therapy: OxygenTherapy | None = None
    respiratory_effort: RespiratoryEffort | None = None
    capillary_refill_seconds: float | None = None
    high_risk: bool = False
    expected_resources: int | None = None


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
    pathway: Literal["adult", "paediatric"] = "adult"
    scale: str = ADULT_SCALE
    pews: PewsScore | None = None
    reference_ranges: ReferenceRanges | None = None
    reasons: tuple[str, ...] = ()
    # Why the safety rule chose a more urgent level than the most likely one (adults).
    safety_rule: str | None = None


def validate(inputs: TriageInputs, mode: Mode) -> None:
    """Raise ValidationFailed listing every field outside its plausible range."""
    errors: list[dict[str, str]] = []

    def bad(field: str, reason: str) -> None:
        errors.append({"field": field, "reason": reason})

    child = is_child(inputs)
    for name, (low, high) in RANGES.items():
        if child and name in CHILD_RANGES:
            low, high = CHILD_RANGES[name]
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
    if inputs.sex not in {*Sex, UNKNOWN_SEX}:
        bad("sex", f"must be one of {[*(e.value for e in Sex), UNKNOWN_SEX]}")
    for name, enum in (("arrival_mode", ArrivalMode), ("consciousness", Acvpu)):
        if getattr(inputs, name) not in set(enum):
            bad(name, f"must be one of {[e.value for e in enum]}")
    for name, enum_type in (
        ("oxygen_therapy", OxygenTherapy),
        ("respiratory_effort", RespiratoryEffort),
    ):
        value = getattr(inputs, name)
        if value is not None and value not in set(enum_type):
            bad(name, f"must be one of {[e.value for e in enum_type]}")
    resources = inputs.expected_resources
    if resources is not None and (isinstance(resources, bool) or resources not in {0, 1, 2}):
        bad("expected_resources", "must be 0, 1 or 2 (two or more)")
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


def is_child(inputs: TriageInputs) -> bool:
    age = inputs.age
    return isinstance(age, int | float) and not isinstance(age, bool) and age < ADULT_MIN_AGE


def to_visit(inputs: TriageInputs, sex: Sex | None = None) -> KtasVisit:
    return KtasVisit(
        sex=sex or Sex(inputs.sex),
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
    if is_child(inputs):
        return assess_child(inputs, mode)
    model = model or acuity_model(mode)
    nurse = inputs.nurse_level if mode is Mode.REVIEW else None
    reasons: tuple[str, ...] = ()
    if inputs.sex == UNKNOWN_SEX:
        # The model was fitted with sex as a feature; not knowing it, assess both and keep
        # the more urgent answer (the same caution as the safety rule's).
        as_female, as_male = (
            model.predict(to_visit(inputs, sex), nurse, explain=explain)
            for sex in (Sex.FEMALE, Sex.MALE)
        )
        prediction = as_female if as_female.level <= as_male.level else as_male
        reasons = (
            f"Sex not recorded: level {as_female.level} if female, {as_male.level} if male; "
            "the more urgent is kept.",
        )
    else:
        prediction = model.predict(to_visit(inputs), nurse, explain=explain)
    flag: Literal["under-triage", "over-triage"] | None = None
    if mode is Mode.REVIEW and inputs.nurse_level is not None:
        if prediction.level < inputs.nurse_level:
            flag = "under-triage"
        elif prediction.level > inputs.nurse_level:
            flag = "over-triage"
    probabilities = dict(zip(range(1, 6), prediction.probabilities, strict=True))
    return TriageAssessment(
        mode=mode,
        level=prediction.level,
        most_likely_level=prediction.most_likely_level,
        probabilities=probabilities,
        news2=news2_if_complete(inputs),
        explanation=prediction.explanation,
        model_version=model.version,
        possible_mistriage=flag,
        reasons=reasons,
        safety_rule=safety_rule_text(
            prediction.level,
            prediction.most_likely_level,
            probabilities,
            model.under_triage_cost,
        ),
    )


def safety_rule_text(
    level: int, most_likely: int, probabilities: dict[int, float], under_triage_cost: float
) -> str | None:
    """Why the level is more urgent than the most likely one, in the numbers that decided it."""
    if level == most_likely:
        return None

    def expected_cost(chosen: int) -> float:
        # Under-triage: the chosen level is less urgent (a higher number) than the truth.
        return sum(
            p * (under_triage_cost if chosen > truth else 1.0)
            for truth, p in probabilities.items()
            if truth != chosen
        )

    urgent = sum(p for lvl, p in probabilities.items() if lvl <= level)
    return (
        f"Most likely level {most_likely} ({probabilities[most_likely]:.0%}); level {level} or "
        f"more urgent has {urgent:.0%}. The safety rule counts an under-triage "
        f"{under_triage_cost:g} times an over-triage: level {level}'s expected cost is "
        f"{expected_cost(level):.2f} against {expected_cost(most_likely):.2f} for level "
        f"{most_likely}, so level {level}."
    )


def child_pews(inputs: TriageInputs) -> PewsScore:
    oxygen = inputs.oxygen_therapy
    if oxygen is None:
        # "On oxygen" without a flow is the table's lower oxygen column ("any, < 4 L/min").
        oxygen = OxygenTherapy.LOW_FLOW if inputs.on_oxygen else OxygenTherapy.ROOM_AIR
    return bedside_pews(
        age_years=float(inputs.age),
        hr=inputs.hr,
        sbp=inputs.sbp,
        capillary_refill_seconds=inputs.capillary_refill_seconds,
        rr=inputs.rr,
        respiratory_effort=inputs.respiratory_effort,
        spo2=inputs.spo2,
        oxygen=oxygen,
    )


def assess_child(inputs: TriageInputs, mode: Mode) -> TriageAssessment:
    """The paediatric pathway: ESI v4 paediatric rules plus Bedside PEWS; never NEWS2."""
    pews = child_pews(inputs)
    result: PaediatricTriage = triage_child(
        ChildObservations(
            age_years=float(inputs.age),
            consciousness=str(inputs.consciousness),
            respiratory_effort=None
            if inputs.respiratory_effort is None
            else str(inputs.respiratory_effort),
            hr=inputs.hr,
            rr=inputs.rr,
            spo2=inputs.spo2,
            sbp=inputs.sbp,
            temp=inputs.temp,
            capillary_refill_seconds=inputs.capillary_refill_seconds,
            pain=inputs.nrs_pain if inputs.pain else None,
            high_risk=inputs.high_risk,
            expected_resources=inputs.expected_resources,
        ),
        pews,
    )
    flag: Literal["under-triage", "over-triage"] | None = None
    if mode is Mode.REVIEW and inputs.nurse_level is not None:
        if result.level < inputs.nurse_level:
            flag = "under-triage"
        elif result.level > inputs.nurse_level:
            flag = "over-triage"
    return TriageAssessment(
        mode=mode,
        level=result.level,
        most_likely_level=result.level,
        probabilities={},
        news2=None,
        explanation=(),
        model_version=PAEDIATRIC_MODEL,
        possible_mistriage=flag,
        pathway="paediatric",
        scale=result.standard,
        pews=pews,
        reference_ranges=reference_ranges(float(inputs.age)),
        reasons=result.reasons,
    )
