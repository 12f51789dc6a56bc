"""Learning curve of the acuity model: does more data move it towards the targets?

Each outer test fold is fixed; the model is trained on growing stratified shares of that fold's
training rows (inner calibration and decision cost fitted on the share only), so every point is
measured on patients the model never saw. A power law, accuracy = a - b * n^-c, fitted to the
points says how many visits the target would need if the trend held, which it may not: the
expert label's own noise sets a ceiling no amount of data lifts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import curve_fit
from sklearn.model_selection import StratifiedKFold, train_test_split

from emsync.triage.acuity import fit_acuity
from emsync.triage.evaluation import triage_metrics
from emsync.triage.features import Mode
from emsync.triage.ktas import LabelledVisit

FRACTIONS = (0.2, 0.4, 0.6, 0.8, 1.0)
TARGETS = {Mode.FIELD: 0.75, Mode.REVIEW: 0.90}


def _power(n: np.ndarray[Any, Any], a: float, b: float, c: float) -> np.ndarray[Any, Any]:
    return a - b * np.power(n, -c)  # type: ignore[no-any-return]


def learning_curve(
    rows: Sequence[LabelledVisit],
    *,
    mode: Mode,
    folds: int = 5,
    seed: int = 0,
    variant: str = "softmax",
    progress: Callable[[], None] | None = None,
) -> dict[str, Any]:
    y = np.array([r.expert_level for r in rows], dtype=np.int64)
    predictions = {f: np.zeros(len(rows), dtype=np.int64) for f in FRACTIONS}
    likely = {f: np.zeros(len(rows), dtype=np.int64) for f in FRACTIONS}
    sizes: dict[float, list[int]] = {f: [] for f in FRACTIONS}
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(len(y)), y):
        for fraction in FRACTIONS:
            if fraction < 1.0:
                share, _ = train_test_split(
                    train, train_size=fraction, stratify=y[train], random_state=seed
                )
            else:
                share = train
            model = fit_acuity(
                [rows[i] for i in share],
                mode=mode,
                seed=seed,
                variants=(variant,),
                progress=progress,
            )
            p, levels = model.predict_rows([rows[i] for i in test])
            predictions[fraction][test] = levels
            likely[fraction][test] = p.argmax(axis=1) + 1
            sizes[fraction].append(len(share))
    points = []
    for fraction in FRACTIONS:
        m = triage_metrics(y, predictions[fraction])
        points.append(
            {
                "fraction": fraction,
                "training_rows": int(np.mean(sizes[fraction])),
                "accuracy": m["accuracy"],
                "under_triage_rate": m["under_triage_rate"],
                "accuracy_most_likely": triage_metrics(y, likely[fraction])["accuracy"],
                "als_sensitivity": m["als_sensitivity"],
            }
        )
    return {
        "mode": mode.value,
        "variant": variant,
        "folds": folds,
        "points": points,
        "extrapolation": extrapolate(points, TARGETS[mode]),
    }


def extrapolate(points: Sequence[dict[str, Any]], target: float) -> dict[str, Any]:
    """Fit the power law to the most-likely-level accuracy; visits needed for `target`."""
    n = np.asarray([p["training_rows"] for p in points], dtype=np.float64)
    acc = np.asarray([p["accuracy_most_likely"] for p in points], dtype=np.float64)
    try:
        (a, b, c), _ = curve_fit(
            _power,
            n,
            acc,
            p0=(acc[-1] + 0.05, 1.0, 0.5),
            bounds=([0, 0, 0.01], [1, 50, 3]),
            maxfev=20000,
        )
    except (RuntimeError, ValueError):
        return {"fitted": False, "verdict": "the curve could not be fitted"}
    needed: float | None = None
    if a > target:
        needed = float((b / (a - target)) ** (1.0 / c))
    verdict = (
        f"power-law plateau {a:.3f} is below the target {target:.2f}: more visits like these "
        "would not reach it"
        if needed is None
        else f"the trend would reach {target:.2f} at about {needed:,.0f} training visits"
    )
    return {
        "fitted": True,
        "plateau": float(a),
        "b": float(b),
        "c": float(c),
        "target": target,
        "training_visits_needed": None if needed is None or math.isinf(needed) else needed,
        "verdict": verdict,
    }


def plot_learning_curve(curve: dict[str, Any], out: Path) -> None:
    from emsync.triage.evaluation import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    points = curve["points"]
    n = [p["training_rows"] for p in points]
    ax.plot(n, [p["accuracy_most_likely"] for p in points], marker="o", label="most likely level")
    ax.plot(n, [p["accuracy"] for p in points], marker="s", label="safety rule (shipped)")
    ex = curve["extrapolation"]
    if ex.get("fitted"):
        grid = np.linspace(min(n), max(n) * 4, 100)
        ax.plot(grid, _power(grid, ex["plateau"], ex["b"], ex["c"]), linestyle=":", label="fit")
        ax.axhline(ex["target"], color="red", linestyle="--", label=f"target {ex['target']:.2f}")
    ax.set_xlabel("training visits")
    ax.set_ylabel("accuracy on unseen visits")
    ax.set_title(f"acuity learning curve, {curve['mode']} mode ({curve['variant']})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
