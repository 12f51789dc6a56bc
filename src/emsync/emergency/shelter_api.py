"""Shelter routes: register and open/close, check-in/out, occupancy, reunification search."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from emsync.auth.deps import requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.runtime import ReadSessionDep, RuntimeDep, UowDep
from emsync.emergency import shelter_service as service
from emsync.emergency.shelter_schemas import (
    CheckIn,
    CheckInResult,
    EvacueeRead,
    OccupancyPoint,
    ShelterCreate,
    ShelterRead,
    ShelterUpdate,
)

router = APIRouter(prefix="/api/emergency", tags=["emergency: shelters"])
Reader = Annotated[Principal, requires(Perm.EMERGENCY_READ)]
Writer = Annotated[Principal, requires(Perm.EMERGENCY_WRITE)]
EvacueeReader = Annotated[Principal, requires(Perm.EVACUEES_READ)]


@router.get("/shelters", response_model=list[ShelterRead])
async def list_shelters(session: ReadSessionDep, _: Reader) -> list[ShelterRead]:
    return await service.list_shelters(session=session)


@router.post("/shelters", response_model=ShelterRead, status_code=201)
async def create_shelter(
    body: ShelterCreate, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> ShelterRead:
    """Register a shelter (open by default); it also becomes a stock location for supplies."""
    return await service.create_shelter(
        uow=uow, data=body, actor=principal.audit_name, now=runtime.clock()
    )


@router.get("/shelters/{shelter_id}", response_model=ShelterRead)
async def get_shelter(shelter_id: str, session: ReadSessionDep, _: Reader) -> ShelterRead:
    return await service.get_shelter(session=session, shelter_id=shelter_id)


@router.patch("/shelters/{shelter_id}", response_model=ShelterRead)
async def update_shelter(
    shelter_id: str, body: ShelterUpdate, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> ShelterRead:
    """Open or close, change capacity (never below those checked in) or amenities."""
    return await service.update_shelter(
        uow=uow, shelter_id=shelter_id, data=body, actor=principal.audit_name, now=runtime.clock()
    )


@router.post("/shelters/{shelter_id}/check-ins", response_model=CheckInResult, status_code=201)
async def check_in(
    shelter_id: str, body: CheckIn, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> CheckInResult:
    """Admit an evacuee; 409 when the shelter is closed or has no bed of the kind needed."""
    return await service.check_in(
        uow=uow,
        keyring=runtime.keyring,
        shelter_id=shelter_id,
        data=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.post("/evacuees/{evacuee_id}/check-out", response_model=EvacueeRead)
async def check_out(
    evacuee_id: str, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> EvacueeRead:
    return await service.check_out(
        uow=uow,
        keyring=runtime.keyring,
        evacuee_id=evacuee_id,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.get("/shelters/{shelter_id}/evacuees", response_model=list[EvacueeRead])
async def list_evacuees(
    shelter_id: str,
    runtime: RuntimeDep,
    session: ReadSessionDep,
    _: EvacueeReader,
    present_only: bool = True,
) -> list[EvacueeRead]:
    return await service.evacuees(
        session=session, keyring=runtime.keyring, shelter_id=shelter_id, present_only=present_only
    )


@router.get("/evacuees/search", response_model=list[EvacueeRead])
async def find_evacuees(
    runtime: RuntimeDep,
    session: ReadSessionDep,
    _: EvacueeReader,
    q: Annotated[str, Query(min_length=2, max_length=200)],
) -> list[EvacueeRead]:
    """Family reunification: names and households by whole words or 3+ letter prefixes."""
    return await service.find_evacuees(session=session, keyring=runtime.keyring, query=q)


@router.get("/shelters/{shelter_id}/occupancy", response_model=list[OccupancyPoint])
async def occupancy(
    shelter_id: str, session: ReadSessionDep, _: Reader, since: datetime | None = None
) -> list[OccupancyPoint]:
    return await service.occupancy(session=session, shelter_id=shelter_id, since=since)
