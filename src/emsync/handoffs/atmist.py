"""ATMIST required-field rules and vital-sign trends (pure).

ATMIST is the UK/Commonwealth pre-alert structure: Age, Time of onset, Mechanism (or medical
complaint), Injuries (or illness) found, Signs (vital signs), Treatment given. A draft may be
incomplete; a handoff is sent only when every rule here holds, so the receiving department never
gets a pre-alert with a hole it has to phone about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

VITAL_FIELDS = ("hr", "spo2", "rr", "sbp", "dbp", "temp")
# A change smaller than this between the first and the last reading is "steady": measurement
# noise of the devices (bpm, %, /min, mmHg, mmHg, °C), not a clinical trend.
TREND_TOLERANCE: Mapping[str, float] = {
    "hr": 5,
    "spo2": 1,
    "rr": 2,
    "sbp": 10,
    "dbp": 5,
    "temp": 0.3,
}


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    message: str


class Trend(StrEnum):
    RISING = "rising"
    FALLING = "falling"
    STEADY = "steady"
    SINGLE = "single reading"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def missing_for_send(
    content: Mapping[str, Any],
    *,
    acuity: int | None,
    eta: datetime | None,
    hospital_id: str | None,
) -> list[FieldProblem]:
    """Every rule a handoff breaks before it may be sent; empty when it may go."""
    problems: list[FieldProblem] = []
    patient = content.get("patient") or {}
    if patient.get("age_years") is None and _blank(patient.get("age_band")):
        problems.append(
            FieldProblem("content.patient.age_years", "A: give the age, or an age band if unknown")
        )
    if content.get("time_of_onset") is None and not content.get("onset_unknown"):
        problems.append(
            FieldProblem(
                "content.time_of_onset",
                "T: give the time of onset, or set onset_unknown when nobody knows it",
            )
        )
    if _blank(content.get("mechanism")):
        problems.append(
            FieldProblem("content.mechanism", "M: give the mechanism of injury or the complaint")
        )
    injuries = content.get("injuries")
    if not injuries:
        problems.append(
            FieldProblem(
                "content.injuries",
                "I: list the injuries or illness found (at least one finding)",
            )
        )
    signs: Sequence[Mapping[str, Any]] = content.get("signs") or ()
    if not any(any(s.get(f) is not None for f in (*VITAL_FIELDS, "avpu")) for s in signs):
        problems.append(FieldProblem("content.signs", "S: record at least one set of vital signs"))
    if content.get("treatment") is None:
        problems.append(
            FieldProblem(
                "content.treatment",
                "T: list the treatment given (an empty list states that none was given)",
            )
        )
    if acuity is None:
        problems.append(FieldProblem("acuity", "the acuity (KTAS 1-5) is required to send"))
    if eta is None:
        problems.append(FieldProblem("eta", "the estimated time of arrival is required to send"))
    if _blank(hospital_id):
        problems.append(FieldProblem("hospital_id", "the destination hospital is required"))
    return problems


def vital_trends(signs: Sequence[Mapping[str, Any]]) -> dict[str, Trend]:
    """Each vital sign's direction from its first to its last reading (readings in time order)."""
    ordered = sorted(signs, key=lambda s: s["ts"])
    trends: dict[str, Trend] = {}
    for name in VITAL_FIELDS:
        values = [float(s[name]) for s in ordered if s.get(name) is not None]
        if not values:
            continue
        if len(values) == 1:
            trends[name] = Trend.SINGLE
            continue
        delta = values[-1] - values[0]
        if abs(delta) < TREND_TOLERANCE[name]:
            trends[name] = Trend.STEADY
        else:
            trends[name] = Trend.RISING if delta > 0 else Trend.FALLING
    return trends
