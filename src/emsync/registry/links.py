"""Links between a person and other domains' records. An incident's patient is linked by a
person (crew, dispatcher, clinician); what follows from that patient (its handoffs, device
bindings, triage results) is linked by the registry's reactions to those domains' events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.crypto import Keyring
from emsync.core.errors import Conflict, NotFound
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.incidents import get_patient
from emsync.registry import merging
from emsync.registry.events import PersonLinked
from emsync.registry.models import Person, PersonLink
from emsync.registry.schemas import LinkRead


def link_read(link: PersonLink) -> LinkRead:
    return LinkRead.model_validate(link, from_attributes=True)


async def link_patient(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    person_id: str,
    patient_id: str,
    incident_id: str,
    actor: str,
    now: datetime,
) -> tuple[LinkRead, bool]:
    """This incident patient is this person (uncommitted); true if the link is new."""
    session = uow.session
    person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(f"person {person_id} does not exist")
    survivor = await merging.survivor_of(session, person_id)
    patient = await get_patient(session=session, keyring=keyring, patient_id=patient_id)
    if patient.incident_id != incident_id:
        raise NotFound(f"patient {patient_id} is not a patient of incident {incident_id}")
    existing = await session.scalar(
        select(PersonLink).where(
            PersonLink.kind == "incident_patient", PersonLink.ref_id == patient_id
        )
    )
    if existing is not None:
        if await merging.survivor_of(session, existing.person_id) == survivor:
            return link_read(existing), False
        raise Conflict(f"patient {patient_id} is already linked to another person")
    link = PersonLink(
        id=new_id(),
        person_id=survivor,
        kind="incident_patient",
        ref_id=patient_id,
        via_patient_id=patient_id,
        incident_id=incident_id,
        method="manual",
        linked_by=actor,
        linked_at=now,
    )
    session.add(link)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"patient {patient_id} was linked meanwhile") from exc
    uow.record(
        PersonLinked(
            person_id=survivor,
            kind="incident_patient",
            ref_id=patient_id,
            method="manual",
            actor=actor,
        )
    )
    return link_read(link), True


async def link_of_patient(session: AsyncSession, patient_id: str) -> LinkRead | None:
    link = await session.scalar(
        select(PersonLink).where(
            PersonLink.kind == "incident_patient", PersonLink.ref_id == patient_id
        )
    )
    return None if link is None else link_read(link)


async def person_of_patient(session: AsyncSession, patient_id: str) -> str | None:
    """The (current) person an incident patient is linked to, if any."""
    owner = await session.scalar(
        select(PersonLink.person_id).where(
            PersonLink.kind == "incident_patient", PersonLink.ref_id == patient_id
        )
    )
    return None if owner is None else await merging.survivor_of(session, owner)


# Built once: every handoff sent asks it in its own transaction (registry.handlers.
# handoff_link_due), and building it per call cost more than running it (issue #16).
_PERSONS_OF_INCIDENT = select(PersonLink.person_id).where(
    PersonLink.kind == "incident_patient", PersonLink.incident_id == bindparam("incident_id")
)


async def persons_of_incident(session: AsyncSession, incident_id: str) -> set[str]:
    owners = await session.scalars(_PERSONS_OF_INCIDENT, {"incident_id": incident_id})
    return {await merging.survivor_of(session, o) for o in owners}


async def follow(
    *,
    uow: UnitOfWork,
    person_id: str,
    kind: str,
    ref_id: str,
    patient_id: str | None,
    incident_id: str | None,
    actor: str,
    now: datetime,
) -> bool:
    """Link a record that follows from a linked patient; false if it was linked already (a
    redelivered event changes nothing)."""
    session = uow.session
    known = await session.scalar(
        select(PersonLink.id).where(PersonLink.kind == kind, PersonLink.ref_id == ref_id)
    )
    if known is not None:
        return False
    session.add(
        PersonLink(
            id=new_id(),
            person_id=person_id,
            kind=kind,
            ref_id=ref_id,
            via_patient_id=patient_id,
            incident_id=incident_id,
            method="follow",
            linked_by=actor,
            linked_at=now,
        )
    )
    uow.record(
        PersonLinked(person_id=person_id, kind=kind, ref_id=ref_id, method="follow", actor=actor)
    )
    return True


async def links_of(*, session: AsyncSession, person_ids: list[str]) -> list[LinkRead]:
    rows = await session.scalars(
        select(PersonLink)
        .where(PersonLink.person_id.in_(person_ids))
        .order_by(PersonLink.linked_at, PersonLink.id)
    )
    return [link_read(r) for r in rows]
