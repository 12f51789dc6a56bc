"""The registry's reactions to other domains' events: what follows from a linked incident
patient (its triage results, device bindings and handoffs) is linked to the same person.

Each reaction is a typed function of the event's class, built with what it needs; the
composition root subscribes them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from emsync.core.runtime import Runtime
from emsync.core.uow import UnitOfWork
from emsync.handoffs.events import HandoffSent
from emsync.registry import links
from emsync.telemetry.events import DeviceChanged
from emsync.triage.events import PatientTriaged

_ACTOR = "system:registry"


def link_triage(runtime: Runtime) -> Callable[[PatientTriaged], Awaitable[None]]:
    """A triage result of a linked patient shows on the person's chart."""

    async def react(event: PatientTriaged) -> None:
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

    return react


def link_device_binding(runtime: Runtime) -> Callable[[DeviceChanged], Awaitable[None]]:
    """A monitor bound to a linked patient: its vitals belong on the person's chart."""

    async def react(event: DeviceChanged) -> None:
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

    return react


def link_handoff(runtime: Runtime) -> Callable[[HandoffSent], Awaitable[None]]:
    """A handoff sent for an incident with exactly one linked person is that person's (an
    incident with several linked patients leaves the handoff to be linked by hand)."""

    async def react(event: HandoffSent) -> None:
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

    return react
