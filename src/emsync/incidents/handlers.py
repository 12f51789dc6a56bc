"""Incidents' reactions: where each incident's patients are going, from dispatch's and handoffs'
events (hospital staff read an incident only while a patient of it is coming to them), and each
changed incident pushed live as GET /api/incidents/{id} returns it to each audience."""

from __future__ import annotations

from sqlalchemy import delete, select

from emsync.core.errors import NotFound
from emsync.core.realtime import Hub
from emsync.core.runtime import Runtime
from emsync.dispatch.events import DestinationChosen
from emsync.handoffs.events import HandoffEvent, HandoffStatusChanged
from emsync.incidents import access, service
from emsync.incidents.events import (
    IncidentCreated,
    IncidentStatusChanged,
    IncidentUpdated,
    PatientAdded,
)
from emsync.incidents.models import Incident, IncidentDestination

IncidentChange = (
    IncidentCreated | IncidentUpdated | IncidentStatusChanged | PatientAdded | DestinationChosen
)


async def _record(runtime: Runtime, incident_id: str, source: str, hospital_id: str) -> None:
    async with runtime.sessions() as session, session.begin():
        if await session.get(Incident, incident_id) is None:
            return  # a handoff may name an incident id this hub does not hold
        row = await session.get(IncidentDestination, (incident_id, source))
        if row is None:
            session.add(
                IncidentDestination(
                    incident_id=incident_id,
                    source=source,
                    hospital_id=hospital_id,
                    at=runtime.clock(),
                )
            )
        else:
            row.hospital_id = hospital_id
            row.at = runtime.clock()


async def _forget(runtime: Runtime, incident_id: str, source: str) -> None:
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            delete(IncidentDestination).where(
                IncidentDestination.incident_id == incident_id, IncidentDestination.source == source
            )
        )


async def destination_of_unit(runtime: Runtime, event: DestinationChosen) -> None:
    """A unit takes its patient to a hospital (replacing where that unit was going before)."""
    if event.incident_id is not None:
        await _record(runtime, event.incident_id, f"unit:{event.unit_id}", event.hospital_id)


async def destination_of_handoff(runtime: Runtime, event: HandoffEvent) -> None:
    """A handoff drafted, sent or redirected to a hospital."""
    await _record(runtime, event.incident_id, f"handoff:{event.handoff_id}", event.hospital_id)


async def destination_of_changed_handoff(runtime: Runtime, event: HandoffStatusChanged) -> None:
    """Any other status change keeps the destination; a cancelled handoff goes nowhere."""
    source = f"handoff:{event.handoff_id}"
    if event.new == "cancelled":
        await _forget(runtime, event.incident_id, source)
        return
    await _record(runtime, event.incident_id, source, event.hospital_id)


async def destinations(*, runtime: Runtime, incident_id: str) -> list[str]:
    """The hospitals a patient of the incident is coming to (for tests and views)."""
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(IncidentDestination.hospital_id).where(
                IncidentDestination.incident_id == incident_id
            )
        )
        return sorted(set(rows))


async def push_incident(runtime: Runtime, event: IncidentChange) -> None:
    """The incident as it now is (`IncidentRead`, message type "incident"): whole to
    `incidents`, and without the caller to `incidents:hospital:<id>` of each hospital a patient
    of it is coming to (read after `destination_of_unit` recorded a new one)."""
    hub = runtime.get(Hub)
    if event.incident_id is None or not hub.listened(access.CHANNEL, under=True):
        return
    async with runtime.sessions() as session:
        try:
            read = await service.get_incident(
                session=session, keyring=runtime.keyring, incident_id=event.incident_id
            )
        except NotFound:
            return
        hospitals = await session.scalars(
            select(IncidentDestination.hospital_id).where(
                IncidentDestination.incident_id == event.incident_id
            )
        )
        coming_to = sorted(set(hospitals))
    hub.publish(access.CHANNEL, "incident", read.model_dump(mode="json"))
    if coming_to:
        scoped = service.scoped_read(read).model_dump(mode="json")
        for hospital_id in coming_to:
            hub.publish(access.hospital_channel(hospital_id), "incident", scoped)
