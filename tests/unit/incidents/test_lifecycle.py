"""The incident lifecycle table, by example and by property."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emsync.core.errors import InvalidTransition
from emsync.incidents.lifecycle import OPEN_STATUSES, TRANSITIONS, IncidentStatus, next_status

S = IncidentStatus


def test_the_happy_path_is_allowed() -> None:
    path = [S.NEW, S.TRIAGED, S.DISPATCHED, S.ON_SCENE, S.TRANSPORTING, S.AT_HOSPITAL, S.CLOSED]
    for current, target in itertools.pairwise(path):
        assert next_status(current, target) is target


@pytest.mark.parametrize("status", sorted(OPEN_STATUSES))
def test_any_open_incident_can_be_cancelled(status: IncidentStatus) -> None:
    assert next_status(status, S.CANCELLED) is S.CANCELLED


@pytest.mark.parametrize("final", [S.CLOSED, S.CANCELLED])
def test_final_states_have_no_way_out(final: IncidentStatus) -> None:
    for target in S:
        with pytest.raises(InvalidTransition):
            next_status(final, target)


def test_skipping_ahead_is_refused_with_the_allowed_moves_named() -> None:
    with pytest.raises(
        InvalidTransition, match="allowed from 'new': cancelled, dispatched, triaged"
    ):
        next_status(S.NEW, S.AT_HOSPITAL)


@given(st.lists(st.sampled_from(list(S)), max_size=30))
def test_random_walks_only_ever_follow_the_table(moves: list[IncidentStatus]) -> None:
    current = S.NEW
    for target in moves:
        try:
            current = next_status(current, target)
        except InvalidTransition:
            assert target not in TRANSITIONS[current]
        else:
            assert current is target
    assert current in TRANSITIONS


@given(st.lists(st.sampled_from(list(S)), max_size=30))
def test_an_incident_never_leaves_a_final_state(moves: list[IncidentStatus]) -> None:
    current = S.NEW
    reached_final = False
    for target in moves:
        try:
            current = next_status(current, target)
        except InvalidTransition:
            continue
        if reached_final:
            pytest.fail("moved out of a final state")
        reached_final = current in {S.CLOSED, S.CANCELLED}


def test_no_status_moves_to_itself() -> None:
    for status, allowed in TRANSITIONS.items():
        assert status not in allowed
