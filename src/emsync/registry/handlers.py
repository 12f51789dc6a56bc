"""The registry's reactions to events: what follows from a linked incident patient (its triage
results, device bindings and handoffs) is linked to the same person, and every view of a
person's record goes to the audit log.

Each reaction is a typed function of the runtime and the event's class; `bootstrap.REACTIONS`
registers them."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from emsync.auth.audit import AuditLog, AuditRecord
from emsync.core.events import Event
from emsync.core.runtime import Runtime
from emsync.core.uow import UnitOfWork
from emsync.handoffs.events import HandoffSent
from emsync.registry import links
from emsync.registry.events import ChartViewed, HandoffLinkDue
from emsync.telemetry.events import DeviceChanged
from emsync.triage.events import PatientTriaged

_ACTOR = "system:registry"


async def audit_chart_view(runtime: Runtime, event: ChartViewed) -> None:
    """Who looked at whose record (a read, so the request audit of changes does not see it)."""
    await runtime.get(AuditLog).append(
        AuditRecord(
            actor=event.actor,
            action="registry.chart_viewed",
            target=json.dumps({"person_id": event.person_id}),
            request_id=event.request_id,
            outcome="success",
        )
    )


async def link_triage(runtime: Runtime, event: PatientTriaged) -> None:
    """A triage result of a linked patient shows on the person's chart."""
    async with runtime.sessions() as session:
        person = await links.person_of_patient(session, event.patient_id)
        if person is None:
            return
        uow = UnitOfWork(session, runtime.bus)
        if await links.follow(
            uow=uow,
            person_id=person,
            kind="triage",
            ref_id=event.patient_id,
            patient_id=event.patient_id,
            incident_id=event.incident_id,
            actor=_ACTOR,
            now=runtime.clock(),
        ):
            await uow.commit()


async def link_device_binding(runtime: Runtime, event: DeviceChanged) -> None:
    """A monitor bound to a linked patient: its vitals belong on the person's chart."""
    if event.change != "bound" or event.patient_id is None:
        return
    async with runtime.sessions() as session:
        person = await links.person_of_patient(session, event.patient_id)
        if person is None:
            return
        uow = UnitOfWork(session, runtime.bus)
        if await links.follow(
            uow=uow,
            person_id=person,
            kind="device_binding",
            ref_id=f"{event.device_id}:{event.patient_id}",
            patient_id=event.patient_id,
            incident_id=None,
            actor=_ACTOR,
            now=runtime.clock(),
        ):
            await uow.commit()


async def handoff_link_due(
    runtime: Runtime, session: AsyncSession, event: HandoffSent
) -> Sequence[Event]:
    """In the send's transaction, a read only: is the incident's one linked person known? Most
    incidents have none, and finding that out here is one statement on the connection the send
    already holds; in a session of its own after the commit it was a transaction, a pool
    checkout and two hand-offs to SQLite's thread on every send (issue #16). Only a read, so it
    cannot fail a send that its own writes would not: the link itself is written after the
    commit, by `link_handoff`, where its failure is retried and dead-lettered, never the send's."""
    persons = await links.persons_of_incident(session, event.incident_id)
    if len(persons) != 1:
        return ()
    return (
        HandoffLinkDue(
            handoff_id=event.handoff_id, incident_id=event.incident_id, person_id=persons.pop()
        ),
    )


async def link_handoff(runtime: Runtime, event: HandoffLinkDue) -> None:
    """A handoff sent for an incident with exactly one linked person is that person's (an
    incident with several linked patients leaves the handoff to be linked by hand). Checked
    again here: a link made or a merge done since the send decides."""
    async with runtime.sessions() as session:
        persons = await links.persons_of_incident(session, event.incident_id)
        if len(persons) != 1:
            return
        uow = UnitOfWork(session, runtime.bus)
        if await links.follow(
            uow=uow,
            person_id=persons.pop(),
            kind="handoff",
            ref_id=event.handoff_id,
            patient_id=None,
            incident_id=event.incident_id,
            actor=_ACTOR,
            now=runtime.clock(),
        ):
            await uow.commit()
