"""Dispatch recommendation: rank units for an incident by road ETA under capability rules (pure).

Every unit gets a line: its rank and why, or why it was left out, as the best CAD systems show
a dispatcher. Rules, in the order they apply:

1. Only available units are sent (out of service, or committed to another call, are excluded).
2. A unit needs a position the road graph knows and a road route to the incident.
3. The most urgent calls (priority or acuity 1-2) need an ALS crew: BLS units are excluded —
   unless no ALS unit can be sent, when the nearest BLS goes as first response (a unit now beats
   the right unit later) and the reason says to request ALS backup.
4. Eligible units are ranked by ETA; ties by call sign, so the order is stable.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from emsync.dispatch.lifecycle import UnitStatus

__all__ = [
    "ALS_REQUIRED_UP_TO",
    "DispatchRanking",
    "RankedUnit",
    "UnitCandidate",
    "UnitType",
    "format_duration",
    "rank_units",
    "urgency_of",
]

ALS_REQUIRED_UP_TO = 2


class UnitType(StrEnum):
    ALS = "ALS"  # advanced life support: paramedic crew, drugs, airway, defibrillation
    BLS = "BLS"  # basic life support


@dataclass(frozen=True, slots=True)
class UnitCandidate:
    """A unit as the ranking sees it; `eta_s` is inf when the road graph cannot reach."""

    unit_id: str
    call_sign: str
    unit_type: UnitType
    status: UnitStatus
    eta_s: float
    from_station: bool = False  # no GPS fix: the ETA starts at the home station
    location_problem: str | None = None  # e.g. the position is off the road map


@dataclass(frozen=True, slots=True)
class RankedUnit:
    unit_id: str
    call_sign: str
    unit_type: UnitType
    status: UnitStatus
    eta_s: float | None
    rank: int | None  # None when excluded
    reason: str

    @property
    def excluded(self) -> bool:
        return self.rank is None


@dataclass(frozen=True, slots=True)
class DispatchRanking:
    urgency: int
    als_required: bool
    ranked: tuple[RankedUnit, ...]
    excluded: tuple[RankedUnit, ...]

    @property
    def best(self) -> RankedUnit | None:
        return self.ranked[0] if self.ranked else None


def urgency_of(priority: int, acuities: Iterable[int | None] = ()) -> int:
    """The most urgent of the call's priority and its triaged patients' acuity (1 = most)."""
    return min([priority, *(a for a in acuities if a is not None)])


def format_duration(seconds: float) -> str:
    total = round(seconds)
    minutes, secs = divmod(total, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _exclusion(c: UnitCandidate, urgency: int, als_required: bool) -> str | None:
    if c.status is UnitStatus.OUT_OF_SERVICE:
        return "out of service"
    if c.status is not UnitStatus.AVAILABLE:
        return f"committed to another call ({c.status.value})"
    if c.location_problem is not None:
        return c.location_problem
    if not math.isfinite(c.eta_s):
        return "unreachable on the road graph"
    if als_required and c.unit_type is UnitType.BLS:
        return f"BLS cannot take priority {urgency}: ALS required"
    return None


def _excluded(c: UnitCandidate, reason: str) -> RankedUnit:
    eta = c.eta_s if math.isfinite(c.eta_s) and c.location_problem is None else None
    return RankedUnit(c.unit_id, c.call_sign, c.unit_type, c.status, eta, None, reason)


def rank_units(candidates: Sequence[UnitCandidate], *, urgency: int) -> DispatchRanking:
    """Rank `candidates` for a call of `urgency` (1-5), with a reason for every unit."""
    if not 1 <= urgency <= 5:
        raise ValueError("urgency must be 1..5")
    als_required = urgency <= ALS_REQUIRED_UP_TO
    eligible: list[UnitCandidate] = []
    fallback: list[UnitCandidate] = []
    excluded: list[RankedUnit] = []
    for c in candidates:
        why = _exclusion(c, urgency, als_required)
        if why is None:
            eligible.append(c)
        elif als_required and why.startswith("BLS cannot"):
            fallback.append(c)
        else:
            excluded.append(_excluded(c, why))
    first_response = False
    if not eligible and fallback:
        eligible, fallback, first_response = fallback, [], True
    excluded += [
        _excluded(c, f"BLS cannot take priority {urgency}: ALS required") for c in fallback
    ]
    eligible.sort(key=lambda c: (c.eta_s, c.call_sign, c.unit_id))
    ranked: list[RankedUnit] = []
    for n, c in enumerate(eligible, start=1):
        eta = format_duration(c.eta_s)
        if n == 1:
            reason = f"{c.unit_type.value}, {eta} by road: fastest of {len(eligible)} eligible"
        else:
            behind = format_duration(c.eta_s - eligible[0].eta_s)
            reason = f"{c.unit_type.value}, {eta} by road: {behind} behind {eligible[0].call_sign}"
        if first_response:
            reason += f"; no ALS unit can be sent to priority {urgency}: BLS as first response, "
            reason += "request ALS backup"
        if c.from_station:
            reason += "; no GPS fix, ETA from its home station"
        ranked.append(RankedUnit(c.unit_id, c.call_sign, c.unit_type, c.status, c.eta_s, n, reason))
    excluded.sort(key=lambda r: (r.reason, r.call_sign))
    return DispatchRanking(urgency, als_required, tuple(ranked), tuple(excluded))
