"""Dispatch recommendation: rank units for an incident by road ETA under capability rules (pure).

Every unit gets a line: its rank and why, or why it was left out, as the best CAD systems show
a dispatcher. Rules, in the order they apply:

1. Only available units are sent (out of service, or committed to another call, are excluded).
2. A unit needs a qualified crew on shift (when a roster is wired in: see `dispatch.crew`),
   a position the road graph knows and a road route to the incident.
3. The most urgent calls (priority or acuity 1-2) need an ALS crew: BLS units are excluded —
   unless no ALS unit can be sent, when the nearest BLS goes as first response (a unit now beats
   the right unit later) and the reason says to request ALS backup.
4. Eligible units are ranked by ETA; ties by call sign, so the order is stable.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from emsync.dispatch.lifecycle import UnitStatus

__all__ = [
    "ALS_REQUIRED_UP_TO",
    "DispatchRanking",
    "RankedRows",
    "RankedUnit",
    "UnitCandidate",
    "UnitColumns",
    "UnitType",
    "format_duration",
    "rank_rows",
    "rank_units",
    "urgency_of",
]

ALS_REQUIRED_UP_TO = 2
_AVAILABLE = UnitStatus.AVAILABLE.value
_OUT_OF_SERVICE = UnitStatus.OUT_OF_SERVICE.value
F64 = npt.NDArray[np.float64]


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


@functools.lru_cache(maxsize=4096)
def _whole_seconds_text(total: int) -> str:
    minutes, secs = divmod(total, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _durations(seconds: F64) -> list[str]:
    """`format_duration` over an array (np.rint rounds half to even, as `round` does)."""
    return [_whole_seconds_text(t) for t in np.rint(seconds).astype(np.int64).tolist()]


@dataclass(frozen=True, slots=True)
class UnitColumns:
    """Units as columns, one entry per unit in the same order: what the ranking reads.

    `unit_type` and `status` hold the enums' values; `eta_s` is inf when the road graph cannot
    reach; `from_station` marks units without a GPS fix.
    """

    unit_id: Sequence[str]
    call_sign: Sequence[str]
    unit_type: Sequence[str]
    status: Sequence[str]
    eta_s: F64
    from_station: npt.NDArray[np.bool_]
    location_problem: Sequence[str | None]
    # Why the crew on shift cannot take the unit out (None: crewed, or no roster wired in).
    crew_problem: Sequence[str | None] | None = None

    @classmethod
    def of(cls, candidates: Sequence[UnitCandidate]) -> UnitColumns:
        return cls(
            unit_id=[c.unit_id for c in candidates],
            call_sign=[c.call_sign for c in candidates],
            unit_type=[c.unit_type.value for c in candidates],
            status=[c.status.value for c in candidates],
            eta_s=np.array([c.eta_s for c in candidates], dtype=np.float64),
            from_station=np.array([c.from_station for c in candidates], dtype=np.bool_),
            location_problem=[c.location_problem for c in candidates],
        )


@dataclass(frozen=True, slots=True)
class RankedRows:
    """A ranking as row numbers into its `UnitColumns`: ranked rows in rank order (rank = place
    + 1), excluded rows in display order, each with its reason; ETAs of excluded rows are the
    column's where they mean something, else None."""

    urgency: int
    als_required: bool
    ranked: list[int]
    ranked_reasons: list[str]
    excluded: list[int]
    excluded_reasons: list[str]
    excluded_etas: list[float | None]


def _exclusions(
    units: UnitColumns, eligible: npt.NDArray[np.bool_], finite: list[bool], urgency: int
) -> list[tuple[str, str, int]]:
    """(why, call sign, row) of every unit left out, in the order they are shown."""
    bls_reason = f"BLS cannot take priority {urgency}: ALS required"
    problems = units.location_problem
    excluded: list[tuple[str, str, int]] = []
    for row in np.flatnonzero(~eligible).tolist():
        state = units.status[row]
        if state == _OUT_OF_SERVICE:
            why = "out of service"
        elif state != _AVAILABLE:
            why = f"committed to another call ({state})"
        elif units.crew_problem is not None and (crew := units.crew_problem[row]) is not None:
            why = crew
        elif (problem := problems[row]) is not None:
            why = problem
        elif not finite[row]:
            why = "unreachable on the road graph"
        else:
            why = bls_reason  # available, placed, reachable: only the ALS rule leaves it out
        excluded.append((why, units.call_sign[row], row))
    excluded.sort()
    return excluded


