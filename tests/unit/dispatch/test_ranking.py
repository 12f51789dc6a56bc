"""Dispatch ranking rules and the reasons a dispatcher sees."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from emsync.dispatch.lifecycle import UnitStatus
from emsync.dispatch.ranking import UnitCandidate, UnitType, rank_units, urgency_of

ALS, BLS = UnitType.ALS, UnitType.BLS


def unit(
    call_sign: str,
    eta_s: float,
    unit_type: UnitType = ALS,
    status: UnitStatus = UnitStatus.AVAILABLE,
    **extra: object,
) -> UnitCandidate:
    return UnitCandidate(
        unit_id=call_sign.lower(),
        call_sign=call_sign,
        unit_type=unit_type,
        status=status,
        eta_s=eta_s,
        **extra,  # type: ignore[arg-type]
    )


def test_units_are_ranked_by_eta_with_the_gap_to_the_first() -> None:
    ranking = rank_units([unit("M2", 420.0), unit("M1", 300.0), unit("M3", 300.0)], urgency=3)
    assert [r.call_sign for r in ranking.ranked] == ["M1", "M3", "M2"]
    assert [r.rank for r in ranking.ranked] == [1, 2, 3]
    assert ranking.ranked[0].reason == "ALS, 5 min 00 s by road: fastest of 3 eligible"
    assert ranking.ranked[2].reason == "ALS, 7 min 00 s by road: 2 min 00 s behind M1"


def test_bls_cannot_take_priority_1_when_an_als_unit_can_go() -> None:
    ranking = rank_units([unit("B1", 60.0, BLS), unit("A1", 900.0)], urgency=1)
    assert [r.call_sign for r in ranking.ranked] == ["A1"]
    (bls,) = ranking.excluded
    assert bls.reason == "BLS cannot take priority 1: ALS required"
    assert bls.eta_s == 60.0


def test_bls_goes_as_first_response_when_no_als_unit_can() -> None:
    ranking = rank_units(
        [unit("B1", 60.0, BLS), unit("A1", 30.0, status=UnitStatus.OUT_OF_SERVICE)], urgency=2
    )
    assert [r.call_sign for r in ranking.ranked] == ["B1"]
    assert "no ALS unit can be sent to priority 2" in ranking.ranked[0].reason
    assert "request ALS backup" in ranking.ranked[0].reason


def test_bls_is_eligible_for_less_urgent_calls() -> None:
    ranking = rank_units([unit("B1", 60.0, BLS), unit("A1", 90.0)], urgency=3)
    assert ranking.als_required is False
    assert [r.call_sign for r in ranking.ranked] == ["B1", "A1"]


def test_exclusions_say_why() -> None:
    ranking = rank_units(
        [
            unit("X1", 10.0, status=UnitStatus.OUT_OF_SERVICE),
            unit("X2", 10.0, status=UnitStatus.EN_ROUTE),
            unit("X3", math.inf),
            unit("X4", math.inf, location_problem="position is off the road map (no road)"),
        ],
        urgency=4,
    )
    assert ranking.ranked == ()
    assert ranking.best is None
    reasons = {r.call_sign: r.reason for r in ranking.excluded}
    assert reasons == {
        "X1": "out of service",
        "X2": "committed to another call (en_route)",
        "X3": "unreachable on the road graph",
        "X4": "position is off the road map (no road)",
    }
    assert all(r.eta_s is None for r in ranking.excluded if r.call_sign in {"X3", "X4"})


def test_a_unit_without_gps_fix_says_its_eta_starts_at_the_station() -> None:
    ranking = rank_units([unit("A1", 100.0, from_station=True)], urgency=3)
    assert ranking.ranked[0].reason.endswith("no GPS fix, ETA from its home station")


def test_urgency_is_the_most_urgent_of_priority_and_acuity() -> None:
    assert urgency_of(3, [None, 4, 2]) == 2
    assert urgency_of(3, []) == 3


candidates = st.lists(
    st.builds(
        unit,
        call_sign=st.text("ABCDEFGH", min_size=1, max_size=3),
        eta_s=st.one_of(st.floats(0, 7200), st.just(math.inf)),
        unit_type=st.sampled_from(list(UnitType)),
        status=st.sampled_from(list(UnitStatus)),
    ),
    max_size=12,
    unique_by=lambda c: c.call_sign,
)


@given(candidates, st.integers(1, 5))
def test_every_unit_is_ranked_or_excluded_once_with_a_reason(
    units: list[UnitCandidate], urgency: int
) -> None:
    ranking = rank_units(units, urgency=urgency)
    listed = [r.unit_id for r in (*ranking.ranked, *ranking.excluded)]
    assert sorted(listed) == sorted(u.unit_id for u in units)
    assert all(r.reason for r in (*ranking.ranked, *ranking.excluded))
    etas = [r.eta_s for r in ranking.ranked]
    assert etas == sorted(etas)  # type: ignore[type-var]
    assert all(r.status is UnitStatus.AVAILABLE for r in ranking.ranked)
    if ranking.als_required and any(r.unit_type is ALS for r in ranking.ranked):
        assert all(r.unit_type is ALS for r in ranking.ranked)
