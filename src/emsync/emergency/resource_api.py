"""Resource routes: the board (with ambulances), typed resources, assignment, mutual aid."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from emsync.auth.deps import requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.runtime import ReadSessionDep, RuntimeDep, UowDep
from emsync.emergency import resource_service as service
from emsync.emergency.resource_schemas import (
    MutualAidCreate,
    MutualAidRead,
    MutualAidRespond,
    ResourceAssign,
    ResourceCreate,
    ResourceKind,
    ResourceRead,
    ResourceUpdate,
)

router = APIRouter(prefix="/api/emergency", tags=["emergency: resources"])
Reader = Annotated[Principal, requires(Perm.EMERGENCY_READ)]
Writer = Annotated[Principal, requires(Perm.EMERGENCY_WRITE)]


@router.get("/resources", response_model=list[ResourceRead])
async def board(
    session: ReadSessionDep, _: Reader, kind: ResourceKind | None = None, status: str | None = None
) -> list[ResourceRead]:
    """Every resource, dispatch's ambulances included (`source: dispatch`)."""
    return await service.board(session=session, kind=kind, status=status)


@router.post("/resources", response_model=ResourceRead, status_code=201)
async def create_resource(
    body: ResourceCreate, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> ResourceRead:
    return await service.create_resource(
        uow=uow, data=body, actor=principal.audit_name, now=runtime.clock()
    )


@router.get("/resources/{resource_id}", response_model=ResourceRead)
async def get_resource(resource_id: str, session: ReadSessionDep, _: Reader) -> ResourceRead:
    return await service.get_resource(session=session, resource_id=resource_id)


@router.patch("/resources/{resource_id}", response_model=ResourceRead)
async def update_resource(
    resource_id: str, body: ResourceUpdate, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> ResourceRead:
    return await service.update_resource(
        uow=uow,
        resource_id=resource_id,
        data=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.post("/resources/{resource_id}/assignment", response_model=ResourceRead)
async def assign_resource(
    resource_id: str, body: ResourceAssign, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> ResourceRead:
    """Assign to an incident (`incident_id`) or release (`null`)."""
    return await service.assign_resource(
        uow=uow,
        keyring=runtime.keyring,
        resource_id=resource_id,
        data=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.get("/mutual-aid", response_model=list[MutualAidRead])
async def list_mutual_aid(session: ReadSessionDep, _: Reader) -> list[MutualAidRead]:
    return await service.list_mutual_aid(session=session)


@router.post("/mutual-aid", response_model=MutualAidRead, status_code=201)
async def request_mutual_aid(
    body: MutualAidCreate, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> MutualAidRead:
    return await service.request_mutual_aid(
        uow=uow, data=body, actor=principal.audit_name, now=runtime.clock()
    )


@router.post("/mutual-aid/{request_id}/response", response_model=MutualAidRead)
async def respond_mutual_aid(
    request_id: str, body: MutualAidRespond, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> MutualAidRead:
    return await service.respond_mutual_aid(
        uow=uow,
        request_id=request_id,
        data=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )
