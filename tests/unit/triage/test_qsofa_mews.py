"""qSOFA (Singer 2016) and MEWS (Subbe 2001) against their published criteria and charts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emsync.triage.mews import (
    heart_rate_score,
    mews,
    respiratory_rate_score,
    systolic_bp_score,
    temperature_score,
)
from emsync.triage.news2 import Acvpu
from emsync.triage.qsofa import qsofa


@pytest.mark.parametrize(
    ("rr", "sbp", "gcs", "total"),
    [
        (21, 101, 15, 0),
        (22, 101, 15, 1),
        (21, 100, 15, 1),
        (21, 101, 14, 1),
        (22, 100, 15, 2),
        (30, 80, 9, 3),
    ],
)
def test_qsofa_criteria_edges(rr: float, sbp: float, gcs: int, total: int) -> None:
    score = qsofa(rr=rr, sbp=sbp, gcs=gcs)
    assert score.total == total
    assert score.positive is (total >= 2)


def test_qsofa_accepts_altered_mentation_without_gcs() -> None:
    assert qsofa(rr=16, sbp=120, altered_mentation=True).altered_mentation == 1


def test_qsofa_refuses_unknown_mentation() -> None:
    with pytest.raises(ValueError, match="gcs"):
        qsofa(rr=16, sbp=120)


@pytest.mark.parametrize(
    ("sbp", "expected"),
    [(70, 3), (71, 2), (80, 2), (81, 1), (100, 1), (101, 0), (199, 0), (200, 2)],
)
def test_mews_systolic_cells(sbp: float, expected: int) -> None:
    assert systolic_bp_score(sbp) == expected


@pytest.mark.parametrize(
    ("hr", "expected"),
    [
        (39, 2),
        (40, 2),
        (41, 1),
        (50, 1),
        (51, 0),
        (100, 0),
        (101, 1),
        (110, 1),
        (111, 2),
        (129, 2),
        (130, 3),
    ],
)
def test_mews_heart_rate_cells(hr: float, expected: int) -> None:
    assert heart_rate_score(hr) == expected


@pytest.mark.parametrize(
    ("rr", "expected"),
    [(8, 2), (9, 0), (14, 0), (15, 1), (20, 1), (21, 2), (29, 2), (30, 3)],
)
def test_mews_respiratory_cells(rr: float, expected: int) -> None:
    assert respiratory_rate_score(rr) == expected


@pytest.mark.parametrize(("temp", "expected"), [(34.9, 2), (35.0, 0), (38.4, 0), (38.5, 2)])
def test_mews_temperature_cells(temp: float, expected: int) -> None:
    assert temperature_score(temp) == expected


@pytest.mark.parametrize(("level", "expected"), [("A", 0), ("C", 1), ("V", 1), ("P", 2), ("U", 3)])
def test_mews_consciousness(level: str, expected: int) -> None:
    assert mews(sbp=120, hr=70, rr=12, temp=37.0, consciousness=level).consciousness == expected


@given(
    sbp=st.integers(40, 260),
    hr=st.integers(20, 220),
    rr=st.integers(4, 50),
    temp=st.floats(32, 42),
    level=st.sampled_from(list(Acvpu)),
)
def test_mews_total_is_sum_of_parts(sbp: int, hr: int, rr: int, temp: float, level: Acvpu) -> None:
    score = mews(sbp=sbp, hr=hr, rr=rr, temp=temp, consciousness=level)
    assert score.total == sum(score[:5])


@pytest.mark.parametrize(
    ("fn", "low", "high", "lo_lim", "hi_lim"),
    [
        (systolic_bp_score, 101, 199, 40, 300),
        (heart_rate_score, 51, 100, 20, 250),
        (respiratory_rate_score, 9, 14, 1, 60),
        (temperature_score, 35.0, 38.4, 30.0, 43.0),
    ],
)
@given(a=st.floats(0, 1), b=st.floats(0, 1))
def test_mews_sub_scores_grow_with_distance_from_normal(
    fn: object, low: float, high: float, lo_lim: float, hi_lim: float, a: float, b: float
) -> None:
    assert callable(fn)
    near, far = sorted((a, b))
    assert fn(low - far * (low - lo_lim)) >= fn(low - near * (low - lo_lim))
    assert fn(high + far * (hi_lim - high)) >= fn(high + near * (hi_lim - high))


@given(a=st.integers(4, 60), b=st.integers(4, 60))
def test_qsofa_never_drops_as_rr_rises(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert qsofa(rr=hi, sbp=120, gcs=15).total >= qsofa(rr=lo, sbp=120, gcs=15).total