def rank_rows(units: UnitColumns, *, urgency: int) -> RankedRows:
    """Rank `units` for a call of `urgency` (1-5), with a reason for every unit (vectorised)."""
    if not 1 <= urgency <= 5:
        raise ValueError("urgency must be 1..5")
    als_required = urgency <= ALS_REQUIRED_UP_TO
    eta = units.eta_s
    status = np.asarray(units.status, dtype=object)
    available = status == _AVAILABLE
    placed = np.fromiter((p is None for p in units.location_problem), np.bool_, eta.shape[0])
    crewed = np.ones_like(available)
    if units.crew_problem is not None:
        crewed = np.fromiter((p is None for p in units.crew_problem), np.bool_, eta.shape[0])
    sendable = available & placed & crewed & np.isfinite(eta)
    bls = np.asarray(units.unit_type, dtype=object) == UnitType.BLS.value
    fallback = sendable & bls if als_required else np.zeros_like(sendable)
    eligible = sendable & ~fallback
    first_response = False
    if fallback.any() and not eligible.any():
        eligible, fallback, first_response = fallback, np.zeros_like(fallback), True

    rows = np.flatnonzero(eligible)
    rows = rows[np.argsort(eta[rows], kind="stable")]
    by_eta = eta[rows]
    if np.any(by_eta[1:] == by_eta[:-1]):  # equal ETAs: then by call sign, then by id
        call_sign = np.asarray(units.call_sign, dtype=object)[rows].astype(str)
        unit_id = np.asarray(units.unit_id, dtype=object)[rows].astype(str)
        rows = rows[np.lexsort((unit_id, call_sign, by_eta))]  # the last key is the first
    ranked = rows.tolist()
    ranked_reasons: list[str] = []
    if ranked:
        etas = eta[rows]
        first = ranked[0]
        lead = f" by road: fastest of {len(ranked)} eligible"
        gap = f" behind {units.call_sign[first]}"
        behind = _durations(etas - etas[0])
        suffix = ""
        if first_response:
            suffix += f"; no ALS unit can be sent to priority {urgency}: BLS as first response, "
            suffix += "request ALS backup"
        no_fix = units.from_station[rows].tolist()
        types = units.unit_type
        for n, (row, eta_text) in enumerate(zip(ranked, _durations(etas), strict=True)):
            tail = lead if n == 0 else f" by road: {behind[n]}{gap}"
            reason = f"{types[row]}, {eta_text}{tail}{suffix}"
            if no_fix[n]:
                reason += "; no GPS fix, ETA from its home station"
            ranked_reasons.append(reason)

    problems = units.location_problem
    finite = np.isfinite(eta).tolist()
    excluded = _exclusions(units, eligible, finite, urgency)
    eta_list = eta.tolist()
    return RankedRows(
        urgency=urgency,
        als_required=als_required,
        ranked=ranked,
        ranked_reasons=ranked_reasons,
        excluded=[row for _, _, row in excluded],
        excluded_reasons=[why for why, _, _ in excluded],
        excluded_etas=[
            eta_list[row] if finite[row] and problems[row] is None else None
            for _, _, row in excluded
        ],
    )


def rank_units(candidates: Sequence[UnitCandidate], *, urgency: int) -> DispatchRanking:
    """Rank `candidates` for a call of `urgency` (1-5), with a reason for every unit."""
    rows = rank_rows(UnitColumns.of(candidates), urgency=urgency)
    ranked = tuple(
        RankedUnit(c.unit_id, c.call_sign, c.unit_type, c.status, c.eta_s, n, reason)
        for n, (c, reason) in enumerate(
            zip((candidates[i] for i in rows.ranked), rows.ranked_reasons, strict=True), start=1
        )
    )
    excluded = tuple(
        RankedUnit(c.unit_id, c.call_sign, c.unit_type, c.status, eta, None, reason)
        for c, reason, eta in zip(
            (candidates[i] for i in rows.excluded),
            rows.excluded_reasons,
            rows.excluded_etas,
            strict=True,
        )
    )
    return DispatchRanking(urgency, rows.als_required, ranked, excluded)
