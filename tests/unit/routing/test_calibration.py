from __future__ import annotations

import numpy as np
import pytest

from emsync.core.errors import ValidationFailed
from emsync.routing.calibration import Trip, calibrated_eta, eta_error, fit_calibrations
from emsync.routing.map_store import RoadMap
from emsync.routing.profile import RoadClass
from emsync.routing.snapping import LatLon

TRUE_FACTORS = {
    RoadClass.PRIMARY: 0.7,  # congested arterials
    RoadClass.SECONDARY: 0.8,
    RoadClass.TERTIARY: 1.25,
    RoadClass.LOCAL: 1.3,  # ambulances beat the residential default
    RoadClass.SERVICE: 0.9,
}


def simulated_trips(count: int, seed: int, region: str) -> list[Trip]:
    rng = np.random.default_rng(seed)
    trips = []
    classes = list(TRUE_FACTORS)
    for _ in range(count):
        seconds = {
            c: float(s) for c, s in zip(classes, rng.exponential(120, len(classes)), strict=True)
        }
        predicted = sum(seconds.values())
        true = sum(s / TRUE_FACTORS[c] for c, s in seconds.items())
        actual = true * rng.lognormal(0, 0.05)
        if rng.random() < 0.05:
            actual += rng.uniform(120, 600)  # stuck behind an accident
        trips.append(Trip(region, predicted, actual, seconds))
    return trips


def test_fit_recovers_true_speeds_and_cuts_held_out_error() -> None:
    train = simulated_trips(300, seed=1, region="north")
    test = simulated_trips(200, seed=2, region="north")
    calibration = fit_calibrations(train)["north"]
    for road_class, factor in TRUE_FACTORS.items():
        assert calibration.speed_factors[road_class] == pytest.approx(factor, rel=0.1)
    assert calibration.speed_factors[RoadClass.MOTORWAY] == 1.0  # no evidence, no change
    actual = [t.actual_s for t in test]
    before = eta_error([t.predicted_s for t in test], actual)
    after = eta_error([calibrated_eta(t, calibration.speed_factors) for t in test], actual)
    assert after.median_abs_error_s < before.median_abs_error_s / 2
    assert after.share_within_2_min > before.share_within_2_min
    assert calibration.after.median_abs_error_s < calibration.before.median_abs_error_s


def test_regions_are_fitted_separately() -> None:
    north = simulated_trips(150, seed=3, region="north")
    south = [
        Trip("south", t.predicted_s, t.predicted_s, t.class_seconds)
        for t in simulated_trips(150, seed=4, region="south")
    ]
    fitted = fit_calibrations(north + south)
    assert fitted["south"].speed_factors[RoadClass.LOCAL] == pytest.approx(1.0, abs=0.02)
    assert fitted["north"].speed_factors[RoadClass.LOCAL] == pytest.approx(1.3, rel=0.1)
    assert fitted["south"].trips == 150


def test_eta_error_counts_within_two_minutes() -> None:
    error = eta_error([100, 200, 300, 400], [100, 330, 300, 500])
    assert error.median_abs_error_s == 50
    assert error.share_within_2_min == 0.75


def test_impossible_trips_are_rejected() -> None:
    with pytest.raises(ValidationFailed):
        Trip("x", -1.0, 10.0, {})
    with pytest.raises(ValidationFailed):
        Trip("x", 10.0, float("nan"), {})


def test_calibrating_the_engine_on_simulated_trips_improves_its_etas(monaco: RoadMap) -> None:
    engine = monaco.engine
    rng = np.random.default_rng(8)
    g = engine.graph
    nodes = rng.integers(0, g.node_count, (120, 2))
    pairs = [
        (
            LatLon(float(g.node_lat[a]), float(g.node_lon[a])),
            LatLon(float(g.node_lat[b]), float(g.node_lon[b])),
        )
        for a, b in nodes
    ]
    predicted = [engine.route(o, d) for o, d in pairs]
    engine.set_speed_factors(TRUE_FACTORS)  # the world as it really is
    try:
        actual = [engine.route(o, d).eta_s * rng.lognormal(0, 0.03) for o, d in pairs]
    finally:
        engine.set_speed_factors({})
    trips = [
        Trip("monaco", r.eta_s, a, r.class_seconds)
        for r, a in zip(predicted, actual, strict=True)
        if r.eta_s > 0
    ]
    calibration = fit_calibrations(trips[:80])["monaco"]
    engine.set_speed_factors(calibration.speed_factors)
    try:
        calibrated = [engine.route(o, d).eta_s for o, d in pairs[80:]]
    finally:
        engine.set_speed_factors({})
    before = eta_error([r.eta_s for r in predicted[80:]], actual[80:])
    after = eta_error(calibrated, actual[80:])
    assert after.median_abs_error_s < before.median_abs_error_s
