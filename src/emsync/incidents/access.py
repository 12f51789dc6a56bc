"""Who reads which incidents, REST and WebSocket alike: hospital staff only those coming to
their hospital (service.Scope), a crew only its own unit's call (through /api/crew), everyone
else with incidents:read all of them. One place, so a push never reaches a subscriber who
could not GET what it carries."""

from __future__ import annotations

from emsync.auth.permissions import Perm, Role
from emsync.auth.principal import Principal
from emsync.incidents.service import Scope

CHANNEL = "incidents"  # every incident; "incidents:hospital:<id>", "incidents:unit:<id>" scoped
# Hospital staff: need to know (service.Scope). Everyone else with incidents:read sees all.
_HOSPITAL_STAFF = frozenset({Role.CLINICIAN, Role.HOSPITAL_COORDINATOR})


def scope_of(principal: Principal) -> Scope | None:
    if principal.role in _HOSPITAL_STAFF:
        return Scope(hospital_id=principal.hospital_id)
    return None


def hospital_channel(hospital_id: str) -> str:
    """The incidents coming to one hospital, as its staff read them (no caller)."""
    return f"{CHANNEL}:hospital:{hospital_id}"


def unit_channel(unit_id: str) -> str:
    """One unit's assignment, as its crew reads it (GET /api/crew/assignment)."""
    return f"{CHANNEL}:unit:{unit_id}"


async def may_follow_incidents(principal: Principal, arg: str | None) -> bool:
    """ "incidents": readers without a need-to-know scope; "incidents:hospital:<id>": that
    hospital's staff (or an unscoped reader); "incidents:unit:<id>": that unit's crew
    (crew:unit and the account's unit)."""
    kind, _, target = (arg or "").partition(":")
    if arg is None:
        return principal.can(Perm.INCIDENTS_READ) and scope_of(principal) is None
    if kind == "hospital" and target:
        scope = scope_of(principal)
        allowed = scope is None or scope.hospital_id == target
        return principal.can(Perm.INCIDENTS_READ) and allowed
    if kind == "unit" and target:
        return principal.can(Perm.CREW_UNIT) and principal.unit_id == target
    return False
