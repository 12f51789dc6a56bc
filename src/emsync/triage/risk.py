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
# Feature set 2 adds, per channel, what a monitor or a crew also knows: the recent slope, the
# beat-to-beat-like variability (mean absolute successive difference), how long ago it was last
# measured, the longest gap, and how densely it is measured (a channel charted often is a
# channel someone is worried about).
_EXTENDED: tuple[str, ...] = ("slope_6h", "masd", "hours_since", "max_gap_h", "per_hour")
_RECENT_HOURS = 6.0
FEATURE_SETS = (1, 2)


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


def feature_names(feature_set: int = 2) -> list[str]:
    stats = _STATS if feature_set == 1 else (*_STATS, *_EXTENDED)
    names = [
        *(f"{v}_{s}" for v in VITALS for s in stats),
        "on_oxygen_fraction",
        "hours_observed",
        "news2_max",
        "news2_mean",
        "news2_last",
    ]
    if feature_set == 2:
        names += ["channels_measured", "news2_slope_6h", "news2_max_6h"]
    return names


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


def _extended(t: npt.NDArray[np.float64], v: npt.NDArray[np.float64], now: float) -> list[float]:
    if v.size == 0:
        return [math.nan, math.nan, math.nan, math.nan, 0.0]
    recent = t >= now - _RECENT_HOURS * 60
    slope = math.nan
    if recent.sum() >= 2 and np.ptp(t[recent]) > 0:
        slope = float(np.polyfit(t[recent] / 60.0, v[recent], 1)[0])  # per hour
    span_h = max((now - t[0]) / 60.0, 1.0)
    gaps = np.diff(t) / 60.0 if v.size > 1 else np.zeros(0)
    return [
        slope,
        float(np.mean(np.abs(np.diff(v)))) if v.size > 1 else math.nan,
        (now - t[-1]) / 60.0,
        float(gaps.max()) if gaps.size else math.nan,
        v.size / span_h,
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


def risk_features(
    readings: Sequence[VitalsReading], feature_set: int = 2
) -> npt.NDArray[np.float64]:
    """The model's feature vector for one patient's series so far (readings in time order)."""
    if not readings:
        raise ValueError("a risk score needs at least one reading")
    now = readings[-1].minutes
    values: list[float] = []
    measured = 0
    for name in VITALS:
        t, v = _channel(readings, name)
        values.extend(_stats(t, v, now))
        if feature_set == 2:
            values.extend(_extended(t, v, now))
        measured += v.size > 0
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
    if feature_set == 2:
        minutes = np.asarray([r.minutes for r in readings], dtype=np.float64)
        scores = np.asarray(news, dtype=np.float64)
        recent = minutes >= now - _RECENT_HOURS * 60
        slope = math.nan
        if recent.sum() >= 2 and np.ptp(minutes[recent]) > 0:
            slope = float(np.polyfit(minutes[recent] / 60.0, scores[recent], 1)[0])
        values.extend([float(measured), slope, float(scores[recent].max())])
    return np.asarray(values, dtype=np.float64)
