"""Paediatric triage: ESI v4's decision points for children, in order, with their reasons."""

from __future__ import annotations

import pytest

from emsync.triage.paediatric import (
    STANDARD,
    ChildObservations,
    danger_zone,
    hypotension_limit,
    triage_child,
)
from emsync.triage.pews import bedside_pews


def child(**changes: object) -> ChildObservations:
    base: dict[str, object] = {
        "age_years": 6.0,
        "hr": 95,
        "rr": 22,
        "spo2": 98,
        "sbp": 100,
        "temp": 37.0,
        "expected_resources": 1,
    }
    base.update(changes)
    return ChildObservations(**base)  # type: ignore[arg-type]


def test_a_well_child_with_one_resource_is_level_4() -> None:
    result = triage_child(child())
    assert (result.level, result.standard) == (4, STANDARD)
    assert result.reasons == ("one resource expected",)


def test_resources_decide_levels_3_to_5_and_unknown_is_the_safe_side() -> None:
    assert triage_child(child(expected_resources=0)).level == 5
    assert triage_child(child(expected_resources=2)).level == 3
    unknown = triage_child(child(expected_resources=None))
    assert unknown.level == 3
    assert "assumed" in unknown.reasons[0]


@pytest.mark.parametrize(
    "changes",
    [
        {"consciousness": "U"},
        {"consciousness": "P"},
        {"respiratory_effort": "severe"},
        {"spo2": 88, "respiratory_effort": "moderate"},
        {"sbp": 70, "capillary_refill_seconds": 4},  # 6 years: limit 70 + 2 x 6 = 82
        {"hr": 50, "capillary_refill_seconds": 3},
    ],
)
def test_life_saving_intervention_criteria_are_level_1(changes: dict[str, object]) -> None:
    assert triage_child(child(**changes)).level == 1


def test_low_pressure_with_good_perfusion_is_not_level_1() -> None:
    assert triage_child(child(sbp=70, capillary_refill_seconds=2)).level > 1


@pytest.mark.parametrize(
    "changes",
    [
        {"consciousness": "V"},
        {"consciousness": "C"},
        {"pain": 7},
        {"high_risk": True},
        {"age_years": 20 / 365.25, "temp": 38.1, "hr": 140, "rr": 40},
        {"age_years": 0.15, "temp": 38.5, "hr": 140, "rr": 40},
    ],
)
def test_high_risk_criteria_are_level_2(changes: dict[str, object]) -> None:
    assert triage_child(child(**changes)).level == 2


def test_danger_zone_vitals_upgrade_only_a_level_3_child() -> None:
    # 6 years: danger zone above HR 140, RR 30; SpO2 below 92.
    assert triage_child(child(expected_resources=2, hr=141)).level == 2
    assert triage_child(child(expected_resources=2, hr=140)).level == 3
    assert triage_child(child(expected_resources=2, rr=31)).level == 2
    assert triage_child(child(expected_resources=2, spo2=91)).level == 2
    # ESI applies decision point D to level-3 candidates only.
    assert triage_child(child(expected_resources=1, hr=141)).level == 4


def test_danger_zone_boundaries_by_age() -> None:
    assert danger_zone(0.1) == (180, 50)
    assert danger_zone(0.25) == (160, 40)
    assert danger_zone(2.9) == (160, 40)
    assert danger_zone(3) == (140, 30)
    assert danger_zone(8) == (140, 30)
    assert danger_zone(9) == (100, 20)


def test_hypotension_for_age_follows_pals() -> None:
    assert hypotension_limit(10 / 365.25) == 60
    assert hypotension_limit(0.5) == 70
    assert hypotension_limit(1) == 72
    assert hypotension_limit(10) == 90
    assert hypotension_limit(12) == 90


def test_toddler_fever_above_39_is_at_least_level_3() -> None:
    result = triage_child(child(age_years=2, hr=110, rr=30, temp=39.5, expected_resources=0))
    assert result.level == 3
    assert any("39.0" in r for r in result.reasons)


def test_a_pews_of_8_or_more_is_level_2_and_says_whose_rule() -> None:
    pews = bedside_pews(age_years=6, hr=135, rr=42, spo2=90, oxygen="low_flow")
    assert pews.total >= 8
    result = triage_child(child(expected_resources=0), pews)
    assert result.level == 2
    assert any("EMsync's rule" in r for r in result.reasons)


def test_adults_are_refused() -> None:
    with pytest.raises(ValueError, match="paediatric"):
        triage_child(child(age_years=16))
