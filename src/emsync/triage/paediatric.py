"""Paediatric triage (under 16): the Emergency Severity Index's rules for children, and PEWS.

Standard and version: Emergency Severity Index (ESI), version 4, Implementation Handbook, 2012
edition (Gilboy N, Tanabe P, Travers D, Rosenau AM; AHRQ Publication No. 12-0014), whose four
decision points are applied in order:

A. needs an immediate life-saving intervention -> level 1: unresponsive (AVPU P or U), severe
   respiratory distress or apnoea, SpO2 below 90% with increased work of breathing, or signs of
   shock (hypotension for age, or bradycardia below 60/min, with capillary refill of 3 s or
   more; hypotension for age as in the AHA's PALS: < 60 mmHg in the first 28 days, < 70 to one
   year, < 70 + 2 x age to ten years, < 90 after);
B. a high-risk situation (the clinician's judgement), new confusion, lethargy or disorientation
   (AVPU C or V), or severe pain or distress (7 or more of 10) -> level 2; the handbook's fever
   rules for the youngest: 28 days or younger with a temperature above 38.0 C -> level 2, one
   to three months above 38.0 C -> level 2 (the handbook says "consider"; here it is applied);
C. resources expected: none -> 5, one -> 4, two or more -> 3 (not stated: two or more, the
   safe side, and the reason says so);
D. a level-3 child with danger-zone vital signs -> level 2 (the handbook's "consider", applied):
   heart rate above 180 (< 3 months), 160 (3 months - 3 years), 140 (3-8 years), 100 (> 8
   years); respiratory rate above 50, 40, 30, 20 in the same groups; SpO2 below 92%.
   A child of 3 months to 3 years above 39.0 C is level 3 at least (the handbook's fever rule).

EMsync adds one rule of its own, stated in every result it fires in: a Bedside PEWS of 8 or more
(its validated threshold, `emsync.triage.pews`) is level 2 at least.

The level is on ESI's 1-5 scale (1 most urgent), which is not the adult KTAS model's: results
carry the standard's name so nobody reads one as the other. Pure: standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from emsync.triage.pews import PewsScore

STANDARD = "ESI v4 (AHRQ 2012), paediatric criteria"
PAEDIATRIC_MAX_AGE = 16  # under this age the paediatric pathway applies
DAYS_PER_YEAR = 365.25


class DangerZone(NamedTuple):
    """ESI v4's danger-zone vital signs for one age group (above these: consider level 2)."""

    max_hr: float
    max_rr: float


DANGER_ZONE_SPO2 = 92.0  # below this, any age


def danger_zone(age_years: float) -> DangerZone:
    if age_years < 0.25:
        return DangerZone(max_hr=180, max_rr=50)
    if age_years < 3:
        return DangerZone(max_hr=160, max_rr=40)
    if age_years <= 8:
        return DangerZone(max_hr=140, max_rr=30)
    return DangerZone(max_hr=100, max_rr=20)


def hypotension_limit(age_years: float) -> float:
    """Systolic pressure below which a child is hypotensive (PALS)."""
    if age_years * DAYS_PER_YEAR <= 28:
        return 60.0
    if age_years < 1:
        return 70.0
    if age_years <= 10:
        return 70.0 + 2.0 * int(age_years)
    return 90.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildObservations:
    """What the crew or triage nurse knows about a child; vital signs may be missing."""

    age_years: float
    consciousness: str = "A"  # ACVPU
    respiratory_effort: str | None = None  # normal, mild, moderate, severe
    hr: float | None = None
    rr: float | None = None
    spo2: float | None = None
    sbp: float | None = None
    temp: float | None = None
    capillary_refill_seconds: float | None = None
    pain: float | None = None  # 0-10
    high_risk: bool = False
    expected_resources: int | None = None  # 0, 1, 2 (two or more)


class PaediatricTriage(NamedTuple):
    level: int
    standard: str
    reasons: tuple[str, ...]  # why this level, in the order the rules fired


