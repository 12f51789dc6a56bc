"""Per-patient deterioration features and score from a vital-sign series, as readings stream in.

Pure (standard library and numpy): the telemetry pipeline keeps a patient's recent `VitalsReading`s
and calls `risk_features` (or `DeteriorationModel.score` on top of it) after each one. The same
function builds the training rows, so what the model saw in training is what it sees in service.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from emsync.triage.news2 import (
    pulse_score,
    respiration_rate_score,
    spo2_scale1_score,
    systolic_bp_score,
    temperature_score,
)

# The channels a bedside or ambulance monitor provides; no laboratory values.
VITALS: tuple[str, ...] = ("hr", "rr", "spo2", "sbp", "dbp", "map", "temp", "gcs")
_STATS: tuple[str, ...] = ("last", "min", "max", "mean", "std", "count", "trend")
_RECENT_HOURS = 6.0


@dataclass(frozen=True, slots=True)
class VitalsReading:
    """One time point; any channel may be absent. `minutes` counts from the start of the stay."""

    minutes: float
    hr: float | None = None
    rr: float | None = None
    spo2: float | None = None
    sbp: float | None = None
    dbp: float | None = None
    map: float | None = None
    temp: float | None = None
    gcs: float | None = None
    on_oxygen: bool | None = None


def feature_names() -> list[str]:
    return [
        *(f"{v}_{s}" for v in VITALS for s in _STATS),
        "on_oxygen_fraction",
        "hours_observed",
        "news2_max",
        "news2_mean",
        "news2_last",
    ]


def _channel(
    readings: Sequence[VitalsReading], name: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    pairs = [(r.minutes, v) for r in readings if (v := getattr(r, name)) is not None]
    if not pairs:
        empty = np.empty(0)
        return empty, empty
    arr = np.asarray(pairs, dtype=np.float64)
    return arr[:, 0], arr[:, 1]


def _stats(t: npt.NDArray[np.float64], v: npt.NDArray[np.float64], now: float) -> list[float]:
    if v.size == 0:
        return [math.nan] * (len(_STATS) - 2) + [0.0, math.nan]
    recent = v[t >= now - _RECENT_HOURS * 60]
    earlier = v[t < now - _RECENT_HOURS * 60]
    # Trend: last hours against everything before them; NaN until both exist.
    trend = float(recent.mean() - earlier.mean()) if recent.size and earlier.size else math.nan
    return [
        float(v[-1]),
        float(v.min()),
        float(v.max()),
        float(v.mean()),
        float(v.std()) if v.size > 1 else math.nan,
        float(v.size),
        trend,
    ]


def news2_series(readings: Sequence[VitalsReading]) -> list[int]:
    """NEWS2 after each reading, carrying each channel's last value forward.

    A channel never yet observed scores 0 (as a partial chart would), and consciousness comes from
    GCS (< 15 scores as new confusion or worse, the usual mapping for monitored patients).
    """
    last: dict[str, float] = {}
    on_oxygen = False
    scores: list[int] = []
    for r in readings:
        for name in ("rr", "spo2", "sbp", "hr", "temp", "gcs"):
            value = getattr(r, name)
            if value is not None:
                last[name] = value
        if r.on_oxygen is not None:
            on_oxygen = r.on_oxygen
        total = 2 if on_oxygen else 0
        if "rr" in last:
            total += respiration_rate_score(last["rr"])
        if "spo2" in last:
            total += spo2_scale1_score(last["spo2"])
        if "sbp" in last:
            total += systolic_bp_score(last["sbp"])
        if "hr" in last:
            total += pulse_score(last["hr"])
        if "temp" in last:
            total += temperature_score(last["temp"])
        if "gcs" in last and last["gcs"] < 15:
            total += 3
        scores.append(total)
    return scores


def risk_features(readings: Sequence[VitalsReading]) -> npt.NDArray[np.float64]:
    """The model's feature vector for one patient's series so far (readings in time order)."""
    if not readings:
        raise ValueError("a risk score needs at least one reading")
    now = readings[-1].minutes
    values: list[float] = []
    for name in VITALS:
        t, v = _channel(readings, name)
        values.extend(_stats(t, v, now))
    oxygen = [r.on_oxygen for r in readings if r.on_oxygen is not None]
    news = news2_series(readings)
    values.extend(
        [
            float(np.mean(oxygen)) if oxygen else 0.0,
            (now - readings[0].minutes) / 60.0,
            float(max(news)),
            float(np.mean(news)),
            float(news[-1]),
        ]
    )
    return np.asarray(values, dtype=np.float64)
