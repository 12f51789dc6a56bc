"""Feature encoding for the acuity model: triage-time facts and chief-complaint text to a vector.

Pure (standard library and numpy). The feature list is built only from `KtasVisit` fields, which
hold no outcome, plus the nurse's level in review mode; `check_no_outcome_features` refuses any
feature space that names an outcome column, so a leak fails loudly rather than inflating scores.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from emsync.triage.ktas import OUTCOME_COLUMNS, ArrivalMode, KtasVisit
from emsync.triage.news2 import (
    pulse_score,
    respiration_rate_score,
    spo2_scale1_score,
    systolic_bp_score,
    temperature_score,
)


class Mode(StrEnum):
    FIELD = "field"
    REVIEW = "review"


# Shorthand seen in ED chief-complaint fields, expanded so "abd pain" and "abdominal pain" agree.
_SYNONYMS: Mapping[str, str] = {
    "abd": "abdominal",
    "abdomen": "abdominal",
    "rt": "right",
    "lt": "left",
    "lbp": "back",
    "backache": "back",
    "ha": "headache",
    "sob": "dyspnea",
    "loc": "consciousness",
    "mentality": "mental",
    "fb": "foreign",
    "lac": "laceration",
    "sorethroat": "throat",
    "convulsion": "seizure",
    "chills": "chill",
    "urticarial": "urticaria",
    "painful": "pain",
    "distended": "distension",
    "dz": "dizziness",
}
_STOPWORDS = frozenset({"of", "in", "for", "with", "on", "a", "the", "and", "to", "nos"})

# Complaint families that KTAS itself is organised around; they let rare wordings borrow strength.
CONCEPTS: Mapping[str, frozenset[str]] = {
    "cardiorespiratory": frozenset(
        {"chest", "dyspnea", "palpitation", "hemoptysis", "cpr", "pneumothorax", "ptx"}
    ),
    "neurological": frozenset(
        {
            "mental",
            "consciousness",
            "altered",
            "confusion",
            "seizure",
            "syncope",
            "hemiparesis",
            "dysarthria",
            "paraparesis",
            "palsy",
            "numbness",
            "delirium",
            "amnesia",
        }
    ),
    "bleeding": frozenset(
        {"bleeding", "hematemesis", "melena", "hematochezia", "hematuria", "epistaxis", "blood"}
    ),
    "minor_injury": frozenset(
        {"laceration", "wound", "abrasion", "finger", "toe", "lip", "chin", "eyebrow", "scalp"}
    ),
    "musculoskeletal": frozenset(
        {"ankle", "knee", "wrist", "shoulder", "hip", "elbow", "back", "neck", "foot", "hand"}
    ),
    "abdominal": frozenset(
        {"abdominal", "epigastric", "flank", "ruq", "rlq", "llq", "luq", "vomiting", "diarrhea"}
    ),
    "psychiatric": frozenset(
        {"suicidal", "anxiety", "hallucination", "delusional", "ideation", "violence", "alcohol"}
    ),
    "infection": frozenset({"fever", "chill", "cough", "dysuria", "cellulitis", "throat"}),
    "device_or_admin": frozenset(
        {"malfunction", "tube", "ptbd", "avf", "peg", "copy", "film", "finding", "medication"}
    ),
}

_TOKEN = re.compile(r"[a-z]+")


def complaint_tokens(text: str) -> list[str]:
    """Lower-cased, expanded tokens of a chief complaint, without stop words, de-duplicated."""
    out: list[str] = []
    for raw in _TOKEN.findall(text.lower()):
        token = _SYNONYMS.get(raw, raw)
        if len(token) > 1 and token not in _STOPWORDS and token not in out:
            out.append(token)
    return out


_NUMERIC = ("age", "nrs_pain", "sbp", "dbp", "hr", "rr", "bt", "spo2")
_ARRIVALS = tuple(ArrivalMode)
NURSE_FEATURE = "nurse_level"


@dataclass(frozen=True, slots=True)
class FeatureSpace:
    """The ordered features of one model; the vocabulary is learnt from its training rows only."""

    mode: Mode
    vocabulary: tuple[str, ...]

    @classmethod
    def fit(cls, visits: Iterable[KtasVisit], *, mode: Mode, min_count: int = 3) -> FeatureSpace:
        counts: Counter[str] = Counter()
        for visit in visits:
            counts.update(complaint_tokens(visit.chief_complaint))
        vocabulary = tuple(sorted(t for t, n in counts.items() if n >= min_count))
        space = cls(mode=mode, vocabulary=vocabulary)
        check_no_outcome_features(space.names, mode=mode)
        return space

    @property
    def names(self) -> list[str]:
        names = [
            *_NUMERIC,
            "male",
            "injury",
            "mental",
            "pain",
            *(f"arrival={a.value}" for a in _ARRIVALS),
            "shock_index",
            "pulse_pressure",
            "news2_vitals",
            "news2_red_vitals",
            *(f"concept={c}" for c in CONCEPTS),
            *(f"cc={t}" for t in self.vocabulary),
        ]
        if self.mode is Mode.REVIEW:
            names.append(NURSE_FEATURE)
        return names

    def encode(self, visit: KtasVisit, nurse_level: int | None = None) -> npt.NDArray[np.float32]:
        row: npt.NDArray[np.float32] = self.encode_many([visit], [nurse_level])[0]
        return row

    def encode_many(
        self, visits: Sequence[KtasVisit], nurse_levels: Sequence[int | None] | None = None
    ) -> npt.NDArray[np.float32]:
        if self.mode is Mode.REVIEW and (
            nurse_levels is None or any(n is None for n in nurse_levels)
        ):
            raise ValueError("review mode needs the nurse's KTAS level for every visit")
        index = {t: i for i, t in enumerate(self.vocabulary)}
        width = len(self.names)
        matrix = np.full((len(visits), width), np.nan, dtype=np.float32)
        for row, visit in enumerate(visits):
            values = _facts(visit)
            matrix[row, : len(values)] = values
            tokens = complaint_tokens(visit.chief_complaint)
            base = len(values)
            for j, members in enumerate(CONCEPTS.values()):
                matrix[row, base + j] = float(any(t in members for t in tokens))
            base += len(CONCEPTS)
            matrix[row, base : base + len(self.vocabulary)] = 0.0
            for token in tokens:
                if token in index:
                    matrix[row, base + index[token]] = 1.0
            if self.mode is Mode.REVIEW:
                assert nurse_levels is not None
                matrix[row, width - 1] = float(nurse_levels[row] or math.nan)
        return matrix

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode.value, "vocabulary": list(self.vocabulary), "names": self.names}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureSpace:
        space = cls(mode=Mode(data["mode"]), vocabulary=tuple(data["vocabulary"]))
        if list(data["names"]) != space.names:
            raise ValueError("feature names in the model metadata do not match this code version")
        check_no_outcome_features(space.names, mode=space.mode)
        return space


def _opt(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _facts(visit: KtasVisit) -> list[float]:
    sbp, hr = visit.sbp, visit.hr
    # Partial NEWS2 over the vitals actually measured: KTAS has no oxygen flag and many blank SpO2.
    sub = [
        respiration_rate_score(visit.rr) if visit.rr is not None else 0,
        spo2_scale1_score(visit.spo2) if visit.spo2 is not None else 0,
        systolic_bp_score(sbp) if sbp is not None else 0,
        pulse_score(hr) if hr is not None else 0,
        temperature_score(visit.bt) if visit.bt is not None else 0,
        0 if visit.mental == 1 else 3,
    ]
    return [
        visit.age,
        _opt(visit.nrs_pain),
        _opt(sbp),
        _opt(visit.dbp),
        _opt(hr),
        _opt(visit.rr),
        _opt(visit.bt),
        _opt(visit.spo2),
        float(visit.sex == "male"),
        float(visit.injury),
        float(visit.mental),
        float(visit.pain),
        *(float(visit.arrival_mode is a) for a in _ARRIVALS),
        hr / sbp if hr is not None and sbp else math.nan,
        sbp - visit.dbp if sbp is not None and visit.dbp is not None else math.nan,
        float(sum(sub)),
        float(sum(s == 3 for s in sub)),
    ]


def check_no_outcome_features(names: Iterable[str], *, mode: Mode) -> None:
    """Refuse a feature list that carries an outcome (the nurse's level only in review mode)."""
    allowed_nurse = mode is Mode.REVIEW
    normalised_outcomes = {_norm(c) for c in OUTCOME_COLUMNS}
    for name in names:
        key = _norm(name)
        if name == NURSE_FEATURE and allowed_nurse:
            continue
        if name == NURSE_FEATURE or key in normalised_outcomes or key == _norm("KTAS_expert"):
            raise ValueError(f"feature {name!r} is an outcome and cannot be a {mode.value} feature")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())
