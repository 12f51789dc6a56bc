"""Emergency's reactions to other domains' events: incidents and ambulances enter the one
search index. Each is a typed function of the event's class; bootstrap registers them.

The incident's personal fields (caller name, callback number, notes) are not indexed: search
finds a call by its number, complaint, address and status.
"""

from __future__ import annotations

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


async def index_incident(runtime: Runtime, event: IncidentEvent) -> None:
    """IncidentCreated / IncidentUpdated / IncidentStatusChanged -> the incident's entry."""
    await _index_incident(runtime, event.incident_id)


async def index_unit(runtime: Runtime, event: UnitEvent) -> None:
    """UnitCreated / UnitUpdated / UnitStatusChanged -> the ambulance's entry."""
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
