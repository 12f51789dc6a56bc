"""The incident status lifecycle as a readable table (pure)."""

from __future__ import annotations

from enum import StrEnum

from emsync.core.errors import InvalidTransition


class IncidentStatus(StrEnum):
    NEW = "new"
    TRIAGED = "triaged"
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    AT_HOSPITAL = "at_hospital"
    CLOSED = "closed"
    CANCELLED = "cancelled"


S = IncidentStatus

# Forward along the call's course. Two skips real dispatch centres need: sending a unit before
# formal triage (new → dispatched), and treating on scene without transport (on_scene → closed).
# Any open incident may be cancelled; closed and cancelled are final.
TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    S.NEW: frozenset({S.TRIAGED, S.DISPATCHED, S.CANCELLED}),
    S.TRIAGED: frozenset({S.DISPATCHED, S.CANCELLED}),
    S.DISPATCHED: frozenset({S.ON_SCENE, S.CANCELLED}),
    S.ON_SCENE: frozenset({S.TRANSPORTING, S.CLOSED, S.CANCELLED}),
    S.TRANSPORTING: frozenset({S.AT_HOSPITAL, S.CANCELLED}),
    S.AT_HOSPITAL: frozenset({S.CLOSED, S.CANCELLED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}

OPEN_STATUSES = frozenset(s for s, nxt in TRANSITIONS.items() if nxt)


def can_move(current: IncidentStatus, target: IncidentStatus) -> bool:
    return target in TRANSITIONS[current]


def next_status(current: IncidentStatus, target: IncidentStatus) -> IncidentStatus:
    """`target` if the lifecycle allows it, else InvalidTransition naming what is allowed."""
    if not can_move(current, target):
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "none (final)"
        raise InvalidTransition(
            f"an incident cannot move from {current.value!r} to {target.value!r}; "
            f"allowed from {current.value!r}: {allowed}",
            current=current.value,
            requested=target.value,
        )
    return target
