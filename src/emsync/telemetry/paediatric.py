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

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from emsync.triage.paediatric import PAEDIATRIC_MAX_AGE
from emsync.triage.pews import PewsScore, PewsSubscores, bedside_pews, pews_band

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


def _score(age: float, values: Mapping[str, Any]) -> PewsScore:
    return bedside_pews(
        age_years=age,
        hr=values.get("hr"),
        sbp=values.get("sbp"),
        rr=values.get("rr"),
        spo2=values.get("spo2"),
        oxygen="low_flow" if values.get("o2") else "room_air",
    )


def child_pews(age_years: float, values: Mapping[str, Any]) -> PewsScore:
    """PEWS of one set of values; age 0 in whole years takes each item's worse infant group."""
    if age_years != 0:
        return _score(age_years, values)
    young, older = _score(0.1, values), _score(0.5, values)
    sub = PewsSubscores(*(max(a, b) for a, b in zip(young.subscores, older.subscores, strict=True)))
    total = sum(sub)
    return PewsScore(
        subscores=sub,
        total=total,
        band=pews_band(total, sub),
        age_group="under 1 year (both infant groups)",  # type: ignore[arg-type]
        not_measured=young.not_measured,
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
