"""Clinicians, their slots and bookings: keyword-only use cases.

No double booking: a booking claims its slot with a conditional UPDATE (`booking_id IS NULL`
in the WHERE clause), so of any number of bookings racing for one slot exactly one changes the
row; the others get 409. A booking carries its idempotency key (a retried request or a re-run
scheduling step returns the first booking instead of taking a second slot).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.errors import Conflict, NotFound, ValidationFailed
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.intake.records import calendar
from emsync.intake.records.models import Booking, Clinician, Slot
from emsync.intake.records.schemas import (
    AvailabilityCreate,
    BookingRead,
    ClinicianCreate,
    ClinicianRead,
    SlotRead,
)


class SlotTaken(Conflict):
    title = "Slot already booked"
    type_slug = "slot-taken"


def clinician_read(c: Clinician) -> ClinicianRead:
    return ClinicianRead(
        id=c.id,
        name=c.name,
        specialty=c.specialty,
        hospital_id=c.hospital_id,
        user_id=c.user_id,
        active=c.active,
        created_at=c.created_at,
    )


def slot_read(s: Slot, clinician: Clinician) -> SlotRead:
    return SlotRead(
        id=s.id,
        clinician_id=s.clinician_id,
        clinician_name=clinician.name,
        specialty=s.specialty,
        kind=s.kind,
        starts_at=s.starts_at,
        ends_at=s.ends_at,
        location=s.location,
        booked=s.booking_id is not None,
    )


async def create_clinician(
    *, uow: UnitOfWork, data: ClinicianCreate, now: datetime
) -> ClinicianRead:
    c = Clinician(id=new_id(), **data.model_dump(), active=True, created_at=now)
    uow.session.add(c)
    await uow.commit()
    return clinician_read(c)


async def list_clinicians(*, session: AsyncSession, specialty: str | None) -> list[ClinicianRead]:
    query = select(Clinician).where(Clinician.active.is_(True)).order_by(Clinician.name)
    if specialty is not None:
        query = query.where(Clinician.specialty == specialty)
    return [clinician_read(c) for c in await session.scalars(query)]


async def _clinician(session: AsyncSession, clinician_id: str) -> Clinician:
    c = await session.get(Clinician, clinician_id)
    if c is None or not c.active:
        raise NotFound(f"no clinician {clinician_id}")
    return c


async def add_availability(
    *, uow: UnitOfWork, clinician_id: str, data: AvailabilityCreate
) -> list[SlotRead]:
    """Cut the window into slots; a slot the clinician already has at that time is a conflict
    (nothing of the window is stored)."""
    c = await _clinician(uow.session, clinician_id)
    try:
        times = calendar.cut_slots(data.starts_at, data.ends_at, data.slot_minutes)
    except ValueError as exc:
        raise ValidationFailed(
            str(exc), errors=[{"field": "ends_at", "message": str(exc)}]
        ) from None
    slots = [
        Slot(
            id=new_id(),
            clinician_id=c.id,
            kind=data.kind,
            specialty=c.specialty,
            starts_at=t.starts_at,
            ends_at=t.ends_at,
            location=data.location,
        )
        for t in times
    ]
    uow.session.add_all(slots)
    try:
        await uow.commit()
    except IntegrityError:
        await uow.rollback()
        raise Conflict("the clinician already has slots in that window") from None
    return [slot_read(s, c) for s in slots]


async def open_slots(
    *,
    session: AsyncSession,
    specialty: str | None,
    start: datetime,
    end: datetime,
    limit: int = 200,
) -> list[SlotRead]:
    query = (
        select(Slot, Clinician)
        .join(Clinician, Clinician.id == Slot.clinician_id)
        .where(
            Slot.booking_id.is_(None),
            Slot.starts_at >= start,
            Slot.starts_at < end,
            Clinician.active.is_(True),
        )
        .order_by(Slot.starts_at, Clinician.name)
        .limit(limit)
    )
    if specialty is not None:
        query = query.where(Slot.specialty == specialty)
    return [slot_read(s, c) for s, c in (await session.execute(query)).all()]


async def booking_for_key(session: AsyncSession, key: str) -> Booking | None:
    return await session.scalar(select(Booking).where(Booking.idempotency_key == key))


async def booking_read(session: AsyncSession, b: Booking) -> BookingRead:
    slot = await session.get(Slot, b.slot_id)
    assert slot is not None
    clinician = await session.get(Clinician, slot.clinician_id)
    assert clinician is not None
    return BookingRead(
        id=b.id,
        slot=slot_read(slot, clinician),
        session_id=b.session_id,
        person_id=b.person_id,
        reason=b.reason,
        booked_by=b.booked_by,
        booked_at=b.booked_at,
        cancelled_at=b.cancelled_at,
    )


async def claim_slot(
    *,
    session: AsyncSession,
    slot_id: str,
    key: str,
    reason: str,
    person_id: str | None,
    session_id: str | None,
    actor: str,
    now: datetime,
) -> Booking | None:
    """Book `slot_id` in the caller's transaction (not committed); None if it is taken."""
    booking = Booking(
        id=new_id(),
        idempotency_key=key,
        slot_id=slot_id,
        session_id=session_id,
        person_id=person_id,
        reason=reason,
        booked_by=actor,
        booked_at=now,
    )
    claimed = await session.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.booking_id.is_(None), Slot.starts_at > now)
        .values(booking_id=booking.id)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.add(booking)
    await session.flush()
    return booking


