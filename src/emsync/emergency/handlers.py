"""Emergency's reactions to other domains' events: incidents and ambulances enter the one
search index. Each is a typed function of the event's class; bootstrap registers them.

The incident's personal fields (caller name, callback number, notes) are not indexed: search
finds a call by its number, complaint, address and status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from emsync import dispatch, incidents
from emsync.core.errors import NotFound
from emsync.core.runtime import Runtime
from emsync.dispatch import UnitCreated, UnitStatusChanged, UnitUpdated
from emsync.emergency import search_service
from emsync.incidents import IncidentCreated, IncidentStatusChanged, IncidentUpdated

IncidentEvent = IncidentCreated | IncidentUpdated | IncidentStatusChanged
UnitEvent = UnitCreated | UnitUpdated | UnitStatusChanged


async def _index_incident(runtime: Runtime, incident_id: str) -> None:
    async with runtime.sessions() as session:
        try:
            incident = await incidents.get_incident(
                session=session, keyring=runtime.keyring, incident_id=incident_id
            )
        except NotFound:
            return
        await search_service.put(
            session,
            kind="incident",
            ref_id=incident.id,
            title=f"#{incident.number} {incident.chief_complaint}",
            body=f"{incident.address or ''} priority {incident.priority}",
            status=incident.status.value,
            now=runtime.clock(),
        )
        await session.commit()


def index_incident(runtime: Runtime) -> Callable[[IncidentEvent], Awaitable[None]]:
    """IncidentCreated / IncidentUpdated / IncidentStatusChanged -> the incident's entry."""

    async def react(event: IncidentEvent) -> None:
        await _index_incident(runtime, event.incident_id)

    return react


def index_unit(runtime: Runtime) -> Callable[[UnitEvent], Awaitable[None]]:
    """UnitCreated / UnitUpdated / UnitStatusChanged -> the ambulance's entry."""

    async def react(event: UnitEvent) -> None:
        async with runtime.sessions() as session:
            units = await dispatch.unit_summaries(session=session)
            unit = next((u for u in units if u.unit_id == event.unit_id), None)
            if unit is None:
                await search_service.drop(session, kind="unit", ref_id=event.unit_id)
            else:
                await search_service.put(
                    session,
                    kind="unit",
                    ref_id=unit.unit_id,
                    title=unit.call_sign,
                    body=f"ambulance {unit.unit_type} {unit.station_name or ''}",
                    status=unit.status,
                    now=runtime.clock(),
                )
            await session.commit()

    return react
