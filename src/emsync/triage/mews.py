"""MEWS, the Modified Early Warning Score (Subbe et al., QJM 2001)."""

from __future__ import annotations

from typing import NamedTuple

from emsync.triage.news2 import Acvpu


class MewsScore(NamedTuple):
    systolic_bp: int
    heart_rate: int
    respiratory_rate: int
    temperature: int
    consciousness: int
    total: int


def systolic_bp_score(sbp: float) -> int:
    if sbp <= 70:
        return 3
    if sbp <= 80:
        return 2
    if sbp <= 100:
        return 1
    if sbp < 200:
        return 0
    return 2


def heart_rate_score(hr: float) -> int:
    # The published chart leaves exactly 40/min between "<40" (2) and "41-50" (1); the safer 2 wins.
    if hr <= 40:
        return 2
    if hr <= 50:
        return 1
    if hr <= 100:
        return 0
    if hr <= 110:
        return 1
    if hr < 130:
        return 2
    return 3


def respiratory_rate_score(rr: float) -> int:
    if rr < 9:
        return 2
    if rr <= 14:
        return 0
    if rr <= 20:
        return 1
    if rr < 30:
        return 2
    return 3


def temperature_score(temp: float) -> int:
    if temp < 35.0:
        return 2
    if temp < 38.5:
        return 0
    return 2


# MEWS predates NEWS2's "C": new confusion scores like a response to voice, the nearest step.
_CONSCIOUSNESS = {
    Acvpu.ALERT: 0,
    Acvpu.CONFUSION: 1,
    Acvpu.VOICE: 1,
    Acvpu.PAIN: 2,
    Acvpu.UNRESPONSIVE: 3,
}


def mews(*, sbp: float, hr: float, rr: float, temp: float, consciousness: Acvpu | str) -> MewsScore:
    """The MEWS sub-scores and total for one set of observations."""
    parts = (
        systolic_bp_score(sbp),
        heart_rate_score(hr),
        respiratory_rate_score(rr),
        temperature_score(temp),
        _CONSCIOUSNESS[Acvpu(consciousness)],
    )
    return MewsScore(*parts, total=sum(parts))
