"""Live early-warning score for a child: Bedside PEWS over a monitor's latest values. Pure.

A child on a monitor is scored with the paediatric score for their age (`emsync.triage.pews`),
never NEWS2, and the alert that follows is a PEWS alert. A monitor measures heart rate,
respiratory rate, SpO2 and (often) blood pressure; capillary refill and work of breathing are a
person's observations, so they are listed as not measured and the total is a lower bound. Oxygen
reported as on, without a flow, is the table's lower oxygen column.

Patients' ages are stored in whole years: a child of 0 may be 3 weeks or 11 months old, so each
item takes the higher of the two infant groups' sub-scores (the safe side).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from emsync.triage.paediatric import PAEDIATRIC_MAX_AGE
from emsync.triage.pews import (
    AgeGroup,
    PewsScore,
    PewsSubscores,
    age_group,
    heart_rate_score,
    pews_band,
    respiratory_rate_score,
    spo2_score,
    systolic_bp_score,
)

SCALE = "bedside-pews"
Value = float | bool | str


def is_child(age_years: float | None) -> bool:
    return age_years is not None and 0 <= age_years < PAEDIATRIC_MAX_AGE


class PewsScored(NamedTuple):
    total: int
    band: str
    subscores: tuple[int, ...]
    not_measured: tuple[str, ...]
    age_group: str
    ts: datetime

    def as_dict(self, ts_text: str | None = None) -> dict[str, Any]:
        return {
            "scale": SCALE,
            "total": self.total,
            "band": self.band,
            "subscores": list(self.subscores),
            "not_measured": list(self.not_measured),
            "age_group": self.age_group,
            "ts": self.ts.isoformat() if ts_text is None else ts_text,
        }


_INFANT_GROUPS = (AgeGroup.UNDER_3_MONTHS, AgeGroup.MONTHS_3_TO_12)
_NOT_MEASURED = ("capillary_refill", "respiratory_effort")


def _worst(value: float | None, scorer: Callable[[float, AgeGroup], int], groups: Any) -> int:
    if value is None:
        return 0
    return max(scorer(value, g) for g in groups)


def child_pews(age_years: float, values: Mapping[str, Any]) -> PewsScore:
    """PEWS of a monitor's values; age 0 in whole years takes each item's worse infant group.

    Scores the items directly (no per-call closures: it runs per reading on the ingest path)."""
    groups = _INFANT_GROUPS if age_years == 0 else (age_group(age_years),)
    hr, sbp, rr, spo2 = values.get("hr"), values.get("sbp"), values.get("rr"), values.get("spo2")
    sub = PewsSubscores(
        heart_rate=_worst(hr, heart_rate_score, groups),
        systolic_bp=_worst(sbp, systolic_bp_score, groups),
        capillary_refill=0,
        respiratory_effort=0,
        respiratory_rate=_worst(rr, respiratory_rate_score, groups),
        spo2=0 if spo2 is None else spo2_score(spo2),
        oxygen_therapy=2 if values.get("o2") else 0,
    )
    missing = [*_NOT_MEASURED]
    if sbp is None:
        missing.insert(0, "systolic_bp")
    total = sum(sub)
    group = "under 1 year (both infant groups)" if age_years == 0 else groups[0]
    return PewsScore(
        subscores=sub,
        total=total,
        band=pews_band(total, sub),
        age_group=group,  # type: ignore[arg-type]
        not_measured=tuple(missing),
    )


def score_pews(
    fields: Mapping[str, tuple[Value, datetime]],
    *,
    at: datetime,
    window: timedelta,
    age_years: float,
) -> PewsScored | None:
    """PEWS over the values measured within `window` before `at`; None without a heart rate,
    respiratory rate and SpO2 in the window (too little for a score that means anything)."""
    oldest = at - window
    values: dict[str, Any] = {}
    for name in ("hr", "rr", "spo2", "sbp", "o2"):
        item = fields.get(name)
        if item is not None and item[1] >= oldest:
            values[name] = item[0]
    if "hr" not in values or "rr" not in values or "spo2" not in values:
        return None
    score = child_pews(age_years, values)
    return PewsScored(
        total=score.total,
        band=str(score.band),
        subscores=tuple(score.subscores),
        not_measured=score.not_measured,
        age_group=str(score.age_group),
        ts=at,
    )
