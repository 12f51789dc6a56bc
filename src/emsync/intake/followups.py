"""What a clinician does for a session beside its workflow: file a device's report on the
patient's chart, and book a follow-up appointment. Both reuse the records the agents write (the
registry's device reports, the scheduling slots and bookings), so a report or a booking made
here and one made by an agent are the same kind of row, shown in the same places."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.crypto import Keyring
from emsync.core.errors import Conflict
from emsync.core.uow import UnitOfWork
from emsync.intake import schemas
from emsync.intake.agents import arrival
from emsync.intake.records import scheduling
from emsync.intake.records.schemas import BookingRead
from emsync.intake.service import get_session_row
from emsync.intake.steps import load_steps, open_json, payload_aad, result_aad
from emsync.registry.public import PersonIndex, chart, file_device_report

# How far ahead a follow-up is looked for (as the scheduling agent does).
HORIZON = timedelta(days=60)


async def session_person(*, session: AsyncSession, keyring: Keyring, session_id: str) -> str | None:
    """The registry person of a session: the admission step's match, else the one given in the
    session's input. NotFound when there is no such session."""
    row = await get_session_row(session=session, session_id=session_id)
    previous: dict[str, Any] = {}
    for step in await load_steps(session, session_id):
        if step.agent == "admission" and step.result_sealed is not None:
            result = open_json(keyring, step.result_sealed, aad=result_aad(session_id, step.agent))
            previous["admission"] = result["output"]
    payload = open_json(keyring, row.payload_sealed, aad=payload_aad(session_id))
    return arrival.person_id(previous, payload)


async def _person_or_conflict(session: AsyncSession, keyring: Keyring, session_id: str) -> str:
    person_id = await session_person(session=session, keyring=keyring, session_id=session_id)
    if person_id is None:
        raise Conflict(
            "this session has no registry person yet; wait for admission or register the patient"
        )
    return person_id


async def file_report(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    index: PersonIndex,
    device_id: str,
    body: schemas.DeviceReport,
    key: str,
    actor: str,
    now: datetime,
) -> schemas.DeviceReportRead:
    """The report on the chart of the session's person, once per key (a repeat with the same
    Idempotency-Key is a Conflict from the registry, not a second entry)."""
    person_id = await _person_or_conflict(uow.session, keyring, body.session_id)
    entry = await file_device_report(
        uow=uow,
        index=index,
        person_id=person_id,
        device_id=device_id,
        summary=body.summary,
        source_key=f"intake:{body.session_id}:device:{device_id}:{key}",
        actor=actor,
        now=now,
    )
    await uow.commit()
    return schemas.DeviceReportRead(
        id=entry.entry.id,
        session_id=body.session_id,
        person_id=person_id,
        device_id=device_id,
        summary=body.summary,
        filed_at=now,
    )


async def session_reports(
    *, session: AsyncSession, keyring: Keyring, index: PersonIndex, session_id: str
) -> list[schemas.DeviceReportRead]:
    """The device reports on the chart of the session's person (filed here or by the medical
    records agent), newest first; none before the person is known."""
    person_id = await session_person(session=session, keyring=keyring, session_id=session_id)
    if person_id is None:
        return []
    record = await chart(session=session, index=index, person_id=person_id)
    return [
        schemas.DeviceReportRead(
            id=e.id,
            session_id=session_id,
            person_id=person_id,
            device_id=str(getattr(e.content, "device_id", "")),
            summary=str(getattr(e.content, "summary", "")),
            filed_at=e.recorded_at,
        )
        for e in sorted(record.device_reports, key=lambda e: e.recorded_at, reverse=True)
    ]


async def schedule(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    body: schemas.AppointmentSchedule,
    key: str,
    actor: str,
    now: datetime,
) -> BookingRead:
    """The earliest free slot of the specialty (from `not_before`) booked for the session's
    person; a slot someone else takes meanwhile is skipped for the next. Conflict when none."""
    person_id = await _person_or_conflict(uow.session, keyring, body.session_id)
    start = max(now, body.not_before or now)
    free = await scheduling.open_slots(
        session=uow.session, specialty=body.specialty, start=start, end=start + HORIZON
    )
    for slot in free:
        try:
            return await scheduling.book(
                uow=uow,
                slot_id=slot.id,
                key=key,
                reason=body.reason,
                person_id=person_id,
                session_id=body.session_id,
                actor=actor,
                now=now,
            )
        except scheduling.SlotTaken:
            continue
    raise scheduling.SlotTaken(
        f"no free {body.specialty} slot in the {HORIZON.days} days from {start.date()}"
    )
