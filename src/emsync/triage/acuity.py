"""Acuity model: KTAS level 1-5 from triage-time facts (field) or with the nurse's level (review).

Gradient-boosted trees (XGBoost) on `FeatureSpace` vectors with square-root-balanced class
weights, temperature-scaled probabilities, and a safety decision rule: the level with the lowest
expected cost when under-triage (a higher KTAS number than the truth) costs `under_triage_cost`
times an over-triage. The temperature and that cost are fitted by an inner cross-validation on
the training rows only, so an outer cross-validation of `fit_acuity` is honest end to end.

Saved as XGBoost UBJSON plus JSON metadata; nothing is unpickled.
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
from scipy.optimize import minimize_scalar
from sklearn.model_selection import StratifiedKFold

from emsync.triage.evaluation import triage_calibration, triage_metrics
from emsync.triage.features import FeatureSpace, Mode
from emsync.triage.ktas import KtasVisit, LabelledVisit

FORMAT_VERSION = 1
# Fixed a priori (small data: shallow trees, slow learning, row/column subsampling) rather than
# tuned, so the outer cross-validation needs no nesting for them.
XGB_PARAMS: dict[str, Any] = {
    "objective": "multi:softprob",
    "num_class": 5,
    "max_depth": 3,
    "eta": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.7,
    "min_child_weight": 1.0,
    "lambda": 2.0,
    "tree_method": "hist",
    # One thread: on a shared 2-core machine OpenMP barriers stall whenever a core is taken.
    "nthread": 1,
}
NUM_ROUNDS = 250
UNDER_TRIAGE_COST_GRID = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0)
UNDER_TRIAGE_TARGET = {Mode.FIELD: 0.10, Mode.REVIEW: 0.05}

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[], None]


@dataclass(frozen=True, slots=True)
class Contribution:
    feature: str
    value: float | None
    contribution: float


@dataclass(frozen=True, slots=True)
class AcuityPrediction:
    level: int
    most_likely_level: int
    probabilities: tuple[float, float, float, float, float]
    explanation: tuple[Contribution, ...]


def class_weights(labels: npt.NDArray[np.int64]) -> FloatArray:
    """Square-root inverse frequency: rare urgent levels count more without swamping the common."""
    counts = np.bincount(labels, minlength=5).astype(np.float64)
    per_class = np.sqrt(len(labels) / (5 * np.maximum(counts, 1.0)))
    return per_class[labels]


def softmax(margin: FloatArray, temperature: float = 1.0) -> FloatArray:
    z = margin / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def safety_decision(probabilities: FloatArray, under_triage_cost: float) -> npt.NDArray[np.int64]:
    """KTAS level (1-5) of least expected cost; under-triage costs `under_triage_cost`, over 1."""
    levels = np.arange(5)
    cost = np.where(
        levels[:, None] > levels[None, :], under_triage_cost, 1.0
    )  # cost[predicted, truth]
    np.fill_diagonal(cost, 0.0)
    expected = probabilities @ cost.T
    levels_chosen: npt.NDArray[np.int64] = expected.argmin(axis=1).astype(np.int64) + 1
    return levels_chosen


def fit_temperature(margin: FloatArray, labels: npt.NDArray[np.int64]) -> float:
    def nll(log_t: float) -> float:
        p = softmax(margin, math.exp(log_t))
        return float(-np.mean(np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, 1))))

    result = minimize_scalar(nll, bounds=(-2.0, 2.0), method="bounded")
    return float(math.exp(result.x))


def choose_under_triage_cost(
    probabilities: FloatArray, truth: npt.NDArray[np.int64], target: float
) -> float:
    """Smallest cost on the grid whose decisions meet the under-triage target (else the largest)."""
    for cost in UNDER_TRIAGE_COST_GRID:
        if float(np.mean(safety_decision(probabilities, cost) > truth)) <= target:
            return cost
    return UNDER_TRIAGE_COST_GRID[-1]


def _train_booster(
    x: FloatArray, labels: npt.NDArray[np.int64], names: list[str], seed: int
) -> xgb.Booster:
    dtrain = xgb.DMatrix(x, label=labels, weight=class_weights(labels), feature_names=names)
    return xgb.train({**XGB_PARAMS, "seed": seed}, dtrain, num_boost_round=NUM_ROUNDS)


def _margin(booster: xgb.Booster, x: FloatArray) -> FloatArray:
    return np.asarray(booster.inplace_predict(x, predict_type="margin"), dtype=np.float64)


def _xy(
    rows: Sequence[LabelledVisit], space: FeatureSpace
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    x = space.encode_many([r.visit for r in rows], [r.nurse_level for r in rows]).astype(np.float64)
    y = np.array([r.expert_level - 1 for r in rows], dtype=np.int64)
    return x, y


@dataclass
class AcuityModel:
    booster: xgb.Booster
    space: FeatureSpace
    temperature: float
    under_triage_cost: float
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def mode(self) -> Mode:
        return self.space.mode

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unversioned"))

    def probabilities(self, x: FloatArray) -> FloatArray:
        return softmax(_margin(self.booster, x), self.temperature)

    def predict_rows(
        self, rows: Sequence[LabelledVisit]
    ) -> tuple[FloatArray, npt.NDArray[np.int64]]:
        x, _ = _xy(rows, self.space)
        p = self.probabilities(x)
        return p, safety_decision(p, self.under_triage_cost)

    def predict(
        self, visit: KtasVisit, nurse_level: int | None = None, *, explain: int = 8
    ) -> AcuityPrediction:
        """One patient's level, probabilities and the features that pushed towards that level."""
        x = self.space.encode(visit, nurse_level)[None, :].astype(np.float64)
        p = self.probabilities(x)
        level = int(safety_decision(p, self.under_triage_cost)[0])
        contributions = self.explain(x, level)[:explain] if explain else ()
        probs = tuple(float(v) for v in p[0])
        return AcuityPrediction(
            level=level,
            most_likely_level=int(p[0].argmax()) + 1,
            probabilities=(probs[0], probs[1], probs[2], probs[3], probs[4]),
            explanation=tuple(contributions),
        )

    def explain(self, x: FloatArray, level: int) -> list[Contribution]:
        """SHAP contributions (log-odds) towards `level`, largest magnitude first, bias last."""
        dm = xgb.DMatrix(x, feature_names=self.space.names, nthread=1)
        contribs = np.asarray(self.booster.predict(dm, pred_contribs=True))[0, level - 1]
        names = [*self.space.names, "baseline"]
        items = [
            Contribution(
                feature=names[i],
                value=None if i == len(names) - 1 or math.isnan(x[0, i]) else float(x[0, i]),
                contribution=float(contribs[i]),
            )
            for i in range(len(names) - 1)
            if contribs[i] != 0.0
        ]
        items.sort(key=lambda c: -abs(c.contribution))
        return items

    def save(self, directory: Path, name: str) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        model_path = directory / f"{name}.ubj"
        raw = bytes(self.booster.save_raw(raw_format="ubj"))
        model_path.write_bytes(raw)
        meta = {
            **self.metadata,
            "format_version": FORMAT_VERSION,
            "kind": "acuity",
            "model_file": model_path.name,
            "model_sha256": hashlib.sha256(raw).hexdigest(),
            "features": self.space.to_json(),
            "temperature": self.temperature,
            "under_triage_cost": self.under_triage_cost,
            "xgboost_version": xgb.__version__,
        }
        meta_path = directory / f"{name}.json"
        meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return model_path, meta_path

    @classmethod
    def load(cls, meta_path: Path) -> AcuityModel:
        meta = json.loads(meta_path.read_text())
        if meta.get("kind") != "acuity" or meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{meta_path} is not an acuity model of format {FORMAT_VERSION}")
        raw = (meta_path.parent / meta["model_file"]).read_bytes()
        if hashlib.sha256(raw).hexdigest() != meta["model_sha256"]:
            raise ValueError(f"{meta_path}: model file does not match its recorded checksum")
        booster = xgb.Booster()
        booster.load_model(bytearray(raw))
        # One thread: single predictions are latency-bound and the API runs many in parallel.
        booster.set_param({"nthread": 1})
        return cls(
            booster=booster,
            space=FeatureSpace.from_json(meta["features"]),
            temperature=float(meta["temperature"]),
            under_triage_cost=float(meta["under_triage_cost"]),
            metadata=meta,
        )


