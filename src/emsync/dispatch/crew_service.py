"""The crew view's use cases (issue #23): a crew member's account belongs to a unit (auth's
`users.unit_id`, on the principal) and sees and moves only that unit and its incident."""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync import incidents
from emsync.core.crypto import Keyring
from emsync.core.errors import DomainError, NotFound
from emsync.dispatch import map_layers
from emsync.dispatch.lifecycle import UnitStatus
from emsync.dispatch.models import Unit
from emsync.dispatch.schemas import (
    CrewAssignment,
    CrewIncident,
    CrewPatient,
    CrewRoute,
)
from emsync.dispatch.service import load_unit, unit_read
from emsync.routing import RoutingEngine

# Heading to hospital once transporting; to the scene before.
_TO_HOSPITAL = frozenset({UnitStatus.TRANSPORTING, UnitStatus.AT_HOSPITAL})


class NoUnit(NotFound):
    title = "No unit"
    type_slug = "no-unit"


def crew_unit_id(unit_id: str | None) -> str:
    """The crew member's unit (the account's, set by an administrator), or NoUnit."""
    if unit_id is None:
        raise NoUnit("your account belongs to no unit: an administrator sets it (users: unit_id)")
    return unit_id


async def assignment(
    *, session: AsyncSession, keyring: Keyring, engine: RoutingEngine | None, unit_id: str | None
) -> CrewAssignment:
    """The crew's unit, its incident and the road route to where it is heading."""
    unit = await load_unit(session, crew_unit_id(unit_id))
    read = unit_read(unit)
    if unit.incident_id is None:
        return CrewAssignment(unit=read, incident=None, route=None)
    incident = await incidents.get_incident(
        session=session, keyring=keyring, incident_id=unit.incident_id
    )
    crew_incident = CrewIncident(
        id=incident.id,
        number=incident.number,
        status=incident.status.value,
        priority=incident.priority,
        chief_complaint=incident.chief_complaint,
        address=incident.address,
        lat=incident.lat,
        lon=incident.lon,
        patients=[
            CrewPatient(
                id=p.id,
                label=p.label,
                name=p.name,
                age_years=p.age_years,
                sex=p.sex,
                acuity=p.acuity,
            )
            for p in incident.patients
        ],
    )
    if engine is None:
        return CrewAssignment(
            unit=read, incident=crew_incident, route=None, route_problem="no road map is loaded"
        )
    try:
        route = await _route(session, engine, unit)
    except DomainError as exc:  # no coordinates, off the map: the crew still sees the call
        return CrewAssignment(
            unit=read, incident=crew_incident, route=None, route_problem=exc.detail
        )
    return CrewAssignment(unit=read, incident=crew_incident, route=route)


async def _route(session: AsyncSession, engine: RoutingEngine, unit: Unit) -> CrewRoute:
    origin = await map_layers.unit_origin(session=session, unit_id=unit.id)
    to: Literal["incident", "hospital"] = "incident"
    if UnitStatus(unit.status) in _TO_HOSPITAL and unit.hospital_id is not None:
        target = await map_layers.hospital_position(session=session, hospital_id=unit.hospital_id)
        to = "hospital"
    else:
        assert unit.incident_id is not None
        target = await map_layers.incident_position(session=session, incident_id=unit.incident_id)
    found = engine.route(origin, target)
    return CrewRoute(
        to=to,
        eta_s=round(found.eta_s, 1),
        distance_m=round(found.distance_m, 1),
        geometry=found.geojson()["geometry"],
    )


async def units_on(*, session: AsyncSession, incident_id: str) -> list[str]:
    """The units committed to an incident (their crews' assignments show it)."""
    rows = await session.scalars(select(Unit.id).where(Unit.incident_id == incident_id))
    return sorted(rows)
