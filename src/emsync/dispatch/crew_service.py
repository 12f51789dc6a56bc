"""The crew view's use cases (issue #23): a crew account signs on to a unit and then sees and
moves only that unit and the incident it is committed to."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync import incidents
from emsync.core.crypto import Keyring
from emsync.core.errors import DomainError, NotFound
from emsync.core.uow import UnitOfWork
from emsync.dispatch import map_layers
from emsync.dispatch.lifecycle import UnitStatus
from emsync.dispatch.models import CrewSignOn, Unit
from emsync.dispatch.schemas import (
    CrewAssignment,
    CrewIncident,
    CrewPatient,
    CrewRoute,
    CrewUnitChoice,
)
from emsync.dispatch.service import list_units, load_unit, unit_read
from emsync.routing import RoutingEngine

# Heading to hospital once transporting; to the scene before.
_TO_HOSPITAL = frozenset({UnitStatus.TRANSPORTING, UnitStatus.AT_HOSPITAL})


class NotSignedOn(NotFound):
    title = "Not signed on"
    type_slug = "not-signed-on"


async def unit_choices(*, session: AsyncSession) -> list[CrewUnitChoice]:
    return [
        CrewUnitChoice(
            id=u.id,
            call_sign=u.call_sign,
            unit_type=u.unit_type,
            station_name=u.station_name,
            status=UnitStatus(u.status),
        )
        for u in await list_units(session=session, statuses=())
    ]


async def sign_on(*, uow: UnitOfWork, user_id: str, unit_id: str, now: datetime) -> Unit:
    """Sign the account on to the unit (a new sign-on replaces the old one)."""
    unit = await load_unit(uow.session, unit_id)
    row = await uow.session.get(CrewSignOn, user_id)
    if row is None:
        uow.session.add(CrewSignOn(user_id=user_id, unit_id=unit.id, signed_on_at=now))
    else:
        row.unit_id, row.signed_on_at = unit.id, now
    await uow.commit()
    return unit


async def sign_off(*, uow: UnitOfWork, user_id: str) -> None:
    row = await uow.session.get(CrewSignOn, user_id)
    if row is not None:
        await uow.session.delete(row)
        await uow.commit()


async def crew_unit_id(*, session: AsyncSession, user_id: str) -> str:
    """The unit this account is signed on to, or NotSignedOn."""
    unit_id = await session.scalar(select(CrewSignOn.unit_id).where(CrewSignOn.user_id == user_id))
    if unit_id is None:
        raise NotSignedOn("you are not signed on to a unit: PUT /api/crew/sign-on first")
    return unit_id


async def assignment(
    *, session: AsyncSession, keyring: Keyring, engine: RoutingEngine | None, user_id: str
) -> CrewAssignment:
    """The crew's unit, its incident and the road route to where it is heading."""
    unit = await load_unit(session, await crew_unit_id(session=session, user_id=user_id))
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
