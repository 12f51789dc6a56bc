"""Who reaches which handoff: a crew only its unit's and its current call's (issue #23 scoping),
and only dispatch follows the board of every handoff."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from emsync.auth.permissions import Role
from emsync.auth.principal import Principal
from emsync.handoffs.handlers import may_follow_handoffs
from emsync.handoffs.models import Handoff
from emsync.handoffs.public import unit_scoped
from emsync.handoffs.reads import CrewScope, Viewer, may_open, may_see

SCOPE = CrewScope(units=frozenset({"u-1", "MC-1"}), incident_id="inc-1")


def _handoff(*, unit_id: str | None, incident_id: str, status: str = "draft") -> Handoff:
    row = SimpleNamespace(unit_id=unit_id, incident_id=incident_id, status=status, hospital_id="h")
    return cast(Handoff, row)


def _principal(role: Role) -> Principal:
    return Principal(id="p", name="p", role=role, kind="user", unit_id="u-1")


def test_a_crew_sees_its_units_and_its_calls_handoffs_only() -> None:
    crew = Viewer(actor="crew", writes=True, crew=SCOPE)
    dispatch = Viewer(actor="dispatcher", writes=True)
    by_call_sign = _handoff(unit_id="MC-1", incident_id="inc-9")
    same_call_other_unit = _handoff(unit_id="MC-2", incident_id="inc-1")
    elsewhere = _handoff(unit_id="MC-2", incident_id="inc-2")
    unnamed = _handoff(unit_id=None, incident_id="inc-2")
    assert may_see(crew, by_call_sign)
    assert may_open(crew, by_call_sign)
    assert may_see(crew, same_call_other_unit)
    assert not may_see(crew, elsewhere)
    assert not may_open(crew, elsewhere)
    assert not may_see(crew, unnamed)
    assert may_see(dispatch, elsewhere)
    assert may_open(dispatch, elsewhere)


def test_a_crew_whose_unit_is_unknown_sees_nothing() -> None:
    lost = CrewScope(units=frozenset(), incident_id=None)
    assert not lost.covers(_handoff(unit_id=None, incident_id="inc-1"))
    assert not lost.covers_new(incident_id="inc-1", unit_id=None)


def test_a_crew_writes_only_for_its_current_call_as_its_unit() -> None:
    assert SCOPE.covers_new(incident_id="inc-1", unit_id="MC-1")
    assert SCOPE.covers_new(incident_id="inc-1", unit_id=None)
    assert not SCOPE.covers_new(incident_id="inc-1", unit_id="MC-2")
    assert not SCOPE.covers_new(incident_id="inc-2", unit_id="MC-1")


async def test_only_roles_that_read_every_call_follow_the_handoff_board() -> None:
    assert unit_scoped(_principal(Role.CREW))
    assert not unit_scoped(_principal(Role.PARAMEDIC))
    assert not await may_follow_handoffs(_principal(Role.CREW), None)
    assert await may_follow_handoffs(_principal(Role.PARAMEDIC), None)
    assert await may_follow_handoffs(_principal(Role.DISPATCHER), None)
