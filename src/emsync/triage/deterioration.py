"""Deterioration model: in-hospital death from a patient's vital-sign series (PhysioNet 2012).

XGBoost on `risk.risk_features` (feature set 2: set 1 plus slopes, variability, time since the
last measurement, gaps and measurement density). Each training patient contributes the series
truncated at 6, 12, 24 and 48 hours, so the score is meaningful while a series is still short (as
in the telemetry pipeline). Probabilities are Platt-scaled on inner out-of-fold margins.
Cross-validation splits by patient, so no patient's windows are on both sides of a split.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import xgboost as xgb
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from emsync.triage.evaluation import risk_calibration, risk_metrics
from emsync.triage.physionet import PhysionetRecord
from emsync.triage.risk import VitalsReading, feature_names, news2_series, risk_features

FORMAT_VERSION = 1
TRAINING_WINDOWS_HOURS = (6.0, 12.0, 24.0, 48.0)
EVALUATION_WINDOWS_HOURS = (6.0, 12.0, 24.0, 48.0)
FEATURE_SET = 2
XGB_PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    "eval_metric": "auc",
    "max_depth": 3,
    "eta": 0.03,
    "subsample": 0.8,
    "colsample_bytree": 0.7,
    "min_child_weight": 5.0,
    "lambda": 2.0,
    "tree_method": "hist",
    # One thread: on a shared 2-core machine OpenMP barriers stall whenever a core is taken.
    "nthread": 1,
}
NUM_ROUNDS = 400

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Progress = Callable[[], None]


def window(readings: Sequence[VitalsReading], hours: float) -> list[VitalsReading]:
    return [r for r in readings if r.minutes <= hours * 60]


def _matrix(
    records: Sequence[PhysionetRecord], hours: Sequence[float], feature_set: int = FEATURE_SET
) -> tuple[FloatArray, IntArray, IntArray]:
    """Feature rows for each record and window that has readings; rows carry the record index."""
    rows: list[FloatArray] = []
    labels: list[int] = []
    owners: list[int] = []
    for i, record in enumerate(records):
        for h in hours:
            readings = window(record.readings, h)
            if readings:
                rows.append(risk_features(readings, feature_set))
                labels.append(record.outcome.in_hospital_death)
                owners.append(i)
    return (
        np.vstack(rows) if rows else np.empty((0, len(feature_names(feature_set)))),
        np.asarray(labels, dtype=np.int64),
        np.asarray(owners, dtype=np.int64),
    )


def _train(x: FloatArray, y: IntArray, seed: int, feature_set: int = FEATURE_SET) -> xgb.Booster:
    dtrain = xgb.DMatrix(x, label=y, feature_names=feature_names(feature_set))
    return xgb.train({**XGB_PARAMS, "seed": seed}, dtrain, num_boost_round=NUM_ROUNDS)


def _margin(booster: xgb.Booster, x: FloatArray) -> FloatArray:
    return np.asarray(booster.inplace_predict(x, predict_type="margin"), dtype=np.float64)


@dataclass
class DeteriorationModel:
    booster: xgb.Booster
    platt: tuple[float, float]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unversioned"))

    def probability(self, x: FloatArray) -> FloatArray:
        a, b = self.platt
        return 1.0 / (1.0 + np.exp(-(a * _margin(self.booster, x) + b)))

    @property
    def feature_set(self) -> int:
        return int(self.metadata.get("feature_set", 1))

    def score(self, readings: Sequence[VitalsReading]) -> float:
        """Risk of in-hospital death given the series so far (readings in time order)."""
        return float(self.probability(risk_features(readings, self.feature_set)[None, :])[0])

    def save(self, directory: Path, name: str) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        model_path = directory / f"{name}.ubj"
        raw = bytes(self.booster.save_raw(raw_format="ubj"))
        model_path.write_bytes(raw)
        meta = {
            **self.metadata,
            "format_version": FORMAT_VERSION,
            "kind": "deterioration",
            "model_file": model_path.name,
            "model_sha256": hashlib.sha256(raw).hexdigest(),
            "features": feature_names(self.feature_set),
            "feature_set": self.feature_set,
            "platt": list(self.platt),
            "xgboost_version": xgb.__version__,
        }
        meta_path = directory / f"{name}.json"
        meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return model_path, meta_path

    @classmethod
    def load(cls, meta_path: Path) -> DeteriorationModel:
        meta = json.loads(meta_path.read_text())
        if meta.get("kind") != "deterioration" or meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{meta_path} is not a deterioration model of format {FORMAT_VERSION}")
        if meta["features"] != feature_names(int(meta.get("feature_set", 1))):
            raise ValueError("feature names in the model metadata do not match this code version")
        raw = (meta_path.parent / meta["model_file"]).read_bytes()
        if hashlib.sha256(raw).hexdigest() != meta["model_sha256"]:
            raise ValueError(f"{meta_path}: model file does not match its recorded checksum")
        booster = xgb.Booster()
        booster.load_model(bytearray(raw))
        booster.set_param({"nthread": 1})
        a, b = meta["platt"]
        return cls(booster=booster, platt=(float(a), float(b)), metadata=meta)


def _platt(margin: FloatArray, y: IntArray) -> tuple[float, float]:
    lr = LogisticRegression(C=1e6, max_iter=1000)
    lr.fit(margin[:, None], y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def fit_deterioration(
    records: Sequence[PhysionetRecord],
    *,
    seed: int = 0,
    inner_folds: int = 5,
    feature_set: int = FEATURE_SET,
    progress: Progress | None = None,
) -> DeteriorationModel:
    x, y, owner = _matrix(records, TRAINING_WINDOWS_HOURS, feature_set)
    patient_y = np.asarray([r.outcome.in_hospital_death for r in records])
    oof = np.zeros(len(y))
    splitter = StratifiedKFold(n_splits=inner_folds, shuffle=True, random_state=seed)
    for train_p, test_p in splitter.split(patient_y, patient_y):
        train = np.isin(owner, train_p)
        test = np.isin(owner, test_p)
        oof[test] = _margin(_train(x[train], y[train], seed, feature_set), x[test])
        if progress:
            progress()
    platt = _platt(oof, y)
    booster = _train(x, y, seed, feature_set)
    if progress:
        progress()
    return DeteriorationModel(
        booster=booster,
        platt=platt,
        metadata={
            "trained_records": len(records),
            "training_windows_hours": list(TRAINING_WINDOWS_HOURS),
            "feature_set": feature_set,
            "seed": seed,
        },
    )


@dataclass(frozen=True, slots=True)
class WindowScores:
    """Per-patient scores on one window: the model, NEWS2 summaries and SAPS-I where recorded."""

    hours: float
    outcome: IntArray
    model: FloatArray
    news2_max: FloatArray
    news2_mean: FloatArray
    news2_last: FloatArray
    saps_i: FloatArray


def news2_summaries(readings: Sequence[VitalsReading]) -> tuple[float, float, float]:
    scores = news2_series(readings)
    return float(max(scores)), float(np.mean(scores)), float(scores[-1])


def score_windows(
    records: Sequence[PhysionetRecord],
    predict: Callable[[FloatArray], FloatArray],
    hours: float,
    feature_set: int = FEATURE_SET,
) -> WindowScores:
    x, y, owner = _matrix(records, (hours,), feature_set)
    news = np.asarray(
        [news2_summaries(window(records[i].readings, hours)) for i in owner], dtype=np.float64
    ).reshape(-1, 3)
    saps = np.asarray(
        [
            records[i].outcome.saps_i if records[i].outcome.saps_i is not None else math.nan
            for i in owner
        ],
        dtype=np.float64,
    )
    return WindowScores(
        hours=hours,
        outcome=y,
        model=predict(x) if len(y) else np.empty(0),
        news2_max=news[:, 0],
        news2_mean=news[:, 1],
        news2_last=news[:, 2],
        saps_i=saps,
    )


def cross_validate_deterioration(
    records: Sequence[PhysionetRecord],
    *,
    folds: int = 5,
    seed: int = 0,
    feature_set: int = FEATURE_SET,
    progress: Progress | None = None,
) -> dict[float, WindowScores]:
    """Out-of-fold model scores per window, with NEWS2 and SAPS-I on the same rows."""
    y = np.asarray([r.outcome.in_hospital_death for r in records])
    predictions: dict[float, FloatArray] = {
        h: np.full(len(records), math.nan) for h in EVALUATION_WINDOWS_HOURS
    }
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(y, y):
        model = fit_deterioration(
            [records[i] for i in train], seed=seed, feature_set=feature_set, progress=progress
        )
        for h in EVALUATION_WINDOWS_HOURS:
            x, _, owner = _matrix([records[i] for i in test], (h,), feature_set)
            predictions[h][test[owner]] = model.probability(x)
    results: dict[float, WindowScores] = {}
    for h in EVALUATION_WINDOWS_HOURS:
        scored = score_windows(records, lambda x: np.zeros(len(x)), h, feature_set)
        _, _, owner = _matrix(records, (h,), feature_set)
        results[h] = WindowScores(
            hours=h,
            outcome=scored.outcome,
            model=predictions[h][owner],
            news2_max=scored.news2_max,
            news2_mean=scored.news2_mean,
            news2_last=scored.news2_last,
            saps_i=scored.saps_i,
        )
    return results


def deterioration_report(scores: WindowScores) -> dict[str, Any]:
    """AUROC/AUPRC of the model against NEWS2 (same window) and SAPS-I (where recorded)."""
    y = scores.outcome
    has_saps = ~np.isnan(scores.saps_i)
    return {
        "window_hours": scores.hours,
        "model": risk_metrics(y, scores.model),
        "news2_max": risk_metrics(y, scores.news2_max),
        "news2_mean": risk_metrics(y, scores.news2_mean),
        "news2_last": risk_metrics(y, scores.news2_last),
        "saps_i": risk_metrics(y[has_saps], scores.saps_i[has_saps])
        if has_saps.sum() > 1 and len(set(y[has_saps].tolist())) == 2
        else None,
        "model_on_saps_rows": risk_metrics(y[has_saps], scores.model[has_saps])
        if has_saps.sum() > 1 and len(set(y[has_saps].tolist())) == 2
        else None,
        "calibration": risk_calibration(y, scores.model),
    }


def stamp_version(model: DeteriorationModel, *, data_sha256: str) -> None:
    now = datetime.now(UTC)
    model.metadata.update(
        {
            "version": f"deterioration-{now:%Y%m%d}-{data_sha256[:8]}",
            "trained_at": now.isoformat(timespec="seconds"),
            "data_sha256": data_sha256,
        }
    )