async def book(
    *,
    uow: UnitOfWork,
    slot_id: str,
    key: str,
    reason: str,
    person_id: str | None,
    session_id: str | None,
    actor: str,
    now: datetime,
) -> BookingRead:
    """Book a slot; the same idempotency key again returns the first booking."""
    existing = await booking_for_key(uow.session, key)
    if existing is not None:
        return await booking_read(uow.session, existing)
    if await uow.session.get(Slot, slot_id) is None:
        raise NotFound(f"no slot {slot_id}")
    try:
        booking = await claim_slot(
            session=uow.session,
            slot_id=slot_id,
            key=key,
            reason=reason,
            person_id=person_id,
            session_id=session_id,
            actor=actor,
            now=now,
        )
        if booking is None:
            await uow.rollback()
            raise SlotTaken(f"slot {slot_id} is booked or past")
        await uow.commit()
    except IntegrityError:
        await uow.rollback()
        booking = await booking_for_key(uow.session, key)
        if booking is None:
            raise SlotTaken(f"slot {slot_id} was booked meanwhile") from None
    return await booking_read(uow.session, booking)


async def get_booking(*, session: AsyncSession, booking_id: str) -> BookingRead:
    b = await session.get(Booking, booking_id)
    if b is None:
        raise NotFound(f"no booking {booking_id}")
    return await booking_read(session, b)


async def list_bookings(
    *, session: AsyncSession, session_id: str | None, clinician_id: str | None
) -> list[BookingRead]:
    query = select(Booking).join(Slot, Slot.id == Booking.slot_id).order_by(Slot.starts_at)
    if session_id is not None:
        query = query.where(Booking.session_id == session_id)
    if clinician_id is not None:
        query = query.where(Slot.clinician_id == clinician_id)
    return [await booking_read(session, b) for b in await session.scalars(query.limit(500))]


async def cancel_booking(*, uow: UnitOfWork, booking_id: str, now: datetime) -> BookingRead:
    """Cancel and free the slot for someone else (the booking stays, marked cancelled)."""
    b = await uow.session.get(Booking, booking_id)
    if b is None:
        raise NotFound(f"no booking {booking_id}")
    if b.cancelled_at is not None:
        raise Conflict("the booking is cancelled already")
    b.cancelled_at = now
    await uow.session.execute(
        update(Slot).where(Slot.id == b.slot_id, Slot.booking_id == b.id).values(booking_id=None)
    )
    await uow.commit()
    return await booking_read(uow.session, b)


def as_appointments(bookings: list[BookingRead]) -> list[calendar.Appointment]:
    return [
        calendar.Appointment(
            booking_id=b.id,
            starts_at=b.slot.starts_at,
            ends_at=b.slot.ends_at,
            summary=f"{b.slot.specialty.replace('_', ' ').capitalize()} appointment",
            clinician_name=b.slot.clinician_name,
            location=b.slot.location,
            booked_at=b.booked_at,
            cancelled=b.cancelled_at is not None,
        )
        for b in bookings
    ]
