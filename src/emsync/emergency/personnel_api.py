"""Personnel routes: people and qualifications, teams, shifts and patterns, on duty, crews."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from emsync import dispatch
from emsync.auth.deps import requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.errors import ValidationFailed
from emsync.core.runtime import ReadSessionDep, RuntimeDep, UowDep
from emsync.emergency import personnel_service as service
from emsync.emergency import roster
from emsync.emergency.personnel_schemas import (
    OnDutyRead,
    PatternApply,
    PersonCreate,
    PersonRead,
    PersonUpdate,
    ShiftBatch,
    ShiftIn,
    ShiftRead,
    TeamCreate,
    TeamRead,
    UnitCrewRead,
)

router = APIRouter(prefix="/api/emergency", tags=["emergency: personnel"])
Reader = Annotated[Principal, requires(Perm.EMERGENCY_READ)]
Writer = Annotated[Principal, requires(Perm.EMERGENCY_WRITE)]


@router.get("/teams", response_model=list[TeamRead])
async def list_teams(session: ReadSessionDep, _: Reader) -> list[TeamRead]:
    return await service.list_teams(session=session)


@router.post("/teams", response_model=TeamRead, status_code=201)
async def create_team(body: TeamCreate, uow: UowDep, _: Writer) -> TeamRead:
    return await service.create_team(uow=uow, data=body)


@router.get("/people", response_model=list[PersonRead])
async def list_people(runtime: RuntimeDep, session: ReadSessionDep, _: Reader) -> list[PersonRead]:
    return await service.list_people(session=session, today=runtime.clock().date())


@router.post("/people", response_model=PersonRead, status_code=201)
async def create_person(
    body: PersonCreate, runtime: RuntimeDep, uow: UowDep, _: Writer
) -> PersonRead:
    return await service.create_person(uow=uow, data=body, now=runtime.clock())


@router.get("/people/{person_id}", response_model=PersonRead)
async def get_person(
    person_id: str, runtime: RuntimeDep, session: ReadSessionDep, _: Reader
) -> PersonRead:
    return await service.get_person(
        session=session, person_id=person_id, today=runtime.clock().date()
    )


@router.patch("/people/{person_id}", response_model=PersonRead)
async def update_person(
    person_id: str, body: PersonUpdate, runtime: RuntimeDep, uow: UowDep, _: Writer
) -> PersonRead:
    """Qualifications, when given, replace the person's list."""
    return await service.update_person(uow=uow, person_id=person_id, data=body, now=runtime.clock())


@router.post("/people/{person_id}/shifts", response_model=list[ShiftRead], status_code=201)
async def add_shift(
    person_id: str, body: ShiftIn, uow: UowDep, principal: Writer
) -> list[ShiftRead]:
    """One shift; 409 naming the shift it would overlap."""
    return await service.add_shifts(
        uow=uow, person_id=person_id, shifts=[body], actor=principal.audit_name
    )


@router.post("/people/{person_id}/shifts/batch", response_model=list[ShiftRead], status_code=201)
async def add_shifts(
    person_id: str, body: ShiftBatch, uow: UowDep, principal: Writer
) -> list[ShiftRead]:
    """Several shifts, all or none."""
    return await service.add_shifts(
        uow=uow, person_id=person_id, shifts=body.shifts, actor=principal.audit_name
    )


@router.post("/people/{person_id}/shifts/pattern", response_model=list[ShiftRead], status_code=201)
async def apply_pattern(
    person_id: str, body: PatternApply, uow: UowDep, principal: Writer
) -> list[ShiftRead]:
    """Roster from a repeating pattern (local times in the given zone), all or none."""
    return await service.apply_pattern(
        uow=uow, person_id=person_id, data=body, actor=principal.audit_name
    )


@router.delete("/shifts/{shift_id}", status_code=204)
async def delete_shift(shift_id: str, uow: UowDep, _: Writer) -> None:
    await service.delete_shift(uow=uow, shift_id=shift_id)


@router.get("/shifts", response_model=list[ShiftRead])
async def list_shifts(
    runtime: RuntimeDep,
    session: ReadSessionDep,
    _: Reader,
    start: datetime | None = None,
    end: datetime | None = None,
    person_id: str | None = None,
) -> list[ShiftRead]:
    """The roster between `start` and `end` (default: the next 7 days)."""
    start = start or runtime.clock()
    end = end or start + timedelta(days=7)
    if end <= start or end - start > timedelta(days=92):
        raise ValidationFailed("end must be after start, at most 92 days", field="end")
    return await service.shifts_between(session=session, start=start, end=end, person_id=person_id)


@router.get("/on-duty", response_model=list[OnDutyRead])
async def on_duty(
    runtime: RuntimeDep, session: ReadSessionDep, _: Reader, at: datetime | None = None
) -> list[OnDutyRead]:
    return await service.on_duty(session=session, at=at or runtime.clock())


@router.get("/unit-crews", response_model=list[UnitCrewRead])
async def unit_crews(
    runtime: RuntimeDep,
    session: ReadSessionDep,
    _: Reader,
    at: Annotated[datetime | None, Query()] = None,
) -> list[UnitCrewRead]:
    """Each ambulance's crew from the roster now, and why dispatch would exclude it."""
    when = at or runtime.clock()
    units = await dispatch.unit_summaries(session=session)
    rostered, crews = await service.unit_crews(
        session=session, unit_ids=[u.unit_id for u in units], at=when
    )
    return [
        UnitCrewRead(
            unit_id=u.unit_id,
            call_sign=u.call_sign,
            unit_type=u.unit_type,
            status=u.status,
            crew=[m.name for m in crews.get(u.unit_id, [])],
            rostered=u.unit_id in rostered,
            problem=roster.crew_problem(u.unit_type, crews.get(u.unit_id, []), when.date())
            if u.unit_id in rostered
            else None,
        )
        for u in units
    ]
