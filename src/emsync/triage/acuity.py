"""Acuity model: KTAS level 1-5 from triage-time facts (field) or with the nurse's level (review).

Gradient-boosted trees (XGBoost) on `FeatureSpace` vectors with square-root-balanced class
weights, and a safety decision rule: the level with the lowest expected cost when under-triage
(a higher KTAS number than the truth) costs `under_triage_cost` times an over-triage.

Four variants compete (`VARIANTS`): a 5-class softmax (temperature-scaled) or an ordinal model
(four binary boosters for P(level > k), Frank and Hall's cumulative decomposition), each with or
without the chief-complaint text model's out-of-fold probabilities as features
(`complaint_text.py`). `fit_acuity` fits every variant's inner cross-validation on the training
rows only, fits its temperature and decision cost there, and keeps the variant whose inner
decisions are most accurate within the mode's under-triage target: the choice is part of the
training procedure, so an outer cross-validation of `fit_acuity` is honest end to end.

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

from emsync.triage.complaint_text import TextModel, fit_text_model
from emsync.triage.evaluation import triage_calibration, triage_metrics
from emsync.triage.features import FeatureSpace, Mode
from emsync.triage.ktas import KtasVisit, LabelledVisit

FORMAT_VERSION = 2
VARIANTS: tuple[str, ...] = ("softmax", "ordinal", "softmax+text", "ordinal+text")
# What `emsync triage train` ships: on the nested CV the procedure choosing among all four was
# more accurate but under-triaged more, past both modes' targets (the model card has the table).
DEFAULT_VARIANTS: tuple[str, ...] = ("softmax",)
TEXT_FEATURES = tuple(f"text_p{k}" for k in range(1, 6))
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


def _train_ordinal(
    x: FloatArray, labels: npt.NDArray[np.int64], names: list[str], seed: int
) -> tuple[xgb.Booster, ...]:
    """Four binary boosters, P(level index > k) for k = 0..3, with the same class weights."""
    params = {k: v for k, v in XGB_PARAMS.items() if k != "num_class"}
    params.update({"objective": "binary:logistic", "seed": seed})
    weights = class_weights(labels)
    return tuple(
        xgb.train(
            params,
            xgb.DMatrix(
                x, label=(labels > k).astype(np.float64), weight=weights, feature_names=names
            ),
            num_boost_round=NUM_ROUNDS,
        )
        for k in range(4)
    )


def ordinal_probabilities(boosters: Sequence[xgb.Booster], x: FloatArray) -> FloatArray:
    """Class probabilities from the cumulative ones, made monotone (P(>k) never rises with k)."""
    above = np.column_stack([np.asarray(b.inplace_predict(x), dtype=np.float64) for b in boosters])
    above = np.minimum.accumulate(above, axis=1)
    cumulative = np.column_stack([np.ones(len(x)), above, np.zeros(len(x))])
    p = np.clip(cumulative[:, :-1] - cumulative[:, 1:], 1e-6, 1.0)
    return p / p.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def _xy(
    rows: Sequence[LabelledVisit], space: FeatureSpace
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    x = space.encode_many([r.visit for r in rows], [r.nurse_level for r in rows]).astype(np.float64)
    y = np.array([r.expert_level - 1 for r in rows], dtype=np.int64)
    return x, y


@dataclass
class AcuityModel:
    boosters: tuple[xgb.Booster, ...]  # one softmax booster, or four ordinal ones
    space: FeatureSpace
    temperature: float
    under_triage_cost: float
    variant: str = "softmax"
    text: TextModel | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def mode(self) -> Mode:
        return self.space.mode

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unversioned"))

    @property
    def ordinal(self) -> bool:
        return self.variant.startswith("ordinal")

    @property
    def names(self) -> list[str]:
        return [*self.space.names, *(TEXT_FEATURES if self.text is not None else ())]

    def features(
        self, visits: Sequence[KtasVisit], nurse_levels: Sequence[int | None] | None
    ) -> FloatArray:
        x = self.space.encode_many(visits, nurse_levels).astype(np.float64)
        if self.text is None:
            return x
        return np.hstack([x, self.text.probabilities([v.chief_complaint for v in visits])])

    def probabilities(self, x: FloatArray) -> FloatArray:
        if self.ordinal:
            return ordinal_probabilities(self.boosters, x)
        return softmax(_margin(self.boosters[0], x), self.temperature)

    def predict_rows(
        self, rows: Sequence[LabelledVisit]
    ) -> tuple[FloatArray, npt.NDArray[np.int64]]:
        x = self.features([r.visit for r in rows], [r.nurse_level for r in rows])
        p = self.probabilities(x)
        return p, safety_decision(p, self.under_triage_cost)

    def predict(
        self, visit: KtasVisit, nurse_level: int | None = None, *, explain: int = 8
    ) -> AcuityPrediction:
        """One patient's level, probabilities and the features that pushed towards that level."""
        x = self.features([visit], [nurse_level])
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
        """SHAP contributions (log-odds) towards `level`, largest magnitude first, bias last.

        For the ordinal model: towards "level `level` or more urgent", i.e. against the booster
        of P(less urgent than `level`), sign turned (level 5: towards the least urgent side)."""
        dm = xgb.DMatrix(x, feature_names=self.names, nthread=1)
        if self.ordinal:
            k = min(level - 1, 3)
            raw = np.asarray(self.boosters[k].predict(dm, pred_contribs=True))[0]
            contribs = raw if level == 5 else -raw
        else:
            contribs = np.asarray(self.boosters[0].predict(dm, pred_contribs=True))[0, level - 1]
        names = [*self.names, "baseline"]
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
        """`name.ubj` (or `name-1.ubj` .. `name-4.ubj` for the ordinal boosters) + `name.json`."""
        directory.mkdir(parents=True, exist_ok=True)
        files = []
        for i, booster in enumerate(self.boosters):
            path = directory / (f"{name}.ubj" if len(self.boosters) == 1 else f"{name}-{i + 1}.ubj")
            raw = bytes(booster.save_raw(raw_format="ubj"))
            path.write_bytes(raw)
            files.append({"file": path.name, "sha256": hashlib.sha256(raw).hexdigest()})
        meta = {
            **self.metadata,
            "format_version": FORMAT_VERSION,
            "kind": "acuity",
            "variant": self.variant,
            "model_files": files,
            "features": self.space.to_json(),
            "text_model": None if self.text is None else self.text.to_json(),
            "temperature": self.temperature,
            "under_triage_cost": self.under_triage_cost,
            "xgboost_version": xgb.__version__,
        }
        meta_path = directory / f"{name}.json"
        meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return directory / files[0]["file"], meta_path

    @classmethod
    def load(cls, meta_path: Path) -> AcuityModel:
        meta = json.loads(meta_path.read_text())
        if meta.get("kind") != "acuity" or meta.get("format_version") not in {1, FORMAT_VERSION}:
            raise ValueError(f"{meta_path} is not an acuity model of format 1 or {FORMAT_VERSION}")
        if meta["format_version"] == 1:  # one softmax booster, before the variants
            meta["model_files"] = [{"file": meta["model_file"], "sha256": meta["model_sha256"]}]
            meta["variant"] = "softmax"
        boosters = []
        for item in meta["model_files"]:
            raw = (meta_path.parent / item["file"]).read_bytes()
            if hashlib.sha256(raw).hexdigest() != item["sha256"]:
                raise ValueError(f"{meta_path}: {item['file']} does not match its checksum")
            booster = xgb.Booster()
            booster.load_model(bytearray(raw))
            # One thread: single predictions are latency-bound and the API runs many in parallel.
            booster.set_param({"nthread": 1})
            boosters.append(booster)
        variant = str(meta["variant"])
        if variant not in VARIANTS or len(boosters) != (4 if variant.startswith("ordinal") else 1):
            raise ValueError(f"{meta_path}: unknown variant {variant!r} or wrong booster count")
        text = meta.get("text_model")
        return cls(
            boosters=tuple(boosters),
            space=FeatureSpace.from_json(meta["features"]),
            temperature=float(meta["temperature"]),
            under_triage_cost=float(meta["under_triage_cost"]),
            variant=variant,
            text=None if text is None else TextModel.from_json(text),
            metadata=meta,
        )


