"""Bedside PEWS against Table 1 of Parshuram et al., Crit Care 2009;13:R135, edge by edge."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emsync.triage.pews import (
    MAX_TOTAL,
    AgeGroup,
    PewsBand,
    age_group,
    bedside_pews,
    capillary_refill_score,
    heart_rate_score,
    oxygen_therapy_score,
    reference_ranges,
    respiratory_effort_score,
    respiratory_rate_score,
    spo2_score,
    systolic_bp_score,
)

G = AgeGroup

# (age group, value, sub-score): both edges of each published cell. Table 1 reads, for heart rate
# 0-3 months: 0 ">110 and <150", 1 ">=150 or <=110", 2 ">=180 or <=90", 4 ">=190 or <=80".
HEART_RATE = [
    (G.UNDER_3_MONTHS, 111, 0), (G.UNDER_3_MONTHS, 149, 0), (G.UNDER_3_MONTHS, 150, 1),
    (G.UNDER_3_MONTHS, 110, 1), (G.UNDER_3_MONTHS, 179, 1), (G.UNDER_3_MONTHS, 180, 2),
    (G.UNDER_3_MONTHS, 91, 1), (G.UNDER_3_MONTHS, 90, 2), (G.UNDER_3_MONTHS, 189, 2),
    (G.UNDER_3_MONTHS, 190, 4), (G.UNDER_3_MONTHS, 81, 2), (G.UNDER_3_MONTHS, 80, 4),
    (G.MONTHS_3_TO_12, 101, 0), (G.MONTHS_3_TO_12, 100, 1), (G.MONTHS_3_TO_12, 150, 1),
    (G.MONTHS_3_TO_12, 170, 2), (G.MONTHS_3_TO_12, 80, 2), (G.MONTHS_3_TO_12, 180, 4),
    (G.MONTHS_3_TO_12, 70, 4), (G.MONTHS_3_TO_12, 71, 2),
    (G.YEARS_1_TO_4, 91, 0), (G.YEARS_1_TO_4, 119, 0), (G.YEARS_1_TO_4, 120, 1),
    (G.YEARS_1_TO_4, 90, 1), (G.YEARS_1_TO_4, 150, 2), (G.YEARS_1_TO_4, 70, 2),
    (G.YEARS_1_TO_4, 170, 4), (G.YEARS_1_TO_4, 60, 4),
    # 4-12 years: the 4 cell is ">150", strict.
    (G.YEARS_4_TO_12, 71, 0), (G.YEARS_4_TO_12, 109, 0), (G.YEARS_4_TO_12, 110, 1),
    (G.YEARS_4_TO_12, 70, 1), (G.YEARS_4_TO_12, 130, 2), (G.YEARS_4_TO_12, 60, 2),
    (G.YEARS_4_TO_12, 150, 2), (G.YEARS_4_TO_12, 151, 4), (G.YEARS_4_TO_12, 50, 4),
    # >12 years: the 2 cell is "<50" on the low side, strict.
    (G.OVER_12_YEARS, 61, 0), (G.OVER_12_YEARS, 99, 0), (G.OVER_12_YEARS, 100, 1),
    (G.OVER_12_YEARS, 60, 1), (G.OVER_12_YEARS, 50, 1), (G.OVER_12_YEARS, 49, 2),
    (G.OVER_12_YEARS, 120, 2), (G.OVER_12_YEARS, 140, 4), (G.OVER_12_YEARS, 40, 4),
]  # fmt: skip
SYSTOLIC = [
    (G.UNDER_3_MONTHS, 61, 0), (G.UNDER_3_MONTHS, 79, 0), (G.UNDER_3_MONTHS, 80, 1),
    (G.UNDER_3_MONTHS, 60, 1), (G.UNDER_3_MONTHS, 100, 2), (G.UNDER_3_MONTHS, 50, 2),
    (G.UNDER_3_MONTHS, 130, 4), (G.UNDER_3_MONTHS, 45, 4), (G.UNDER_3_MONTHS, 46, 2),
    (G.MONTHS_3_TO_12, 81, 0), (G.MONTHS_3_TO_12, 100, 1), (G.MONTHS_3_TO_12, 120, 2),
    (G.MONTHS_3_TO_12, 70, 2), (G.MONTHS_3_TO_12, 150, 4), (G.MONTHS_3_TO_12, 60, 4),
    (G.YEARS_1_TO_4, 91, 0), (G.YEARS_1_TO_4, 109, 0), (G.YEARS_1_TO_4, 110, 1),
    (G.YEARS_1_TO_4, 125, 2), (G.YEARS_1_TO_4, 75, 2), (G.YEARS_1_TO_4, 160, 4),
    (G.YEARS_1_TO_4, 65, 4),
    (G.YEARS_4_TO_12, 91, 0), (G.YEARS_4_TO_12, 119, 0), (G.YEARS_4_TO_12, 120, 1),
    (G.YEARS_4_TO_12, 90, 1), (G.YEARS_4_TO_12, 140, 2), (G.YEARS_4_TO_12, 80, 2),
    (G.YEARS_4_TO_12, 170, 4), (G.YEARS_4_TO_12, 70, 4),
    (G.OVER_12_YEARS, 101, 0), (G.OVER_12_YEARS, 129, 0), (G.OVER_12_YEARS, 130, 1),
    (G.OVER_12_YEARS, 100, 1), (G.OVER_12_YEARS, 150, 2), (G.OVER_12_YEARS, 85, 2),
    (G.OVER_12_YEARS, 190, 4), (G.OVER_12_YEARS, 75, 4),
]  # fmt: skip
RESPIRATORY = [
    (G.UNDER_3_MONTHS, 30, 0), (G.UNDER_3_MONTHS, 60, 0), (G.UNDER_3_MONTHS, 61, 1),
    (G.UNDER_3_MONTHS, 29, 1), (G.UNDER_3_MONTHS, 81, 2), (G.UNDER_3_MONTHS, 19, 2),
    (G.UNDER_3_MONTHS, 91, 4), (G.UNDER_3_MONTHS, 15, 4),
    (G.MONTHS_3_TO_12, 25, 0), (G.MONTHS_3_TO_12, 50, 0), (G.MONTHS_3_TO_12, 51, 1),
    (G.MONTHS_3_TO_12, 24, 1), (G.MONTHS_3_TO_12, 71, 2), (G.MONTHS_3_TO_12, 19, 2),
    (G.MONTHS_3_TO_12, 81, 4), (G.MONTHS_3_TO_12, 15, 4),
    (G.YEARS_1_TO_4, 20, 0), (G.YEARS_1_TO_4, 40, 0), (G.YEARS_1_TO_4, 41, 1),
    (G.YEARS_1_TO_4, 19, 1), (G.YEARS_1_TO_4, 61, 2), (G.YEARS_1_TO_4, 15, 2),
    (G.YEARS_1_TO_4, 71, 4), (G.YEARS_1_TO_4, 12, 4),
    (G.YEARS_4_TO_12, 20, 0), (G.YEARS_4_TO_12, 30, 0), (G.YEARS_4_TO_12, 31, 1),
    (G.YEARS_4_TO_12, 19, 1), (G.YEARS_4_TO_12, 41, 2), (G.YEARS_4_TO_12, 14, 2),
    (G.YEARS_4_TO_12, 51, 4), (G.YEARS_4_TO_12, 10, 4),
    (G.OVER_12_YEARS, 12, 0), (G.OVER_12_YEARS, 16, 0), (G.OVER_12_YEARS, 17, 1),
    (G.OVER_12_YEARS, 11, 1), (G.OVER_12_YEARS, 23, 2), (G.OVER_12_YEARS, 10, 2),
    (G.OVER_12_YEARS, 30, 4), (G.OVER_12_YEARS, 9, 4),
]  # fmt: skip


@pytest.mark.parametrize(("group", "hr", "expected"), HEART_RATE)
def test_heart_rate_cells(group: AgeGroup, hr: float, expected: int) -> None:
    assert heart_rate_score(hr, group) == expected


@pytest.mark.parametrize(("group", "sbp", "expected"), SYSTOLIC)
def test_systolic_cells(group: AgeGroup, sbp: float, expected: int) -> None:
    assert systolic_bp_score(sbp, group) == expected


@pytest.mark.parametrize(("group", "rr", "expected"), RESPIRATORY)
def test_respiratory_rate_cells(group: AgeGroup, rr: float, expected: int) -> None:
    assert respiratory_rate_score(rr, group) == expected


def test_the_other_items_follow_the_table() -> None:
    assert [capillary_refill_score(s) for s in (1, 2.9, 3, 6)] == [0, 0, 4, 4]
    assert [respiratory_effort_score(e) for e in ("normal", "mild", "moderate", "severe")] == [
        0,
        1,
        2,
        4,
    ]
    assert [spo2_score(s) for s in (100, 95, 94, 91, 90, 70)] == [0, 0, 1, 1, 2, 2]
    assert [oxygen_therapy_score(o) for o in ("room_air", "low_flow", "high_flow")] == [0, 2, 4]


@pytest.mark.parametrize(
    ("age", "group"),
    [
        (0.0, G.UNDER_3_MONTHS),
        (0.24, G.UNDER_3_MONTHS),
        (0.25, G.MONTHS_3_TO_12),
        (0.99, G.MONTHS_3_TO_12),
        (1.0, G.YEARS_1_TO_4),
        (3.9, G.YEARS_1_TO_4),
        (4.0, G.YEARS_4_TO_12),
        (12.9, G.YEARS_4_TO_12),
        (13.0, G.OVER_12_YEARS),
        (15.9, G.OVER_12_YEARS),
    ],
)
def test_a_child_moves_up_a_group_on_the_boundary_birthday(age: float, group: AgeGroup) -> None:
    assert age_group(age) is group


def test_negative_or_missing_age_is_refused() -> None:
    with pytest.raises(ValueError, match="age"):
        age_group(-1)
    with pytest.raises(ValueError, match="age"):
        age_group(float("nan"))


def test_the_sickest_child_scores_the_published_maximum() -> None:
    score = bedside_pews(
        age_years=2,
        hr=200,
        sbp=50,
        capillary_refill_seconds=5,
        rr=80,
        respiratory_effort="severe",
        spo2=80,
        oxygen="high_flow",
    )
    assert score.total == MAX_TOTAL == 26
    assert score.band is PewsBand.HIGH
    assert score.not_measured == ()


def test_bands_and_what_was_not_measured() -> None:
    well = bedside_pews(age_years=6, hr=90, rr=22, spo2=98, oxygen="room_air")
    assert (well.total, well.band) == (0, PewsBand.NONE)
    assert well.not_measured == ("systolic_bp", "capillary_refill", "respiratory_effort")
    # One item at its most extreme column, total below 5: the single-parameter band.
    one_red = bedside_pews(age_years=6, hr=160, rr=22, spo2=98, oxygen="room_air")
    assert (one_red.total, one_red.band) == (4, PewsBand.LOW_MEDIUM)
    low = bedside_pews(age_years=6, hr=115, rr=22, spo2=93, oxygen="room_air")
    assert (low.total, low.band) == (2, PewsBand.LOW)
    medium = bedside_pews(age_years=6, hr=135, rr=42, spo2=93, oxygen="room_air")
    assert (medium.total, medium.band) == (5, PewsBand.MEDIUM)
    high = bedside_pews(age_years=6, hr=135, rr=42, spo2=90, oxygen="low_flow")
    assert (high.total, high.band) == (8, PewsBand.HIGH)


def test_reference_ranges_are_the_tables_normal_cells() -> None:
    infant = reference_ranges(0.1)
    assert infant.age_group is G.UNDER_3_MONTHS
    assert (infant.heart_rate.low, infant.heart_rate.high) == (110, 150)
    assert (infant.respiratory_rate.low, infant.respiratory_rate.high) == (29, 61)
    assert (infant.systolic_bp.low, infant.systolic_bp.high) == (60, 80)
    teen = reference_ranges(14)
    assert (teen.heart_rate.low, teen.heart_rate.high) == (60, 100)
    assert (teen.respiratory_rate.low, teen.respiratory_rate.high) == (11, 17)
    assert 110 not in infant.heart_rate
    assert 111 in infant.heart_rate
    assert 149 in infant.heart_rate


@given(
    age=st.floats(0, 15.99),
    hr=st.floats(20, 320),
    rr=st.floats(4, 120),
    sbp=st.floats(30, 250),
    spo2=st.floats(40, 100),
)
def test_score_is_within_the_published_range_and_grows_with_oxygen(
    age: float, hr: float, rr: float, sbp: float, spo2: float
) -> None:
    air = bedside_pews(age_years=age, hr=hr, rr=rr, sbp=sbp, spo2=spo2, oxygen="room_air")
    oxygen = bedside_pews(age_years=age, hr=hr, rr=rr, sbp=sbp, spo2=spo2, oxygen="high_flow")
    assert 0 <= air.total <= MAX_TOTAL
    assert oxygen.total == air.total + 4


def test_values_inside_the_reference_range_score_zero() -> None:
    for age in (0.1, 0.5, 2, 8, 14):
        ranges = reference_ranges(age)
        mid = (ranges.heart_rate.low + ranges.heart_rate.high) / 2
        assert heart_rate_score(mid, ranges.age_group) == 0
