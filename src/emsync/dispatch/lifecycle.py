"""The unit (ambulance) status lifecycle as a readable table (pure)."""

from __future__ import annotations

from enum import StrEnum

from emsync.core.errors import InvalidTransition


class UnitStatus(StrEnum):
    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    AT_HOSPITAL = "at_hospital"
    OUT_OF_SERVICE = "out_of_service"


S = UnitStatus

# Forward along a call; three stand-downs real crews need: a dispatched or en-route unit is
# released when the call is cancelled or another unit takes it, and a crew that treats on scene
# without transport is free again. Out of service is entered and left only from available, so a
# unit never vanishes from a patient it is committed to.
TRANSITIONS: dict[UnitStatus, frozenset[UnitStatus]] = {
    S.AVAILABLE: frozenset({S.DISPATCHED, S.OUT_OF_SERVICE}),
    S.DISPATCHED: frozenset({S.EN_ROUTE, S.AVAILABLE}),
    S.EN_ROUTE: frozenset({S.ON_SCENE, S.AVAILABLE}),
    S.ON_SCENE: frozenset({S.TRANSPORTING, S.AVAILABLE}),
    S.TRANSPORTING: frozenset({S.AT_HOSPITAL}),
    S.AT_HOSPITAL: frozenset({S.AVAILABLE}),
    S.OUT_OF_SERVICE: frozenset({S.AVAILABLE}),
}

# Statuses in which a unit is committed to an incident.
COMMITTED = frozenset({S.DISPATCHED, S.EN_ROUTE, S.ON_SCENE, S.TRANSPORTING, S.AT_HOSPITAL})


def can_move(current: UnitStatus, target: UnitStatus) -> bool:
    return target in TRANSITIONS[current]


def next_status(current: UnitStatus, target: UnitStatus) -> UnitStatus:
    """`target` if the lifecycle allows it, else InvalidTransition naming what is allowed."""
    if not can_move(current, target):
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current]))
        raise InvalidTransition(
            f"a unit cannot move from {current.value!r} to {target.value!r}; "
            f"allowed from {current.value!r}: {allowed}",
            current=current.value,
            requested=target.value,
        )
    return target
