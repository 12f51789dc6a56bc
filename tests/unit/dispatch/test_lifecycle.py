"""The unit status lifecycle: a table, enforced; random walks never reach an invalid state."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emsync.core.errors import InvalidTransition
from emsync.dispatch.lifecycle import TRANSITIONS, UnitStatus, can_move, next_status

S = UnitStatus


def test_the_call_cycle_returns_to_available() -> None:
    status = S.AVAILABLE
    for target in (S.DISPATCHED, S.EN_ROUTE, S.ON_SCENE, S.TRANSPORTING, S.AT_HOSPITAL):
        status = next_status(status, target)
    assert next_status(status, S.AVAILABLE) is S.AVAILABLE


def test_out_of_service_is_entered_and_left_only_through_available() -> None:
    assert can_move(S.AVAILABLE, S.OUT_OF_SERVICE)
    assert TRANSITIONS[S.OUT_OF_SERVICE] == {S.AVAILABLE}
    entering = {s for s, nxt in TRANSITIONS.items() if S.OUT_OF_SERVICE in nxt}
    assert entering == {S.AVAILABLE}


def test_a_transporting_unit_cannot_be_released_before_the_hospital() -> None:
    with pytest.raises(InvalidTransition) as raised:
        next_status(S.TRANSPORTING, S.AVAILABLE)
    assert "cannot move from 'transporting' to 'available'" in raised.value.detail
    assert "allowed from 'transporting': at_hospital" in raised.value.detail


def test_every_status_can_reach_available_again() -> None:
    for start in S:
        seen, frontier = {start}, [start]
        while frontier:
            for nxt in TRANSITIONS[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert S.AVAILABLE in seen


@given(st.lists(st.sampled_from(list(S)), max_size=40))
def test_random_transition_sequences_never_reach_an_invalid_state(
    targets: list[UnitStatus],
) -> None:
    status = S.AVAILABLE
    path = [status]
    for target in targets:
        try:
            status = next_status(status, target)
        except InvalidTransition:
            assert target not in TRANSITIONS[status]
            continue
        path.append(status)
    for before, after in itertools.pairwise(path):
        assert after in TRANSITIONS[before]
    # A unit is never out of service while committed: it passed through available first.
    for before, after in itertools.pairwise(path):
        if after is S.OUT_OF_SERVICE:
            assert before is S.AVAILABLE
