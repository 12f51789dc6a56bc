"""Bedside PEWS, the Bedside Paediatric Early Warning System score, and age-banded reference ranges.

Source and version: Parshuram CS, Hutchison J, Middaugh K. "Development and initial validation of
the Bedside Paediatric Early Warning System score". Critical Care 2009;13(4):R135
(doi:10.1186/cc7998, open access, CC BY), Table 1: the seven items kept in the published score
(heart rate, systolic blood pressure, capillary refill, respiratory rate, respiratory effort,
transcutaneous SpO2, oxygen therapy), each scoring 0, 1, 2 or 4 by the paper's five age groups;
the total ranges 0-26. Typographical "or" in the paper's respiratory-rate normal cells (">24 or
<51") reads as "and", like every other normal cell of that table.

The reference ranges are that table's sub-score-0 cells: the ranges the score treats as normal
for the age group, so the chart, the score and the triage rules agree with each other.

Age groups: the paper names them 0-3 months, 3-12 months, 1-4 years, 4-12 years and >12 years
without saying where a birthday on a boundary falls; here a child moves to the older group on
that birthday (3 months, 1 year, 4 years, 13 years).

Escalation bands are EMsync's, not the paper's (which publishes the score, not a response):
total >= 8 is "high" (the paper's validated threshold: sensitivity 82%, specificity 93% for
urgent ICU admission), 5-7 "medium", a single item at its most extreme column (4) with a lower
total "low-medium", 1-4 "low". They use NEWS2's band names so one alert table serves both.

Pure: standard library only.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import NamedTuple

SOURCE = "Bedside PEWS (Parshuram et al., Crit Care 2009;13:R135, Table 1)"
MAX_TOTAL = 26
HIGH_THRESHOLD = 8  # the paper's validated cut-off


class AgeGroup(StrEnum):
    UNDER_3_MONTHS = "0-3 months"
    MONTHS_3_TO_12 = "3-12 months"
    YEARS_1_TO_4 = "1-4 years"
    YEARS_4_TO_12 = "4-12 years"
    OVER_12_YEARS = ">12 years"


class RespiratoryEffort(StrEnum):
    NORMAL = "normal"
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"  # severe increase or any apnoea


class OxygenTherapy(StrEnum):
    ROOM_AIR = "room_air"
    LOW_FLOW = "low_flow"  # any, below 4 L/min or below 50%
    HIGH_FLOW = "high_flow"  # 4 L/min or more, or 50% or more


class PewsBand(StrEnum):
    NONE = "none"
    LOW = "low"
    LOW_MEDIUM = "low-medium"
    MEDIUM = "medium"
    HIGH = "high"


class Cells(NamedTuple):
    """One row of Table 1 for one age group: a value scores 4, 2 or 1 when it is at or beyond
    that column's high or low edge; strict edges (the paper's ">" or "<") are flagged."""

    high: tuple[float, float, float]  # columns 1, 2, 4
    low: tuple[float, float, float]
    strict_high: tuple[bool, bool, bool] = (False, False, False)
    strict_low: tuple[bool, bool, bool] = (False, False, False)


G = AgeGroup
HEART_RATE: dict[AgeGroup, Cells] = {
    G.UNDER_3_MONTHS: Cells(high=(150, 180, 190), low=(110, 90, 80)),
    G.MONTHS_3_TO_12: Cells(high=(150, 170, 180), low=(100, 80, 70)),
    G.YEARS_1_TO_4: Cells(high=(120, 150, 170), low=(90, 70, 60)),
    # The paper's "4" cell is ">150" (strict), unlike the rest of the row.
    G.YEARS_4_TO_12: Cells(
        high=(110, 130, 150), low=(70, 60, 50), strict_high=(False, False, True)
    ),
    # The paper's "2" cell is "<50" (strict) on the low side.
    G.OVER_12_YEARS: Cells(high=(100, 120, 140), low=(60, 50, 40), strict_low=(False, True, False)),
}
SYSTOLIC_BP: dict[AgeGroup, Cells] = {
    G.UNDER_3_MONTHS: Cells(high=(80, 100, 130), low=(60, 50, 45)),
    G.MONTHS_3_TO_12: Cells(high=(100, 120, 150), low=(80, 70, 60)),
    G.YEARS_1_TO_4: Cells(high=(110, 125, 160), low=(90, 75, 65)),
    G.YEARS_4_TO_12: Cells(high=(120, 140, 170), low=(90, 80, 70)),
    G.OVER_12_YEARS: Cells(high=(130, 150, 190), low=(100, 85, 75)),
}
RESPIRATORY_RATE: dict[AgeGroup, Cells] = {
    G.UNDER_3_MONTHS: Cells(high=(61, 81, 91), low=(29, 19, 15)),
    G.MONTHS_3_TO_12: Cells(high=(51, 71, 81), low=(24, 19, 15)),
    G.YEARS_1_TO_4: Cells(high=(41, 61, 71), low=(19, 15, 12)),
    G.YEARS_4_TO_12: Cells(high=(31, 41, 51), low=(19, 14, 10)),
    G.OVER_12_YEARS: Cells(high=(17, 23, 30), low=(11, 10, 9)),
}
_COLUMN_SCORES = (1, 2, 4)


def age_group(age_years: float) -> AgeGroup:
    """The paper's age group; a child moves up on the boundary birthday."""
    if not age_years >= 0 or math.isinf(age_years):
        raise ValueError("age must be a finite number of years, 0 or more")
    if age_years < 0.25:
        return G.UNDER_3_MONTHS
    if age_years < 1:
        return G.MONTHS_3_TO_12
    if age_years < 4:
        return G.YEARS_1_TO_4
    if age_years < 13:
        return G.YEARS_4_TO_12
    return G.OVER_12_YEARS


