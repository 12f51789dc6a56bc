"""Bed board and the step-effect ledger: keyword-only use cases on a unit of work.

A bed is assigned by a conditional UPDATE (`status = 'available'` in the WHERE clause): of two
admissions racing for the last bed only one changes the row, on SQLite and PostgreSQL alike,
and the partial unique index on open assignments backs it. Every assignment carries its
step's idempotency key, so an admission re-run after a crash finds its bed instead of taking a
second one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.errors import Conflict, InvalidTransition, NotFound
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.intake.records import beds
from emsync.intake.records.models import Bed, BedAssignment, StepEffect
from emsync.intake.records.schemas import BedBoard, BedCreate, BedMove, BedRead, Occupant


class NoBedAvailable(Conflict):
    title = "No bed available"
    type_slug = "no-bed-available"


def _occupant(a: BedAssignment | None) -> Occupant | None:
    if a is None:
        return None
    return Occupant(
        assignment_id=a.id,
        session_id=a.session_id,
        person_id=a.person_id,
        acuity=a.acuity,
        assigned_at=a.assigned_at,
    )


def bed_read(bed: Bed, assignment: BedAssignment | None = None) -> BedRead:
    return BedRead(
        id=bed.id,
        hospital_id=bed.hospital_id,
        zone=bed.zone,
        label=bed.label,
        status=bed.status,
        monitored=bed.monitored,
        version=bed.version,
        updated_at=bed.updated_at,
        occupant=_occupant(assignment),
    )


async def _open_assignments(session: AsyncSession, bed_ids: list[str]) -> dict[str, BedAssignment]:
    if not bed_ids:
        return {}
    rows = await session.scalars(
        select(BedAssignment).where(
            BedAssignment.bed_id.in_(bed_ids), BedAssignment.released_at.is_(None)
        )
    )
    return {a.bed_id: a for a in rows}


async def board(*, session: AsyncSession, hospital_id: str) -> BedBoard:
    rows = list(
        await session.scalars(
            select(Bed).where(Bed.hospital_id == hospital_id).order_by(Bed.zone, Bed.label)
        )
    )
    open_ = await _open_assignments(session, [b.id for b in rows])
    free: dict[str, int] = {}
    for b in rows:
        free.setdefault(b.zone, 0)
        free[b.zone] += b.status == "available"
    return BedBoard(
        hospital_id=hospital_id,
        beds=[bed_read(b, open_.get(b.id)) for b in rows],
        available_by_zone=free,
        available=sum(free.values()),
    )


async def create_bed(*, uow: UnitOfWork, data: BedCreate, now: datetime) -> BedRead:
    bed = Bed(
        id=new_id(),
        hospital_id=data.hospital_id,
        zone=data.zone,
        label=data.label,
        status="available",
        monitored=data.monitored,
        version=1,
        updated_at=now,
    )
    uow.session.add(bed)
    try:
        await uow.commit()
    except IntegrityError:
        await uow.rollback()
        raise Conflict(f"bed {data.label!r} exists at hospital {data.hospital_id}") from None
    return bed_read(bed)


async def _bed(session: AsyncSession, bed_id: str) -> Bed:
    bed = await session.get(Bed, bed_id)
    if bed is None:
        raise NotFound(f"no bed {bed_id}")
    return bed


async def hospital_of_bed(*, session: AsyncSession, bed_id: str) -> str:
    """The hospital whose board holds the bed (NotFound when there is no such bed)."""
    return (await _bed(session, bed_id)).hospital_id


async def move_bed(*, uow: UnitOfWork, bed_id: str, data: BedMove, now: datetime) -> BedRead:
    """A status change by a person: only the board's moves, never into or out of `occupied`
    (assigning and releasing do that, with their patient)."""
    bed = await _bed(uow.session, bed_id)
    if "occupied" in (bed.status, data.status) or not beds.can_move(bed.status, data.status):
        raise InvalidTransition(f"a bed cannot go from {bed.status} to {data.status} here")
    result = await uow.session.execute(
        update(Bed)
        .where(Bed.id == bed_id, Bed.version == data.version)
        .values(status=data.status, version=Bed.version + 1, updated_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await uow.rollback()
        raise Conflict(f"bed {bed_id} changed since version {data.version}; read it again")
    await uow.commit()
    await uow.session.refresh(bed)
    return bed_read(bed)


async def delete_bed(*, uow: UnitOfWork, bed_id: str) -> None:
    bed = await _bed(uow.session, bed_id)
    if bed.status == "occupied":
        raise Conflict("an occupied bed cannot be removed; release its patient first")
    await uow.session.delete(bed)
    await uow.commit()


async def assignment_for(session: AsyncSession, key: str) -> BedAssignment | None:
    return await session.scalar(select(BedAssignment).where(BedAssignment.idempotency_key == key))


async def take_bed(
    *,
    session: AsyncSession,
    bed_id: str,
    key: str,
    session_id: str | None,
    person_id: str | None,
    acuity: int | None,
    actor: str,
    now: datetime,
) -> BedAssignment | None:
    """Occupy `bed_id` if it is still available, in the caller's transaction (not committed);
    None when someone took it first."""
    taken = await session.execute(
        update(Bed)
        .where(Bed.id == bed_id, Bed.status == "available")
        .values(status="occupied", version=Bed.version + 1, updated_at=now)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    assignment = BedAssignment(
        id=new_id(),
        bed_id=bed_id,
        idempotency_key=key,
        session_id=session_id,
        person_id=person_id,
        acuity=acuity,
        assigned_by=actor,
        assigned_at=now,
    )
    session.add(assignment)
    await session.flush()
    return assignment


async def assign_bed(
    *,
    uow: UnitOfWork,
    bed_id: str,
    key: str,
    session_id: str | None,
    person_id: str | None,
    acuity: int | None,
    actor: str,
    now: datetime,
) -> BedRead:
    """A person puts a patient in a bed (the same key twice: the first assignment)."""
    existing = await assignment_for(uow.session, key)
    if existing is None:
        bed = await _bed(uow.session, bed_id)
        try:
            existing = await take_bed(
                session=uow.session,
                bed_id=bed_id,
                key=key,
                session_id=session_id,
                person_id=person_id,
                acuity=acuity,
                actor=actor,
                now=now,
            )
            if existing is None:
                raise NoBedAvailable(f"bed {bed.label} is {bed.status}")
            await uow.commit()
        except IntegrityError:
            await uow.rollback()
            existing = await assignment_for(uow.session, key)
            if existing is None:
                raise NoBedAvailable(f"bed {bed_id} was taken meanwhile") from None
    bed = await _bed(uow.session, existing.bed_id)
    await uow.session.refresh(bed)
    return bed_read(bed, existing if existing.released_at is None else None)


async def release_bed(*, uow: UnitOfWork, bed_id: str, now: datetime) -> BedRead:
    """The patient left: the bed goes to cleaning."""
    bed = await _bed(uow.session, bed_id)
    assignment = (await _open_assignments(uow.session, [bed_id])).get(bed_id)
    if bed.status != "occupied" or assignment is None:
        raise InvalidTransition(f"bed {bed.label} is {bed.status}, not occupied")
    assignment.released_at = now
    bed.status = "cleaning"
    bed.version += 1
    bed.updated_at = now
    await uow.commit()
    return bed_read(bed)


async def free_beds(*, session: AsyncSession, hospital_id: str) -> list[beds.BedView]:
    rows = await session.scalars(
        select(Bed).where(Bed.hospital_id == hospital_id, Bed.status == "available")
    )
    return [beds.BedView(b.id, b.zone, b.label, b.status, b.monitored) for b in rows]


async def count_free(*, session: AsyncSession, hospital_id: str) -> tuple[int, int]:
    """(available beds, beds on the board) of one hospital."""
    rows = list(await session.scalars(select(Bed.status).where(Bed.hospital_id == hospital_id)))
    return sum(s == "available" for s in rows), len(rows)


# ---- the step-effect ledger -----------------------------------------------------------------


async def recorded_effect(session: AsyncSession, key: str, effect: str) -> dict[str, Any] | None:
    row = await session.get(StepEffect, (key, effect))
    return None if row is None else dict(row.result)


def record_effect(
    session: AsyncSession, key: str, effect: str, result: Mapping[str, Any], now: datetime
) -> None:
    """Add the ledger row in the caller's transaction: it commits with the effect or not at all."""
    session.add(StepEffect(idempotency_key=key, effect=effect, result=dict(result), created_at=now))


async def once(
    *,
    sessions: Callable[[], Any],
    bus: Any,
    key: str,
    effect: str,
    perform: Callable[[UnitOfWork], Awaitable[Mapping[str, Any]]],
    now: datetime,
) -> dict[str, Any]:
    """Run `perform` and record its result under (key, effect) in one transaction, unless a
    result is recorded already; a concurrent twin that loses the unique key gets the winner's."""
    async with sessions() as session:
        found = await recorded_effect(session, key, effect)
        if found is not None:
            return found
        uow = UnitOfWork(session, bus)
        result = await perform(uow)
        record_effect(session, key, effect, result, now)
        try:
            await uow.commit()
        except IntegrityError:
            await uow.rollback()
            found = await recorded_effect(session, key, effect)
            if found is None:
                raise
            return found
        return dict(result)
