"""Incidents' reactions: where each incident's patients are going, from dispatch's and handoffs'
events (hospital staff read an incident only while a patient of it is coming to them), and each
changed incident pushed live as GET /api/incidents/{id} returns it to each audience."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Insert, Table, bindparam, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.db import dialect_insert, execute_held_back
from emsync.core.errors import NotFound
from emsync.core.events import Event
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


_UPSERTS: dict[str, Insert] = {}


def _upsert_destination(dialect: str) -> Insert:
    """One statement: the destination, inserted or replaced, if this hub holds the incident (a
    handoff may name an incident id it does not); it was three (the whole incident row read,
    the destination row read, then the write). Built once per dialect: building it cost more
    than running it."""
    statement = _UPSERTS.get(dialect)
    if statement is None:
        table = cast(Table, IncidentDestination.__table__)
        row = select(
            bindparam("incident_id", type_=table.c.incident_id.type),
            bindparam("source", type_=table.c.source.type),
            bindparam("hospital_id", type_=table.c.hospital_id.type),
            bindparam("at", type_=table.c.at.type),
        ).where(exists().where(Incident.id == bindparam("incident_id")))
        upsert = dialect_insert(dialect)(table).from_select(
            ["incident_id", "source", "hospital_id", "at"], row
        )
        statement = _UPSERTS[dialect] = upsert.on_conflict_do_update(
            index_elements=["incident_id", "source"],
            set_={"hospital_id": upsert.excluded.hospital_id, "at": upsert.excluded.at},
        )
    return statement


async def _upsert(
    session: AsyncSession, incident_id: str, source: str, hospital_id: str, at: datetime
) -> None:
    # On the session's connection (a Core statement needs none of the ORM's execution), held
    # back on SQLite to go with the transaction's next statement or its commit: nothing reads
    # its outcome, and a handoff's create and send each paid a crossing to SQLite's thread for
    # it (issue #16). A failure still fails the transaction it is in.
    conn = await session.connection()
    await execute_held_back(
        conn,
        _upsert_destination(conn.dialect.name),
        {"incident_id": incident_id, "source": source, "hospital_id": hospital_id, "at": at},
    )


async def _record(runtime: Runtime, incident_id: str, source: str, hospital_id: str) -> None:
    async with runtime.sessions() as session, session.begin():
        await _upsert(session, incident_id, source, hospital_id, runtime.clock())


async def destination_of_unit(runtime: Runtime, event: DestinationChosen) -> None:
    """A unit takes its patient to a hospital (replacing where that unit was going before)."""
    if event.incident_id is not None:
        await _record(runtime, event.incident_id, f"unit:{event.unit_id}", event.hospital_id)


async def destination_of_handoff(
    runtime: Runtime, session: AsyncSession, event: HandoffEvent
) -> Sequence[Event]:
    """A handoff drafted, sent or redirected to a hospital: recorded in the handoff's own
    transaction, so its hospital may open the incident the moment it is told of the handoff.

    With its cause, without a savepoint of its own (`isolated=False` in the reaction table):
    the handoff commits with its destination or not at all. A failure fails the handoff's change
    (the crew sees the error and sends again) rather than leaving a hospital told of a handoff
    whose incident it may not open, or, for a cancelled one, a scope it should have lost."""
    source = f"handoff:{event.handoff_id}"
    await _upsert(session, event.incident_id, source, event.hospital_id, runtime.clock())
    return ()


async def destination_of_changed_handoff(
    runtime: Runtime, session: AsyncSession, event: HandoffStatusChanged
) -> Sequence[Event]:
    """Any other status change keeps the destination; a cancelled handoff goes nowhere."""
    source = f"handoff:{event.handoff_id}"
    if event.new == "cancelled":
        await session.execute(
            delete(IncidentDestination).where(
                IncidentDestination.incident_id == event.incident_id,
                IncidentDestination.source == source,
            )
        )
        return ()
    return await destination_of_handoff(runtime, session, event)


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
