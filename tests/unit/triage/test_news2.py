"""NEWS2 against the RCP 2017 chart, cell by cell, plus properties of the whole score."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emsync.triage.news2 import (
    Acvpu,
    News2Band,
    SpO2Scale,
    band_for,
    news2,
    pulse_score,
    respiration_rate_score,
    spo2_scale1_score,
    spo2_scale2_score,
    systolic_bp_score,
    temperature_score,
)

# (value, score) at both edges of every cell of the RCP 2017 NEWS2 chart.
RESPIRATION = [
    (8, 3),
    (9, 1),
    (11, 1),
    (12, 0),
    (20, 0),
    (21, 2),
    (24, 2),
    (25, 3),
    (40, 3),
    (4, 3),
]
SPO2_SCALE1 = [(91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0), (70, 3)]
SYSTOLIC = [(90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3), (60, 3)]
PULSE = [
    (40, 3),
    (41, 1),
    (50, 1),
    (51, 0),
    (90, 0),
    (91, 1),
    (110, 1),
    (111, 2),
    (130, 2),
    (131, 3),
]
TEMPERATURE = [
    (35.0, 3),
    (35.1, 1),
    (36.0, 1),
    (36.1, 0),
    (38.0, 0),
    (38.1, 1),
    (39.0, 1),
    (39.1, 2),
    (34.0, 3),
]
# Scale 2: (SpO2, on oxygen, score).
SPO2_SCALE2 = [
    (83, False, 3),
    (84, False, 2),
    (85, True, 2),
    (86, False, 1),
    (87, True, 1),
    (88, True, 0),
    (92, True, 0),
    (93, False, 0),
    (99, False, 0),
    (93, True, 1),
    (94, True, 1),
    (95, True, 2),
    (96, True, 2),
    (97, True, 3),
    (100, True, 3),
]


@pytest.mark.parametrize(("rr", "expected"), RESPIRATION)
def test_respiration_rate_cells(rr: float, expected: int) -> None:
    assert respiration_rate_score(rr) == expected


@pytest.mark.parametrize(("spo2", "expected"), SPO2_SCALE1)
def test_spo2_scale1_cells(spo2: float, expected: int) -> None:
    assert spo2_scale1_score(spo2) == expected


@pytest.mark.parametrize(("spo2", "on_oxygen", "expected"), SPO2_SCALE2)
def test_spo2_scale2_cells(spo2: float, on_oxygen: bool, expected: int) -> None:
    assert spo2_scale2_score(spo2, on_oxygen) == expected


@pytest.mark.parametrize(("sbp", "expected"), SYSTOLIC)
def test_systolic_bp_cells(sbp: float, expected: int) -> None:
    assert systolic_bp_score(sbp) == expected


@pytest.mark.parametrize(("hr", "expected"), PULSE)
def test_pulse_cells(hr: float, expected: int) -> None:
    assert pulse_score(hr) == expected


@pytest.mark.parametrize(("temp", "expected"), TEMPERATURE)
def test_temperature_cells(temp: float, expected: int) -> None:
    assert temperature_score(temp) == expected


def normal(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "rr": 16,
        "spo2": 97,
        "on_oxygen": False,
        "sbp": 120,
        "hr": 70,
        "consciousness": Acvpu.ALERT,
        "temp": 37.0,
    }
    values.update(overrides)
    return values


def test_normal_observations_score_zero_in_band_none() -> None:
    score = news2(**normal())  # type: ignore[arg-type]
    assert score.total == 0
    assert score.band is News2Band.NONE


def test_supplemental_oxygen_adds_two() -> None:
    score = news2(**normal(on_oxygen=True))  # type: ignore[arg-type]
    assert score.subscores.air_or_oxygen == 2
    assert score.band is News2Band.LOW


@pytest.mark.parametrize("level", ["C", "V", "P", "U"])
def test_new_confusion_and_cvpu_score_three_and_trigger_low_medium(level: str) -> None:
    score = news2(**normal(consciousness=level))  # type: ignore[arg-type]
    assert score.subscores.consciousness == 3
    assert score.total == 3
    assert score.band is News2Band.LOW_MEDIUM


def test_single_red_parameter_raises_band_even_at_low_total() -> None:
    score = news2(**normal(rr=26))  # type: ignore[arg-type]
    assert (score.total, score.band) == (3, News2Band.LOW_MEDIUM)


def test_aggregate_bands() -> None:
    # rr 22 (2) + hr 115 (2) = 4, low; + temp 38.5 (1) = 5, medium; + sbp 105 (1) + spo2 95 (1) = 7.
    assert news2(**normal(rr=22, hr=115)).band is News2Band.LOW  # type: ignore[arg-type]
    assert news2(**normal(rr=22, hr=115, temp=38.5)).band is News2Band.MEDIUM  # type: ignore[arg-type]
    high = news2(**normal(rr=22, hr=115, temp=38.5, sbp=105, spo2=95))  # type: ignore[arg-type]
    assert (high.total, high.band) == (7, News2Band.HIGH)


def test_scale2_used_only_when_asked() -> None:
    # 89% on air: red on scale 1, within target on scale 2.
    assert news2(**normal(spo2=89)).subscores.spo2 == 3  # type: ignore[arg-type]
    scale2 = news2(**normal(spo2=89), scale=SpO2Scale.SCALE_2)  # type: ignore[arg-type]
    assert scale2.subscores.spo2 == 0


@pytest.mark.parametrize(
    ("total", "max_sub", "band"),
    [
        (0, 0, News2Band.NONE),
        (1, 1, News2Band.LOW),
        (4, 2, News2Band.LOW),
        (3, 3, News2Band.LOW_MEDIUM),
        (4, 3, News2Band.LOW_MEDIUM),
        (5, 3, News2Band.MEDIUM),
        (6, 2, News2Band.MEDIUM),
        (7, 3, News2Band.HIGH),
        (20, 3, News2Band.HIGH),
    ],
)
def test_band_table(total: int, max_sub: int, band: News2Band) -> None:
    assert band_for(total, max_sub) is band


observations = st.fixed_dictionaries(
    {
        "rr": st.integers(3, 60),
        "spo2": st.integers(60, 100),
        "on_oxygen": st.booleans(),
        "sbp": st.integers(50, 280),
        "hr": st.integers(20, 220),
        "consciousness": st.sampled_from(list(Acvpu)),
        "temp": st.floats(32.0, 42.0).map(lambda t: round(t, 1)),
        "scale": st.sampled_from(list(SpO2Scale)),
    }
)


@given(observations)
def test_total_is_sum_of_parts_and_band_follows_total(obs: dict[str, object]) -> None:
    score = news2(**obs)  # type: ignore[arg-type]
    assert score.total == sum(score.subscores)
    assert score.band is band_for(score.total, max(score.subscores))
    assert 0 <= score.total <= 20


# Normal range of each single-parameter function, for "further from normal never scores lower".
MONOTONE = [
    (respiration_rate_score, 12, 20, 1, 60),
    (spo2_scale1_score, 96, 100, 50, 100),
    (systolic_bp_score, 111, 219, 40, 300),
    (pulse_score, 51, 90, 20, 250),
    (temperature_score, 36.1, 38.0, 30.0, 43.0),
]


@pytest.mark.parametrize(("fn", "low", "high", "lo_lim", "hi_lim"), MONOTONE)
@given(a=st.floats(0, 1), b=st.floats(0, 1))
def test_sub_scores_grow_with_distance_from_normal(
    fn: object, low: float, high: float, lo_lim: float, hi_lim: float, a: float, b: float
) -> None:
    assert callable(fn)
    near, far = sorted((a, b))
    # Below the normal range: further down never scores lower.
    assert fn(low - far * (low - lo_lim)) >= fn(low - near * (low - lo_lim))
    # Above it: further up never scores lower.
    assert fn(high + far * (hi_lim - high)) >= fn(high + near * (hi_lim - high))
    assert fn(low) == fn(high) == 0


@given(a=st.integers(50, 100), b=st.integers(50, 100))
def test_scale2_on_oxygen_grows_with_distance_from_target(a: int, b: int) -> None:
    def distance(s: int) -> int:
        return max(88 - s, s - 92, 0)

    if distance(a) <= distance(b) and (a - 90) * (b - 90) >= 0:
        assert spo2_scale2_score(b, True) >= spo2_scale2_score(a, True)


@given(a=st.integers(40, 300), b=st.integers(40, 300))
def test_total_never_drops_when_one_vital_moves_away_from_normal(a: int, b: int) -> None:
    base, worse = sorted((a, b))
    if base >= 111:  # both above normal lower edge: larger is further from normal
        assert news2(**normal(sbp=worse)).total >= news2(**normal(sbp=base)).total  # type: ignore[arg-type]
    elif worse <= 219:
        assert news2(**normal(sbp=base)).total >= news2(**normal(sbp=worse)).total  # type: ignore[arg-type]
