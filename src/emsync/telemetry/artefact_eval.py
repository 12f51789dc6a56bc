"""Honest evaluation of artefact detection: documented artefacts injected into PhysioNet series.

The records are split in two by record id (a hash, so the split does not depend on file order):
the development half fits the Isolation Forest and sets its threshold; the rules' thresholds are
fixed from physiology before any data is seen (artefacts.py); every figure is measured on the
evaluation half only.

Artefact models (each a kind described in the monitoring literature; the sizes are EMsync's
choices and are written into the report): ECG lead off, heart rate reading 0 while a pulse is
still measured; motion under the oximeter probe, SpO2 falsely low with an erratic pleth-derived
rate (Petterson, Begnoche, Graybeal, Anesth Analg 2007;105:S78-84); temperature probe displaced,
reading towards room air; damped or flushing arterial line, pulse pressure collapsed; ECG double
counting of tall T waves, heart rate doubled; a spurious cuff pressure; a frozen device repeating
its last heart rate. Each is inserted a few seconds after a real reading and followed by a
recovery reading (the real values again), as a monitor shows a transient; real readings are
never removed, so every true NEWS2 change is still in the series and any delay of it is the
suppression's doing.

NEWS2 here is charted as in `emsync.triage.risk.news2_series`: each channel's last value carried
forward, consciousness from GCS. "Suppression" scores each reading without its flagged fields
(the last unflagged value is kept), which is what the live pipeline does.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from emsync.telemetry.anomaly import IsolationForestModel, Tree, window_features
from emsync.telemetry.artefacts import SUPPRESSING, ArtefactKind, ArtefactRules, flat_runs
from emsync.triage.news2 import (
    pulse_score,
    respiration_rate_score,
    spo2_scale1_score,
    systolic_bp_score,
    temperature_score,
)
from emsync.triage.physionet import PhysionetRecord
from emsync.triage.risk import VitalsReading

EPOCH = datetime(2012, 1, 1, tzinfo=UTC)
ARTEFACT_MODELS: dict[str, str] = {
    "lead_off": "HR 0 for one reading while SpO2 and BP are still measured",
    "motion": "SpO2 falls 10-30 points and the pleth-derived HR jumps 30-60/min, one reading",
    "probe_off": "temperature falls 3-8 C (not below 24 C) within a minute, one reading",
    "damped_line": "systolic and diastolic collapse to within 0-6 mmHg of the mean, one reading",
    "double_counting": "HR doubled (tall T waves counted as beats), one reading",
    "cuff_spike": "systolic pressure 50-90 mmHg above or below the real value, one reading",
    "frozen": "the last HR repeated every 3 s for 40 readings (2 min), then recovery",
}
EVENTS_PER_DAY = 6.0
FIELDS = ("hr", "spo2", "rr", "sbp", "dbp", "temp")


@dataclass(slots=True)
class Point:
    """One reading of a series under evaluation: values, which fields are injected artefacts."""

    minutes: float
    values: dict[str, float]
    gcs: float | None = None
    injected: frozenset[str] = frozenset()
    kind: str | None = None
    real: bool = True
    event: int = -1  # which injected artefact episode this reading belongs to


def split_records(
    records: Sequence[PhysionetRecord],
) -> tuple[list[PhysionetRecord], list[PhysionetRecord]]:
    """(development, evaluation) halves by a hash of the record id."""
    dev: list[PhysionetRecord] = []
    test: list[PhysionetRecord] = []
    for r in records:
        digest = hashlib.sha256(r.record_id.encode()).digest()
        (dev if digest[0] % 2 == 0 else test).append(r)
    return dev, test


def points_of(readings: Sequence[VitalsReading]) -> list[Point]:
    points = []
    for r in readings:
        values = {f: float(v) for f in FIELDS if (v := getattr(r, f)) is not None}
        if values or r.gcs is not None:
            points.append(Point(minutes=r.minutes, values=values, gcs=r.gcs))
    return points


def _last_values(points: Sequence[Point]) -> dict[str, float]:
    last: dict[str, float] = {}
    for p in points:
        last.update(p.values)
    return last


def _artefact(kind: str, last: dict[str, float], rng: random.Random) -> dict[str, float] | None:
    """The values of one artefact reading given the patient's current values, or None if the
    channels it corrupts are not being measured."""
    hr, spo2, sbp, temp = last.get("hr"), last.get("spo2"), last.get("sbp"), last.get("temp")
    if kind == "lead_off" and hr is not None and (spo2 is not None or sbp is not None):
        values = {"hr": 0.0}
        if spo2 is not None:
            values["spo2"] = spo2
        if sbp is not None:
            values["sbp"] = sbp
        return values
    if kind == "motion" and hr is not None and spo2 is not None:
        jump = rng.uniform(30, 60) * rng.choice((-1, 1))
        return {"spo2": max(50.0, spo2 - rng.uniform(10, 30)), "hr": max(20.0, hr + jump)}
    if kind == "probe_off" and temp is not None:
        return {"temp": max(24.0, temp - rng.uniform(3, 8))}
    if kind == "damped_line" and sbp is not None:
        dbp = last.get("dbp", sbp * 0.55)
        mean = (sbp + 2 * dbp) / 3
        gap = rng.uniform(0, 6)
        return {"sbp": mean + gap / 2, "dbp": mean - gap / 2}
    if kind == "double_counting" and hr is not None and hr < 160:
        return {"hr": min(340.0, hr * 2)}
    if kind == "cuff_spike" and sbp is not None:
        spiked = sbp + rng.uniform(50, 90) * rng.choice((-1, 1))
        return {"sbp": min(280.0, max(25.0, spiked))}
    return None


def inject(points: Sequence[Point], rng: random.Random) -> list[Point]:
    """The series with artefact events inserted after randomly chosen real readings."""
    if len(points) < 3:
        return list(points)
    span_days = max((points[-1].minutes - points[0].minutes) / 1440.0, 1 / 24)
    events = max(1, round(EVENTS_PER_DAY * span_days))
    anchors = set(rng.sample(range(len(points) - 1), min(events, len(points) - 1)))
    out: list[Point] = []
    episode = 0
    for i, p in enumerate(points):
        out.append(p)
        if i not in anchors:
            continue
        gap = points[i + 1].minutes - p.minutes
        if gap < 3.0:  # no room for an artefact and its recovery before the next real reading
            continue
        last = _last_values(points[: i + 1])
        kind = rng.choice(sorted(ARTEFACT_MODELS))
        t = p.minutes + rng.uniform(5, 40) / 60.0
        # A monitor streams every channel; the reading just before a transient shows the
        # patient's current values (charted data has them only as the last charted ones).
        out.append(Point(t - rng.uniform(2, 4) / 60.0, dict(last), None, real=False))
        if kind == "frozen":
            if "hr" not in last:
                continue
            for k in range(40):
                frozen = Point(t + k * 0.05, {"hr": last["hr"]}, None, frozenset({"hr"}), kind)
                frozen.real = False
                frozen.event = episode
                out.append(frozen)
            episode += 1
            out.append(Point(t + 2.1, dict(last), None, real=False))
            continue
        values = _artefact(kind, last, rng)
        if values is None:
            continue
        out.append(Point(t, values, None, frozenset(values), kind, real=False, event=episode))
        episode += 1
        if kind == "lead_off":  # the other channels are real, only the HR is the artefact
            out[-1].injected = frozenset({"hr"})
        out.append(Point(t + rng.uniform(5, 20) / 60.0, dict(last), None, real=False))
    return out


# ------------------------------------------------------------------ detection


def detect_rules(
    points: Sequence[Point],
) -> tuple[list[frozenset[str]], list[frozenset[str]], list[bool]]:
    """Per reading: fields flagged by the rules, those a suppressing rule flagged, and whether the
    reading is in a flat line (per window)."""
    rules = ArtefactRules()
    flagged: list[frozenset[str]] = []
    suppressed: list[frozenset[str]] = []
    for p in points:
        ts = EPOCH + timedelta(minutes=p.minutes)
        found = rules.check("p", ts, p.values)
        flagged.append(frozenset(a.field for a in found))
        suppressed.append(frozenset(a.field for a in found if a.kind in SUPPRESSING))
    times = [EPOCH + timedelta(minutes=p.minutes) for p in points]
    flat = [False] * len(points)
    for start, end in flat_runs(times, [p.values.get("hr") for p in points]):
        for i in range(start, end + 1):
            flat[i] = True
    return flagged, suppressed, flat


def series_features(points: Sequence[Point]) -> np.ndarray[Any, np.dtype[np.float64]]:
    channels = ("hr", "spo2", "rr", "sbp", "temp")
    series = {c: [p.values.get(c) for p in points] for c in channels}
    return window_features([p.minutes for p in points], series)


def detect_forest(points: Sequence[Point], forest: IsolationForestModel) -> list[bool]:
    if len(points) < 3:
        return [False] * len(points)
    return [bool(f) for f in forest.flags(series_features(points))]


# ------------------------------------------------------------------ NEWS2 over a series


_SCORERS: dict[str, Callable[[float], int]] = {
    "rr": respiration_rate_score,
    "spo2": spo2_scale1_score,
    "sbp": systolic_bp_score,
    "hr": pulse_score,
    "temp": temperature_score,
}


def news2_states(
    points: Sequence[Point], excluded: Sequence[frozenset[str]] | None = None
) -> list[tuple[int, str, dict[str, int]]]:
    """(rank, band, sub-scores) after each reading, values carried forward; `excluded` fields of
    a reading do not update the carried value (suppression)."""
    carried: dict[str, float] = {}
    gcs: float | None = None
    out = []
    for i, p in enumerate(points):
        skip = excluded[i] if excluded is not None else frozenset()
        carried.update({k: v for k, v in p.values.items() if k not in skip})
        if p.gcs is not None:
            gcs = p.gcs
        subs = {name: scorer(carried[name]) for name, scorer in _SCORERS.items() if name in carried}
        subs["avpu"] = 3 if gcs is not None and gcs < 15 else 0
        total = sum(subs.values())
        if total >= 7:
            band, rank = "high", 4
        elif total >= 5:
            band, rank = "medium", 3
        elif 3 in subs.values():
            band, rank = "low-medium", 2
        else:
            band, rank = ("low", 1) if total else ("none", 0)
        out.append((rank, band, subs))
    return out


@dataclass
class Tally:
    real_readings: int = 0
    context_readings: int = 0  # the monitor's readings around an episode (pre and recovery)
    # kind -> [episodes, found by rules, found by rules or forest, found by forest]
    per_kind: dict[str, list[int]] = field(default_factory=dict)
    false_flags: list[int] = field(default_factory=lambda: [0, 0, 0])  # rules, forest, either
    alarms_without: int = 0
    alarms_with: int = 0
    true_alert_readings: int = 0
    delayed_band_readings: int = 0
    single_param_3_readings: int = 0
    single_param_3_delayed: int = 0


def evaluate_series(points: list[Point], forest: IsolationForestModel, tally: Tally) -> None:
    rules, suppress, flat = detect_rules(points)
    trees = detect_forest(points, forest)
    episodes: dict[int, tuple[str, list[bool]]] = {}  # episode -> (kind, [rules, either, forest])
    for p, per_reading, in_flat, f in zip(points, rules, flat, trees, strict=True):
        r = bool(per_reading) or in_flat
        if p.injected:
            assert p.kind is not None
            kind, found = episodes.setdefault(p.event, (p.kind, [False, False, False]))
            found[0] |= r
            found[1] |= r or f
            found[2] |= f
            continue
        if not p.real:
            # The monitor's own readings around an episode are the evaluation's scaffolding,
            # neither an artefact nor charted data: not counted either way.
            tally.context_readings += 1
            continue
        tally.real_readings += 1
        tally.false_flags[0] += r
        tally.false_flags[1] += f
        tally.false_flags[2] += r or f
    for kind, found in episodes.values():
        cell = tally.per_kind.setdefault(kind, [0, 0, 0, 0])
        cell[0] += 1
        cell[1] += found[0]
        cell[2] += found[1]
        cell[3] += found[2]
    plain = news2_states(points)
    suppressed = news2_states(points, suppress)
    clean = news2_states([p for p in points if p.real])
    previous = (0, 0)
    real_index = 0
    for p, without, with_ in zip(points, plain, suppressed, strict=True):
        if not p.real:
            # An alarm the artefact raised: the band goes above what the patient had before it.
            tally.alarms_without += without[0] >= 2 and without[0] > previous[0]
            tally.alarms_with += with_[0] >= 2 and with_[0] > previous[1]
            previous = (without[0], with_[0])
            continue
        expected = clean[real_index]
        real_index += 1
        previous = (without[0], with_[0])
        if expected[0] >= 2:
            tally.true_alert_readings += 1
            tally.delayed_band_readings += with_[0] < expected[0]
        for name, score in expected[2].items():
            if score == 3:
                tally.single_param_3_readings += 1
                tally.single_param_3_delayed += with_[2].get(name, 0) < 3


def _detection(tally: Tally, column: int, false_flags: int) -> dict[str, float | int]:
    """Episode-level recall and precision: an episode counts once however many readings it has;
    every flagged real (charted) reading is one false flag."""
    episodes = sum(cell[0] for cell in tally.per_kind.values())
    found = sum(cell[column] for cell in tally.per_kind.values())
    return {
        "episodes": episodes,
        "episodes_found": found,
        "false_flags": false_flags,
        "false_flags_per_1000_real_readings": 1000 * false_flags / max(tally.real_readings, 1),
        "recall": found / episodes if episodes else math.nan,
        "precision": found / (found + false_flags) if found + false_flags else math.nan,
    }


def fit_forest(
    records: Sequence[PhysionetRecord], *, seed: int = 0, false_positive_rate: float = 0.005
) -> IsolationForestModel:
    """Isolation Forest on the clean development series; threshold = its (1 - rate) quantile."""
    from sklearn.ensemble import IsolationForest

    rows = [series_features(points_of(r.readings)) for r in records if len(r.readings) >= 3]
    x = np.vstack(rows)
    forest = IsolationForest(n_estimators=100, max_samples=min(256, len(x)), random_state=seed)
    forest.fit(x)
    trees = tuple(
        Tree(
            left=np.asarray(est.tree_.children_left, dtype=np.int64),
            right=np.asarray(est.tree_.children_right, dtype=np.int64),
            feature=np.asarray(est.tree_.feature, dtype=np.int64),
            threshold=np.asarray(est.tree_.threshold, dtype=np.float64),
            samples=np.asarray(est.tree_.n_node_samples, dtype=np.float64),
            features=np.asarray(features, dtype=np.int64),
        )
        for est, features in zip(forest.estimators_, forest.estimators_features_, strict=True)
    )
    model = IsolationForestModel(
        trees=trees, max_samples=int(forest.max_samples_), threshold=1.0, metadata={}
    )
    scores = model.score(x)
    threshold = float(np.quantile(scores, 1.0 - false_positive_rate))
    return replace(
        model,
        threshold=threshold,
        metadata={
            "fitted_on_readings": len(x),
            "fitted_on_records": len(rows),
            "false_positive_rate_target": false_positive_rate,
            "seed": seed,
        },
    )


def evaluate(
    records: Sequence[PhysionetRecord],
    forest: IsolationForestModel,
    *,
    seed: int = 0,
    progress: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """The report: injection, detection precision/recall, NEWS2 alarms removed and delays."""
    rng = random.Random(seed)
    tally = Tally()
    for record in records:
        points = inject(points_of(record.readings), rng)
        evaluate_series(points, forest, tally)
        if progress:
            progress()
    removed = tally.alarms_without - tally.alarms_with
    return {
        "records": len(records),
        "readings_real": tally.real_readings,
        "readings_context": tally.context_readings,
        "artefact_models": ARTEFACT_MODELS,
        "episodes_per_day": EVENTS_PER_DAY,
        "detection": {
            "rules": _detection(tally, 1, tally.false_flags[0]),
            "isolation_forest": _detection(tally, 3, tally.false_flags[1]),
            "rules_or_forest": _detection(tally, 2, tally.false_flags[2]),
            "recall_by_kind": {
                kind: {
                    "episodes": cell[0],
                    "rules": cell[1] / cell[0],
                    "isolation_forest": cell[3] / cell[0],
                    "rules_or_forest": cell[2] / cell[0],
                }
                for kind, cell in sorted(tally.per_kind.items())
            },
        },
        "news2_alarms": {
            "raised_by_artefacts_without_suppression": tally.alarms_without,
            "raised_by_artefacts_with_suppression": tally.alarms_with,
            "removed": removed,
            "removed_fraction": removed / tally.alarms_without if tally.alarms_without else None,
            "suppression_uses": "per-reading rules only (the forest and flat lines only flag)",
        },
        "true_deteriorations": {
            "real_readings_in_an_alert_band": tally.true_alert_readings,
            "of_which_scored_lower_with_suppression": tally.delayed_band_readings,
            "single_parameter_score_3_readings": tally.single_param_3_readings,
            "of_which_delayed": tally.single_param_3_delayed,
        },
        "rule_kinds": [k.value for k in ArtefactKind],
    }
