"""Probable monitor artefacts in live vitals, pure: per-reading rules (hot path) and per window.

Most monitor alarms are not actionable (Joint Commission Sentinel Event Alert 50, 2013, cites
85-99%), and artefacts are a large part of them: a lead off, motion under an oximeter probe, a
temperature probe out of place, a frozen device. A reading flagged here is still stored, pushed
and shown, marked as a probable artefact with the rule that fired; only fields flagged by a rule
in `SUPPRESSING` are left out of the early-warning score of that reading (the score keeps the
last value that was not flagged, if still inside its window). Nothing is dropped.

The per-reading rules are built so that they cannot delay a true single-parameter alarm: each
needs evidence that the value is not the patient, not merely that it is abnormal.

- `lead_off`: heart rate 0 while the same reading still measures a pulse (SpO2 of 80% or more, or
  a systolic pressure of 50 or more). Asystole has no pulse to oximeter or cuff; an ECG lead off
  reads 0 with a perfectly perfused patient.
- `motion`: SpO2 falls by 8 points or more within 30 s while the (pleth-derived) heart rate jumps
  by 30/min or more in the same interval. Motion corrupts both from one photoplethysmogram; a real
  desaturation over seconds does not move the rate that way. On the wire (DESIGN.md 3.1) a
  monitor sends one `hr`; on an oximeter-only device it is the pleth rate.
- `probe_off`: temperature falls by 1.5 C or more at over 0.5 C/min. Core temperature cannot fall
  that fast (even cold-water immersion cools under 0.2 C/min); a probe that slipped reads room air.
- `damped_line`: a pulse pressure under 8 mmHg (systolic minus diastolic): most often a damped
  or flushing arterial line or a cuff that failed. Flagged, never excluded from the score: a
  collapsed pulse pressure is also what a failing circulation (tamponade, arrest) looks like, so
  the rule has no proof that the value is not the patient. Real PhysioNet series carry 119 such
  readings in half the records, some with a systolic of 90 or less.

Per window (off the hot path, over a patient's recent readings):
- `flat_line`: the same heart rate for 30 readings or more spanning 60 s or more. A beating heart
  is never that regular at monitor resolution; a frozen device repeats its last value. Flagged
  for the clinician, never excluded from the score: a frozen normal value hides deterioration,
  so the risk is false reassurance, which only a person checking the device can remove.

No I/O; standard library only. `ArtefactRules` keeps a few values per patient (bounded).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple


class ArtefactKind(StrEnum):
    LEAD_OFF = "lead_off"
    MOTION = "motion"
    PROBE_OFF = "probe_off"
    DAMPED_LINE = "damped_line"
    FLAT_LINE = "flat_line"
    ANOMALY = "anomaly"  # the unsupervised window model (anomaly.py), not a rule


# Only these kinds carry proof that the value is not the patient, so only they leave the score;
# every other kind is shown as a probable artefact and scored as measured.
SUPPRESSING: frozenset[ArtefactKind] = frozenset(
    {ArtefactKind.LEAD_OFF, ArtefactKind.MOTION, ArtefactKind.PROBE_OFF}
)


class Artefact(NamedTuple):
    field: str
    kind: ArtefactKind

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "kind": self.kind.value}


# Thresholds of the rules (see the module docstring for why each is what it is).
LEAD_OFF_SPO2 = 80.0
LEAD_OFF_SBP = 50.0
MOTION_SECONDS = 30.0
MOTION_SPO2_DROP = 8.0
MOTION_HR_JUMP = 30.0
PROBE_OFF_DROP = 1.5
PROBE_OFF_RATE_PER_MIN = 0.5
PROBE_OFF_CONTEXT_SECONDS = 600.0
DAMPED_PULSE_PRESSURE = 8.0
FLAT_READINGS = 30
FLAT_SECONDS = 60.0

_NOTHING: tuple[Artefact, ...] = ()


Last = tuple[float, datetime]  # a field's last value that was not flagged, with its time
_REMEMBERED = ("hr", "spo2", "temp")  # the fields the per-reading rules look back at


class ArtefactRules:
    """Per-reading rules for a stream of patients. `check` costs a few dict look-ups and
    comparisons when nothing fires (bench/artefacts.py)."""

    __slots__ = ("_last", "_limit")

    def __init__(self, limit: int = 100_000) -> None:
        # patient -> field -> last value not flagged, with its time
        self._last: dict[str, dict[str, Last]] = {}
        self._limit = limit

    def forget(self, patient_id: str) -> None:
        self._last.pop(patient_id, None)

    def last_unflagged(self, patient_id: str) -> Mapping[str, Last]:
        """The last value of hr, spo2 and temp that no rule flagged, with its time."""
        return self._last.get(patient_id) or {}

    def check(
        self, patient_id: str, ts: datetime, values: Mapping[str, Any]
    ) -> tuple[Artefact, ...]:
        """The probable artefacts in one reading (fields flagged), remembering the rest."""
        last = self._last.get(patient_id)
        if last is None:
            if len(self._last) >= self._limit:
                self._last.pop(next(iter(self._last)))
            last = self._last[patient_id] = {}
        found = flag_reading(values, ts, last)
        get = values.get
        if not found:
            if (hr := get("hr")) is not None:
                last["hr"] = (hr, ts)
            if (spo2 := get("spo2")) is not None:
                last["spo2"] = (spo2, ts)
            if (temp := get("temp")) is not None:
                last["temp"] = (temp, ts)
            return found
        flagged = {a.field for a in found}
        for name in _REMEMBERED:
            value = get(name)
            if value is not None and name not in flagged:
                last[name] = (value, ts)
        return found


def flag_reading(
    values: Mapping[str, Any], ts: datetime, last: Mapping[str, Last]
) -> tuple[Artefact, ...]:
    """The rules of one reading against the last unflagged values (pure; `ArtefactRules` keeps
    `last`). Returns the empty tuple, shared, when nothing fires (the common case)."""
    get = values.get
    hr = get("hr")
    spo2 = get("spo2")
    sbp = get("sbp")
    found: list[Artefact] | None = None
    if hr == 0 and (
        (spo2 is not None and spo2 >= LEAD_OFF_SPO2) or (sbp is not None and sbp >= LEAD_OFF_SBP)
    ):
        found = [Artefact("hr", ArtefactKind.LEAD_OFF)]
    if spo2 is not None and hr is not None:
        ls = last.get("spo2")
        if ls is not None and ls[0] - spo2 >= MOTION_SPO2_DROP:
            lh = last.get("hr")
            if (
                lh is not None
                and abs(hr - lh[0]) >= MOTION_HR_JUMP
                and (ts - ls[1]).total_seconds() <= MOTION_SECONDS
                and (ts - lh[1]).total_seconds() <= MOTION_SECONDS
            ):
                found = found or []
                found.append(Artefact("spo2", ArtefactKind.MOTION))
                if hr != 0:
                    found.append(Artefact("hr", ArtefactKind.MOTION))
    temp = get("temp")
    if temp is not None:
        lt = last.get("temp")
        if lt is not None and lt[0] - temp >= PROBE_OFF_DROP:
            seconds = (ts - lt[1]).total_seconds()
            if (
                0 < seconds <= PROBE_OFF_CONTEXT_SECONDS
                and (lt[0] - temp) / (seconds / 60.0) > PROBE_OFF_RATE_PER_MIN
            ):
                found = found or []
                found.append(Artefact("temp", ArtefactKind.PROBE_OFF))
    if sbp is not None:
        dbp = get("dbp")
        if dbp is not None and sbp - dbp < DAMPED_PULSE_PRESSURE:
            found = found or []
            found += [
                Artefact("sbp", ArtefactKind.DAMPED_LINE),
                Artefact("dbp", ArtefactKind.DAMPED_LINE),
            ]
    return _NOTHING if found is None else tuple(found)


def flat_runs(times: Sequence[datetime], values: Sequence[float | None]) -> list[tuple[int, int]]:
    """(first, last) index pairs of the repeats in runs of one value long enough to be a frozen
    device. The run's first reading is the value that froze, so `first` is the one after it."""
    runs: list[tuple[int, int]] = []
    start = 0
    count = 0
    current: float | None = None
    for i, value in enumerate([*values, None]):
        if value is not None and value == current:
            count += 1
            continue
        if current is not None and count >= FLAT_READINGS:
            last = start + count - 1
            if (times[last] - times[start]).total_seconds() >= FLAT_SECONDS:
                runs.append((start + 1, last))
        current, start, count = value, i, 1
    return runs


def without_artefacts(values: Mapping[str, Any], artefacts: Sequence[Artefact]) -> dict[str, Any]:
    """The values an early-warning score may use: fields flagged by a suppressing rule left out."""
    if not artefacts:
        return dict(values)
    excluded = {a.field for a in artefacts if a.kind in SUPPRESSING}
    return {k: v for k, v in values.items() if k not in excluded}


def suppressed_fields(flagged: Iterable[Mapping[str, str]] | None) -> frozenset[str]:
    """The fields of a reading whose flags (as stored and pushed: {field, kind}) are of a
    suppressing kind: left out of every score, mean and chart, shown everywhere else."""
    if not flagged:
        return frozenset()
    return frozenset(a["field"] for a in flagged if a["kind"] in SUPPRESSING)