def fit_acuity(
    rows: Sequence[LabelledVisit],
    *,
    mode: Mode,
    seed: int = 0,
    inner_folds: int = 5,
    progress: Progress | None = None,
) -> AcuityModel:
    """Fit on `rows` only: vocabulary, temperature and decision cost all come from them."""
    space = FeatureSpace.fit((r.visit for r in rows), mode=mode)
    x, y = _xy(rows, space)
    oof_margin = np.zeros((len(rows), 5))
    splitter = StratifiedKFold(n_splits=inner_folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(x, y):
        # The inner models reuse the outer vocabulary: it only fixes which columns exist.
        booster = _train_booster(x[train], y[train], space.names, seed)
        oof_margin[test] = _margin(booster, x[test])
        if progress:
            progress()
    temperature = fit_temperature(oof_margin, y)
    cost = choose_under_triage_cost(
        softmax(oof_margin, temperature), y + 1, UNDER_TRIAGE_TARGET[mode]
    )
    booster = _train_booster(x, y, space.names, seed)
    if progress:
        progress()
    return AcuityModel(
        booster=booster,
        space=space,
        temperature=temperature,
        under_triage_cost=cost,
        metadata={"mode": mode.value, "trained_rows": len(rows), "seed": seed},
    )


@dataclass(frozen=True, slots=True)
class CrossValidation:
    truth: npt.NDArray[np.int64]
    probabilities: FloatArray
    safety_levels: npt.NDArray[np.int64]
    fold_costs: tuple[float, ...]


def cross_validate_acuity(
    rows: Sequence[LabelledVisit],
    *,
    mode: Mode,
    folds: int = 5,
    seed: int = 0,
    progress: Progress | None = None,
) -> CrossValidation:
    """Out-of-fold predictions of `fit_acuity`, which nests its calibration and decision cost."""
    y = np.array([r.expert_level for r in rows], dtype=np.int64)
    probabilities = np.zeros((len(rows), 5))
    levels = np.zeros(len(rows), dtype=np.int64)
    costs = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(len(y)), y):
        model = fit_acuity([rows[i] for i in train], mode=mode, seed=seed, progress=progress)
        p, lv = model.predict_rows([rows[i] for i in test])
        probabilities[test] = p
        levels[test] = lv
        costs.append(model.under_triage_cost)
    return CrossValidation(
        truth=y, probabilities=probabilities, safety_levels=levels, fold_costs=tuple(costs)
    )


def acuity_report(
    truth: npt.NDArray[np.int64], probabilities: FloatArray, safety_levels: npt.NDArray[np.int64]
) -> dict[str, Any]:
    """Metrics of the safety rule (the shipped decision) and of the plain most-likely level."""
    argmax = probabilities.argmax(axis=1).astype(np.int64) + 1
    return {
        "metrics": triage_metrics(truth, safety_levels),
        "metrics_most_likely_level": triage_metrics(truth, argmax),
        "calibration": triage_calibration(truth, probabilities),
    }


def stamp_version(model: AcuityModel, *, data_sha256: str) -> None:
    now = datetime.now(UTC)
    model.metadata.update(
        {
            "version": f"acuity-{model.mode.value}-{now:%Y%m%d}-{data_sha256[:8]}",
            "trained_at": now.isoformat(timespec="seconds"),
            "data_sha256": data_sha256,
        }
    )