@dataclass(frozen=True, slots=True)
class Candidate:
    """One variant fitted on the training rows, with its inner cross-validated decisions."""

    model: AcuityModel
    inner_accuracy: float
    inner_under_triage: float

    def score(self, target: float) -> tuple[bool, float]:
        """Selection key: within the under-triage target first, then accuracy."""
        return (self.inner_under_triage <= target, self.inner_accuracy)


def _text_oof(
    texts: Sequence[str], y: npt.NDArray[np.int64], seed: int, folds: int
) -> tuple[FloatArray, TextModel]:
    """Out-of-fold text probabilities for the training rows, and the model fitted on them all."""
    oof = np.zeros((len(texts), 5))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed + 1)
    for train, test in splitter.split(np.zeros(len(y)), y):
        model = fit_text_model([texts[i] for i in train], y[train])
        oof[test] = model.probabilities([texts[i] for i in test])
    return oof, fit_text_model(texts, y)


def fit_candidates(
    rows: Sequence[LabelledVisit],
    *,
    mode: Mode,
    seed: int = 0,
    inner_folds: int = 5,
    variants: Sequence[str] = DEFAULT_VARIANTS,
    progress: Progress | None = None,
) -> list[Candidate]:
    """Every variant fitted on `rows` only: vocabulary, text model, temperature, decision cost."""
    space = FeatureSpace.fit((r.visit for r in rows), mode=mode)
    x_plain, y = _xy(rows, space)
    text_x: FloatArray | None = None
    text_model: TextModel | None = None
    if any(v.endswith("+text") for v in variants):
        text_x, text_model = _text_oof([r.visit.chief_complaint for r in rows], y, seed, 5)
    target = UNDER_TRIAGE_TARGET[mode]
    splits = list(
        StratifiedKFold(n_splits=inner_folds, shuffle=True, random_state=seed).split(x_plain, y)
    )
    candidates = []
    for variant in variants:
        with_text = variant.endswith("+text")
        x = np.hstack([x_plain, text_x]) if with_text and text_x is not None else x_plain
        names = [*space.names, *(TEXT_FEATURES if with_text else ())]
        ordinal = variant.startswith("ordinal")
        oof = np.zeros((len(rows), 5))
        for train, test in splits:
            # The inner models reuse the outer vocabulary: it only fixes which columns exist.
            if ordinal:
                oof[test] = ordinal_probabilities(
                    _train_ordinal(x[train], y[train], names, seed), x[test]
                )
            else:
                oof[test] = _margin(_train_booster(x[train], y[train], names, seed), x[test])
            if progress:
                progress()
        temperature = 1.0 if ordinal else fit_temperature(oof, y)
        probabilities = oof if ordinal else softmax(oof, temperature)
        cost = choose_under_triage_cost(probabilities, y + 1, target)
        decisions = safety_decision(probabilities, cost)
        boosters = (
            _train_ordinal(x, y, names, seed) if ordinal else (_train_booster(x, y, names, seed),)
        )
        if progress:
            progress()
        model = AcuityModel(
            boosters=boosters,
            space=space,
            temperature=temperature,
            under_triage_cost=cost,
            variant=variant,
            text=text_model if with_text else None,
            metadata={"mode": mode.value, "trained_rows": len(rows), "seed": seed},
        )
        candidates.append(
            Candidate(
                model=model,
                inner_accuracy=float(np.mean(decisions == y + 1)),
                inner_under_triage=float(np.mean(decisions > y + 1)),
            )
        )
    return candidates