def _life_saving(obs: ChildObservations) -> list[str]:
    reasons: list[str] = []
    effort = obs.respiratory_effort
    if obs.consciousness in {"P", "U"}:
        reasons.append(f"unresponsive (AVPU {obs.consciousness})")
    if effort == "severe":
        reasons.append("severe respiratory distress or apnoea")
    if obs.spo2 is not None and obs.spo2 < 90 and effort in {"moderate", "severe"}:
        reasons.append("SpO2 below 90% with increased work of breathing")
    poor_perfusion = obs.capillary_refill_seconds is not None and obs.capillary_refill_seconds >= 3
    if poor_perfusion and obs.sbp is not None and obs.sbp < hypotension_limit(obs.age_years):
        reasons.append("hypotension for age with capillary refill of 3 s or more")
    if poor_perfusion and obs.hr is not None and obs.hr < 60:
        reasons.append("heart rate below 60/min with capillary refill of 3 s or more")
    return reasons


def _high_risk(obs: ChildObservations) -> list[str]:
    reasons: list[str] = []
    if obs.high_risk:
        reasons.append("high-risk situation (clinician's judgement)")
    if obs.consciousness in {"C", "V"}:
        reasons.append(f"new confusion, lethargy or disorientation (ACVPU {obs.consciousness})")
    if obs.pain is not None and obs.pain >= 7:
        reasons.append(f"severe pain ({obs.pain:g}/10)")
    if obs.temp is not None and obs.temp > 38.0:
        days = obs.age_years * DAYS_PER_YEAR
        if days <= 28:
            reasons.append("fever above 38.0 C at 28 days old or younger")
        elif obs.age_years < 0.25:
            reasons.append("fever above 38.0 C at one to three months")
    return reasons


def danger_zone_signs(obs: ChildObservations) -> list[str]:
    zone = danger_zone(obs.age_years)
    signs: list[str] = []
    if obs.hr is not None and obs.hr > zone.max_hr:
        signs.append(f"heart rate above {zone.max_hr:g}/min for age")
    if obs.rr is not None and obs.rr > zone.max_rr:
        signs.append(f"respiratory rate above {zone.max_rr:g}/min for age")
    if obs.spo2 is not None and obs.spo2 < DANGER_ZONE_SPO2:
        signs.append(f"SpO2 below {DANGER_ZONE_SPO2:g}%")
    return signs


def triage_child(obs: ChildObservations, pews: PewsScore | None = None) -> PaediatricTriage:
    """ESI v4 level 1-5 for a child, with every rule that decided it."""
    if not 0 <= obs.age_years < PAEDIATRIC_MAX_AGE:
        raise ValueError(f"the paediatric pathway is for ages 0 to under {PAEDIATRIC_MAX_AGE}")
    reasons = _life_saving(obs)
    if reasons:
        return PaediatricTriage(1, STANDARD, tuple(reasons))
    reasons = _high_risk(obs)
    if pews is not None and pews.total >= 8:
        reasons.append(f"Bedside PEWS {pews.total} (8 or more: EMsync's rule, not ESI's)")
    if reasons:
        return PaediatricTriage(2, STANDARD, tuple(reasons))
    resources = obs.expected_resources
    if resources is None:
        level, why = 3, "resources not stated: two or more assumed (the safe side)"
    elif resources >= 2:
        level, why = 3, "two or more resources expected"
    elif resources == 1:
        level, why = 4, "one resource expected"
    else:
        level, why = 5, "no resources expected"
    reasons = [why]
    if level == 3:
        signs = danger_zone_signs(obs)
        if signs:
            return PaediatricTriage(2, STANDARD, (*reasons, *(f"danger zone: {s}" for s in signs)))
    if 0.25 <= obs.age_years < 3 and obs.temp is not None and obs.temp > 39.0 and level > 3:
        level = 3
        reasons.append("fever above 39.0 C at three months to three years")
    return PaediatricTriage(level, STANDARD, tuple(reasons))
