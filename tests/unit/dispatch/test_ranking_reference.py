"""The vectorised ranking gives exactly what the straightforward per-unit rules give."""

from __future__ import annotations

import math
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from emsync.dispatch.lifecycle import UnitStatus
from emsync.dispatch.ranking import (
    DispatchRanking,
    RankedUnit,
    UnitCandidate,
    UnitType,
    format_duration,
    rank_units,
)


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


def reference_ranking(candidates: Sequence[UnitCandidate], *, urgency: int) -> DispatchRanking:
    """The rules one unit at a time, as the ranking was first written (the oracle)."""
    als_required = urgency <= 2
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


# Few distinct ETAs (halves included, to exercise rounding) so that ties are common.
etas = st.one_of(
    st.sampled_from([0.0, 0.5, 1.5, 59.5, 60.0, 89.5, 300.0, 300.0, math.inf, math.nan]),
    st.floats(0, 7200),
)
candidates = st.lists(
    st.builds(
        UnitCandidate,
        unit_id=st.text("abc", min_size=1, max_size=2),
        call_sign=st.text("ABC1", min_size=1, max_size=2),
        unit_type=st.sampled_from(list(UnitType)),
        status=st.sampled_from(list(UnitStatus)),
        eta_s=etas,
        from_station=st.booleans(),
        location_problem=st.one_of(st.none(), st.sampled_from(["off the map", "out of service"])),
    ),
    max_size=30,
)


@settings(max_examples=300)
@given(candidates, st.integers(1, 5))
def test_vectorised_ranking_equals_the_per_unit_rules(
    units: list[UnitCandidate], urgency: int
) -> None:
    got, want = rank_units(units, urgency=urgency), reference_ranking(units, urgency=urgency)
    assert (got.urgency, got.als_required) == (want.urgency, want.als_required)
    assert got.ranked == want.ranked
    # NaN ETAs never reach a result (not finite: excluded with no ETA), so == is exact.
    assert got.excluded == want.excluded