def _beyond(value: float, edge: float, strict: bool, *, high: bool) -> bool:
    if high:
        return value > edge if strict else value >= edge
    return value < edge if strict else value <= edge


def cell_score(value: float, cells: Cells) -> int:
    """0, 1, 2 or 4: the most extreme column whose edge the value reaches."""
    for column in (2, 1, 0):
        if _beyond(value, cells.high[column], cells.strict_high[column], high=True) or _beyond(
            value, cells.low[column], cells.strict_low[column], high=False
        ):
            return _COLUMN_SCORES[column]
    return 0


def heart_rate_score(hr: float, group: AgeGroup) -> int:
    return cell_score(hr, HEART_RATE[group])


def systolic_bp_score(sbp: float, group: AgeGroup) -> int:
    return cell_score(sbp, SYSTOLIC_BP[group])


def respiratory_rate_score(rr: float, group: AgeGroup) -> int:
    return cell_score(rr, RESPIRATORY_RATE[group])


def capillary_refill_score(seconds: float) -> int:
    return 4 if seconds >= 3 else 0


def respiratory_effort_score(effort: RespiratoryEffort | str) -> int:
    return {"normal": 0, "mild": 1, "moderate": 2, "severe": 4}[str(effort)]


def spo2_score(spo2: float) -> int:
    if spo2 <= 90:
        return 2
    if spo2 <= 94:
        return 1
    return 0


def oxygen_therapy_score(therapy: OxygenTherapy | str) -> int:
    return {"room_air": 0, "low_flow": 2, "high_flow": 4}[str(therapy)]


class ReferenceRange(NamedTuple):
    """Open interval (low, high) that scores 0: the paper's "> low and < high"."""

    low: float
    high: float

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int | float) and self.low < value < self.high


class ReferenceRanges(NamedTuple):
    age_group: AgeGroup
    heart_rate: ReferenceRange
    systolic_bp: ReferenceRange
    respiratory_rate: ReferenceRange
    spo2_min: float  # above this (94%) scores 0


def reference_ranges(age_years: float) -> ReferenceRanges:
    """Normal ranges for the age: the sub-score-0 cells of Bedside PEWS Table 1."""
    group = age_group(age_years)

    def normal(cells: Cells) -> ReferenceRange:
        return ReferenceRange(cells.low[0], cells.high[0])

    return ReferenceRanges(
        age_group=group,
        heart_rate=normal(HEART_RATE[group]),
        systolic_bp=normal(SYSTOLIC_BP[group]),
        respiratory_rate=normal(RESPIRATORY_RATE[group]),
        spo2_min=94.0,
    )


class PewsSubscores(NamedTuple):
    heart_rate: int
    systolic_bp: int
    capillary_refill: int
    respiratory_rate: int
    respiratory_effort: int
    spo2: int
    oxygen_therapy: int


ITEMS: tuple[str, ...] = PewsSubscores._fields


class PewsScore(NamedTuple):
    subscores: PewsSubscores
    total: int
    band: PewsBand
    age_group: AgeGroup
    # Items with no observation: scored 0, so the total is a lower bound (and says so).
    not_measured: tuple[str, ...]


def pews_band(total: int, subscores: PewsSubscores) -> PewsBand:
    if total >= HIGH_THRESHOLD:
        return PewsBand.HIGH
    if total >= 5:
        return PewsBand.MEDIUM
    if 4 in subscores:
        return PewsBand.LOW_MEDIUM
    if total:
        return PewsBand.LOW
    return PewsBand.NONE


def bedside_pews(
    *,
    age_years: float,
    hr: float | None = None,
    sbp: float | None = None,
    capillary_refill_seconds: float | None = None,
    rr: float | None = None,
    respiratory_effort: RespiratoryEffort | str | None = None,
    spo2: float | None = None,
    oxygen: OxygenTherapy | str | None = None,
) -> PewsScore:
    """The Bedside PEWS over whatever was observed; missing items score 0 and are listed."""
    group = age_group(age_years)
    missing: list[str] = []

    def item(name: str, value: object, scorer: object) -> int:
        if value is None:
            missing.append(name)
            return 0
        return int(scorer(value))  # type: ignore[operator]

    sub = PewsSubscores(
        heart_rate=item("heart_rate", hr, lambda v: heart_rate_score(v, group)),
        systolic_bp=item("systolic_bp", sbp, lambda v: systolic_bp_score(v, group)),
        capillary_refill=item("capillary_refill", capillary_refill_seconds, capillary_refill_score),
        respiratory_rate=item("respiratory_rate", rr, lambda v: respiratory_rate_score(v, group)),
        respiratory_effort=item("respiratory_effort", respiratory_effort, respiratory_effort_score),
        spo2=item("spo2", spo2, spo2_score),
        oxygen_therapy=item("oxygen_therapy", oxygen, oxygen_therapy_score),
    )
    total = sum(sub)
    return PewsScore(
        subscores=sub,
        total=total,
        band=pews_band(total, sub),
        age_group=group,
        not_measured=tuple(missing),
    )