def select(candidates: Sequence[Candidate], mode: Mode) -> AcuityModel:
    """The variant whose inner decisions meet the under-triage target most accurately."""
    target = UNDER_TRIAGE_TARGET[mode]
    best = max(candidates, key=lambda c: c.score(target))  # first of equals: the simpler
    best.model.metadata["selection"] = {
        c.model.variant: {
            "inner_accuracy": c.inner_accuracy,
            "inner_under_triage": c.inner_under_triage,
        }
        for c in candidates
    }
    return best.model


def fit_acuity(
    rows: Sequence[LabelledVisit],
    *,
    mode: Mode,
    seed: int = 0,
    inner_folds: int = 5,
    variants: Sequence[str] = DEFAULT_VARIANTS,
    progress: Progress | None = None,
) -> AcuityModel:
    """Fit on `rows` only, every variant, and keep the one the inner cross-validation prefers."""
    candidates = fit_candidates(
        rows, mode=mode, seed=seed, inner_folds=inner_folds, variants=variants, progress=progress
    )
    return select(candidates, mode)


@dataclass(frozen=True, slots=True)
class CrossValidation:
    truth: npt.NDArray[np.int64]
    probabilities: FloatArray
    safety_levels: npt.NDArray[np.int64]
    fold_costs: tuple[float, ...]
    fold_variants: tuple[str, ...] = ()
    # Each variant on its own, on the same outer folds: (probabilities, safety levels).
    by_variant: dict[str, tuple[FloatArray, npt.NDArray[np.int64]]] = field(default_factory=dict)


def cross_validate_acuity(
    rows: Sequence[LabelledVisit],
    *,
    mode: Mode,
    folds: int = 5,
    seed: int = 0,
    variants: Sequence[str] = DEFAULT_VARIANTS,
    progress: Progress | None = None,
) -> CrossValidation:
    """Out-of-fold predictions of `fit_acuity` (which nests its calibration, decision cost and
    choice of variant), and of every variant alone on the same folds."""
    y = np.array([r.expert_level for r in rows], dtype=np.int64)
    probabilities = np.zeros((len(rows), 5))
    levels = np.zeros(len(rows), dtype=np.int64)
    by_variant = {
        v: (np.zeros((len(rows), 5)), np.zeros(len(rows), dtype=np.int64)) for v in variants
    }
    costs = []
    chosen = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(len(y)), y):
        candidates = fit_candidates(
            [rows[i] for i in train], mode=mode, seed=seed, variants=variants, progress=progress
        )
        test_rows = [rows[i] for i in test]
        for candidate in candidates:
            p, lv = candidate.model.predict_rows(test_rows)
            by_variant[candidate.model.variant][0][test] = p
            by_variant[candidate.model.variant][1][test] = lv
        model = select(candidates, mode)
        probabilities[test] = by_variant[model.variant][0][test]
        levels[test] = by_variant[model.variant][1][test]
        costs.append(model.under_triage_cost)
        chosen.append(model.variant)
    return CrossValidation(
        truth=y,
        probabilities=probabilities,
        safety_levels=levels,
        fold_costs=tuple(costs),
        fold_variants=tuple(chosen),
        by_variant=by_variant,
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
