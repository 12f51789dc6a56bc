"""Metrics and plots for the acuity (KTAS 1-5) and deterioration (in-hospital death) models."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    cohen_kappa_score,
    f1_score,
    roc_auc_score,
)

LEVELS = (1, 2, 3, 4, 5)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def triage_metrics(
    truth: Sequence[int] | IntArray, predicted: Sequence[int] | IntArray
) -> dict[str, Any]:
    """Agreement with the expert level; under-triage = a less urgent (higher) KTAS number."""
    t = np.asarray(truth, dtype=np.int64)
    p = np.asarray(predicted, dtype=np.int64)
    confusion = np.zeros((5, 5), dtype=np.int64)
    np.add.at(confusion, (t - 1, p - 1), 1)
    n = len(t)
    return {
        "n": n,
        "accuracy": float(np.mean(t == p)),
        "macro_f1": float(f1_score(t, p, labels=list(LEVELS), average="macro", zero_division=0)),
        "quadratic_weighted_kappa": float(
            cohen_kappa_score(t, p, labels=list(LEVELS), weights="quadratic")
        ),
        "under_triage_rate": float(np.mean(p > t)),
        "over_triage_rate": float(np.mean(p < t)),
        "within_one_level": float(np.mean(np.abs(p - t) <= 1)),
        # Per expert level: exactly that level, and at least as urgent (not under-triaged).
        "recall_by_level": {
            str(k): float(np.mean(p[t == k] == k)) if (t == k).any() else None for k in LEVELS
        },
        "sensitivity_by_level": {
            str(k): float(np.mean(p[t == k] <= k)) if (t == k).any() else None for k in LEVELS
        },
        # The levels that need an ALS crew (KTAS 1-2): found as 1-2, out of those who were.
        "als_sensitivity": float(np.mean(p[t <= 2] <= 2)) if (t <= 2).any() else None,
        "als_precision": float(np.mean(t[p <= 2] <= 2)) if (p <= 2).any() else None,
        # Rows are the expert's level, columns the prediction, both KTAS 1..5.
        "confusion_matrix": confusion.tolist(),
    }


def reliability(
    confidence: FloatArray, correct: npt.NDArray[np.bool_], bins: int = 10
) -> dict[str, Any]:
    """Reliability table and expected calibration error for predicted probabilities."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    table = []
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if not mask.any():
            continue
        mean_conf = float(confidence[mask].mean())
        observed = float(correct[mask].mean())
        ece += mask.mean() * abs(mean_conf - observed)
        table.append({"bin": b, "n": int(mask.sum()), "predicted": mean_conf, "observed": observed})
    return {"expected_calibration_error": float(ece), "bins": table}


def triage_calibration(truth: IntArray, probabilities: FloatArray) -> dict[str, Any]:
    """Top-label reliability plus the multi-class Brier score and log loss."""
    t = np.asarray(truth, dtype=np.int64)
    top = probabilities.argmax(axis=1)
    onehot = np.eye(5)[t - 1]
    result = reliability(probabilities.max(axis=1), (top + 1) == t)
    result["brier"] = float(np.mean(np.sum((probabilities - onehot) ** 2, axis=1)))
    picked = np.clip(probabilities[np.arange(len(t)), t - 1], 1e-12, 1.0)
    result["log_loss"] = float(-np.mean(np.log(picked)))
    return result


def risk_metrics(outcome: IntArray, score: FloatArray) -> dict[str, Any]:
    """Discrimination of a risk score (any monotone score, not only a probability)."""
    y = np.asarray(outcome, dtype=np.int64)
    s = np.asarray(score, dtype=np.float64)
    return {
        "n": len(y),
        "events": int(y.sum()),
        "auroc": float(roc_auc_score(y, s)),
        "auprc": float(average_precision_score(y, s)),
    }


def risk_calibration(outcome: IntArray, probability: FloatArray) -> dict[str, Any]:
    result = reliability(probability, outcome.astype(bool))
    result["brier"] = float(brier_score_loss(outcome, probability))
    return result


def _pyplot() -> Any:
    import matplotlib

    # Headless servers and CI have no display: always render off-screen.
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_triage(report: dict[str, Any], out: Path, *, title: str) -> None:
    """Confusion matrix and reliability diagram side by side."""
    plt = _pyplot()
    fig, (ax_cm, ax_cal) = plt.subplots(1, 2, figsize=(11, 4.8))
    cm = np.asarray(report["metrics"]["confusion_matrix"])
    ax_cm.imshow(cm, cmap="Blues")
    for i in range(5):
        for j in range(5):
            colour = "white" if cm[i, j] > cm.max() / 2 else "black"
            ax_cm.text(j, i, str(cm[i, j]), ha="center", va="center", color=colour)
    ax_cm.set_xticks(range(5), [str(v) for v in LEVELS])
    ax_cm.set_yticks(range(5), [str(v) for v in LEVELS])
    ax_cm.set_xlabel("predicted KTAS (right of diagonal = under-triage)")
    ax_cm.set_ylabel("expert KTAS")
    m = report["metrics"]
    ax_cm.set_title(
        f"acc {m['accuracy']:.3f}  under {m['under_triage_rate']:.3f}  "
        f"over {m['over_triage_rate']:.3f}"
    )
    _reliability_axes(ax_cal, report["calibration"], "top-label confidence")
    fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_risk(
    curves: dict[str, tuple[IntArray, FloatArray]],
    calibration: dict[str, Any],
    out: Path,
    *,
    title: str,
) -> None:
    """ROC curves of each compared score, and the model's reliability diagram."""
    from sklearn.metrics import roc_curve

    plt = _pyplot()
    fig, (ax_roc, ax_cal) = plt.subplots(1, 2, figsize=(11, 4.8))
    for name, (y, s) in curves.items():
        fpr, tpr, _ = roc_curve(y, s)
        ax_roc.plot(fpr, tpr, label=f"{name} (AUROC {roc_auc_score(y, s):.3f})")
    ax_roc.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax_roc.set_xlabel("1 - specificity")
    ax_roc.set_ylabel("sensitivity")
    ax_roc.legend(loc="lower right", fontsize=8)
    ax_roc.set_title("in-hospital death")
    _reliability_axes(ax_cal, calibration, "predicted risk")
    fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _reliability_axes(ax: Any, calibration: dict[str, Any], xlabel: str) -> None:
    bins = calibration["bins"]
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.plot(
        [b["predicted"] for b in bins],
        [b["observed"] for b in bins],
        marker="o",
    )
    for b in bins:
        ax.annotate(
            str(b["n"]),
            (b["predicted"], b["observed"]),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("observed frequency")
    ax.set_title(f"calibration (ECE {calibration['expected_calibration_error']:.3f})")
