"""NEWS2, the Royal College of Physicians' National Early Warning Score 2 (RCP 2017).

Pure and allocation-light: the telemetry pipeline calls `news2` once per reading, so the
sub-scores are plain comparisons against the chart's upper cell edges and the result is a
NamedTuple (cheaper to build than a frozen dataclass).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import NamedTuple


class Acvpu(StrEnum):
    """Level of consciousness; NEWS2 adds C, new confusion, to AVPU."""

    ALERT = "A"
    CONFUSION = "C"
    VOICE = "V"
    PAIN = "P"
    UNRESPONSIVE = "U"


class SpO2Scale(IntEnum):
    """Scale 2: hypercapnic respiratory failure with a prescribed 88-92% target."""

    SCALE_1 = 1
    SCALE_2 = 2


class News2Band(StrEnum):
    """Clinical risk band that sets the escalation response."""

    NONE = "none"
    LOW = "low"
    LOW_MEDIUM = "low-medium"
    MEDIUM = "medium"
    HIGH = "high"


class News2Subscores(NamedTuple):
    respiration_rate: int
    spo2: int
    air_or_oxygen: int
    systolic_bp: int
    pulse: int
    consciousness: int
    temperature: int


class News2Score(NamedTuple):
    subscores: News2Subscores
    total: int
    band: News2Band


def respiration_rate_score(rr: float) -> int:
    if rr <= 8:
        return 3
    if rr <= 11:
        return 1
    if rr <= 20:
        return 0
    if rr <= 24:
        return 2
    return 3


def spo2_scale1_score(spo2: float) -> int:
    if spo2 <= 91:
        return 3
    if spo2 <= 93:
        return 2
    if spo2 <= 95:
        return 1
    return 0


def spo2_scale2_score(spo2: float, on_oxygen: bool) -> int:
    if spo2 <= 83:
        return 3
    if spo2 <= 85:
        return 2
    if spo2 <= 87:
        return 1
    # Above the 88-92% target only counts against a patient on oxygen (over-oxygenation risk).
    if spo2 <= 92 or not on_oxygen:
        return 0
    if spo2 <= 94:
        return 1
    if spo2 <= 96:
        return 2
    return 3


def systolic_bp_score(sbp: float) -> int:
    if sbp <= 90:
        return 3
    if sbp <= 100:
        return 2
    if sbp <= 110:
        return 1
    if sbp <= 219:
        return 0
    return 3


def pulse_score(hr: float) -> int:
    if hr <= 40:
        return 3
    if hr <= 50:
        return 1
    if hr <= 90:
        return 0
    if hr <= 110:
        return 1
    if hr <= 130:
        return 2
    return 3


def temperature_score(temp: float) -> int:
    if temp <= 35.0:
        return 3
    if temp <= 36.0:
        return 1
    if temp <= 38.0:
        return 0
    if temp <= 39.0:
        return 1
    return 2


def band_for(total: int, max_subscore: int) -> News2Band:
    if total >= 7:
        return News2Band.HIGH
    if total >= 5:
        return News2Band.MEDIUM
    # A single red score (3 in one parameter) needs an urgent ward-based review even at a low total.
    if max_subscore >= 3:
        return News2Band.LOW_MEDIUM
    if total >= 1:
        return News2Band.LOW
    return News2Band.NONE


# Module-level aliases: the per-reading hot path skips enum attribute lookups and NamedTuple's
# Python-level __new__ (tuple.__new__ builds the same object about 3x faster).
_NONE, _LOW, _LOW_MEDIUM, _MEDIUM, _HIGH = (
    News2Band.NONE,
    News2Band.LOW,
    News2Band.LOW_MEDIUM,
    News2Band.MEDIUM,
    News2Band.HIGH,
)
_tuple_new = tuple.__new__


def news2(
    *,
    rr: float,
    spo2: float,
    on_oxygen: bool,
    sbp: float,
    hr: float,
    consciousness: Acvpu | str,
    temp: float,
    scale: SpO2Scale | int = SpO2Scale.SCALE_1,
) -> News2Score:
    """The NEWS2 sub-scores, total and band for one complete set of observations."""
    s_rr = respiration_rate_score(rr)
    s_spo2 = spo2_scale2_score(spo2, on_oxygen) if scale == 2 else spo2_scale1_score(spo2)
    s_o2 = 2 if on_oxygen else 0
    s_sbp = systolic_bp_score(sbp)
    s_hr = pulse_score(hr)
    s_avpu = 0 if consciousness == "A" else 3
    s_temp = temperature_score(temp)
    total = s_rr + s_spo2 + s_o2 + s_sbp + s_hr + s_avpu + s_temp
    if total >= 7:
        band = _HIGH
    elif total >= 5:
        band = _MEDIUM
    elif s_rr == 3 or s_spo2 == 3 or s_sbp == 3 or s_hr == 3 or s_avpu == 3 or s_temp == 3:
        band = _LOW_MEDIUM
    elif total:
        band = _LOW
    else:
        band = _NONE
    sub: News2Subscores = _tuple_new(
        News2Subscores, (s_rr, s_spo2, s_o2, s_sbp, s_hr, s_avpu, s_temp)
    )
    score: News2Score = _tuple_new(News2Score, (sub, total, band))
    return score
