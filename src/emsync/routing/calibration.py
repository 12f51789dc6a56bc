"""ETA calibration: per-region, per-road-class speed factors fitted to completed trips (pure).

A predicted ETA is the sum of the time spent on each road class. If class c is really driven
`f_c` times as fast as the profile assumes, the actual time is `sum_c t_c / f_c`, which is
linear in `x_c = 1 / f_c`. The fit is bounded least squares on x (speed factors between 1/3 and
3), made robust to the odd trip stuck behind a closure by Huber re-weighting, and held near
1.0 for classes with little evidence by a prior worth `prior_trips` typical trips.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from emsync.core.errors import ValidationFailed
from emsync.routing.profile import RoadClass

__all__ = [
    "Calibration",
    "EtaError",
    "Trip",
    "calibrated_eta",
    "eta_error",
    "fit_calibrations",
    "fit_speed_factors",
]

WITHIN_S = 120.0


@dataclass(frozen=True, slots=True)
class Trip:
    """A completed trip: ETA predicted at dispatch, time it took, and where the time went."""

    region: str
    predicted_s: float
    actual_s: float
    class_seconds: Mapping[RoadClass, float]  # predicted seconds per road class

    def __post_init__(self) -> None:
        values = [self.predicted_s, self.actual_s, *self.class_seconds.values()]
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise ValidationFailed("trip times must be finite and non-negative")
        if self.predicted_s <= 0 or self.actual_s <= 0:
            raise ValidationFailed("trip times must be positive")


@dataclass(frozen=True, slots=True)
class EtaError:
    """How far ETAs were from what happened."""

    trips: int
    median_abs_error_s: float
    share_within_2_min: float


@dataclass(frozen=True, slots=True)
class Calibration:
    """Fitted speed factors for one region, with the error before and after on its trips."""

    region: str
    speed_factors: Mapping[RoadClass, float]
    trips: int
    before: EtaError
    after: EtaError


def eta_error(predicted: Sequence[float], actual: Sequence[float]) -> EtaError:
    """Median absolute error and share of ETAs within 2 minutes."""
    if len(predicted) != len(actual):
        raise ValidationFailed("predicted and actual must have the same length")
    if not predicted:
        return EtaError(0, 0.0, 0.0)
    err = np.abs(np.asarray(predicted, float) - np.asarray(actual, float))
    return EtaError(len(err), float(np.median(err)), float(np.mean(err <= WITHIN_S)))


def _shares(trip: Trip) -> np.ndarray:
    row = np.zeros(len(RoadClass))
    for road_class, seconds in trip.class_seconds.items():
        row[int(road_class)] += seconds
    total = row.sum()
    # Scale so the classes add up to the predicted ETA (rounding at the route's ends).
    return row * (trip.predicted_s / total) if total > 0 else row


def calibrated_eta(trip: Trip, speed_factors: Mapping[RoadClass, float]) -> float:
    """The trip's ETA had the road classes been driven at the fitted speeds."""
    row = _shares(trip)
    factors = np.array([speed_factors.get(c, 1.0) for c in RoadClass])
    return float((row / factors).sum())


def fit_speed_factors(
    trips: Sequence[Trip],
    *,
    prior_trips: float = 2.0,
    huber_s: float = 60.0,
    bounds: tuple[float, float] = (1 / 3, 3.0),
    iterations: int = 8,
) -> dict[RoadClass, float]:
    """Speed factors per road class that best explain the trips' actual times."""
    if not trips:
        return dict.fromkeys(RoadClass, 1.0)
    a = np.array([_shares(t) for t in trips])
    y = np.array([t.actual_s for t in trips])
    k = len(RoadClass)
    # Prior: `prior_trips` pseudo-trips per class of typical length, saying "factor 1".
    typical = np.where(a.sum(axis=0) > 0, a.sum(axis=0) / np.maximum((a > 0).sum(axis=0), 1), 1.0)
    prior_rows = np.diag(math.sqrt(prior_trips) * typical)
    prior_y = math.sqrt(prior_trips) * typical
    low, high = 1.0 / bounds[1], 1.0 / bounds[0]
    # scipy.optimize (~0.4 s of CPU) here, where a fit needs it, not in every process that
    # imports routing.
    from scipy.optimize import lsq_linear

    weights = np.ones(len(trips))
    x = np.ones(k)
    for _ in range(iterations):
        sw = np.sqrt(weights)[:, None]
        design = np.vstack([a * sw, prior_rows])
        target = np.concatenate([y * sw[:, 0], prior_y])
        x = lsq_linear(design, target, bounds=(low, high), method="bvls").x
        residual = np.abs(a @ x - y)
        weights = np.where(residual <= huber_s, 1.0, huber_s / np.maximum(residual, 1e-9))
    used = a.sum(axis=0) > 0
    return {c: (float(1.0 / x[int(c)]) if used[int(c)] else 1.0) for c in RoadClass}


def fit_calibrations(
    trips: Sequence[Trip], *, prior_trips: float = 2.0, huber_s: float = 60.0
) -> dict[str, Calibration]:
    """One calibration per region, with its in-sample ETA error before and after."""
    by_region: dict[str, list[Trip]] = defaultdict(list)
    for trip in trips:
        by_region[trip.region].append(trip)
    out: dict[str, Calibration] = {}
    for region, group in sorted(by_region.items()):
        factors = fit_speed_factors(group, prior_trips=prior_trips, huber_s=huber_s)
        actual = [t.actual_s for t in group]
        out[region] = Calibration(
            region=region,
            speed_factors=factors,
            trips=len(group),
            before=eta_error([t.predicted_s for t in group], actual),
            after=eta_error([calibrated_eta(t, factors) for t in group], actual),
        )
    return out
