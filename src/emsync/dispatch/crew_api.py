"""The crew view's routes (issue #23): everything acts on the unit the caller's account belongs
to (set by an administrator), so a crew sees and moves only its own unit and the incident that
unit is committed to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from emsync.auth.deps import requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.runtime import ReadSessionDep, RuntimeDep, UowDep
from emsync.dispatch import crew_service, service
from emsync.dispatch.api import _routing
from emsync.dispatch.schemas import CrewAssignment, UnitRead, UnitStatusChange
from emsync.maps import RoadMapService

router = APIRouter(prefix="/api/crew", tags=["crew"])
CrewPrincipal = Annotated[Principal, requires(Perm.CREW_UNIT)]


@router.get("/assignment", response_model=CrewAssignment)
async def my_assignment(
    runtime: RuntimeDep, session: ReadSessionDep, principal: CrewPrincipal
) -> CrewAssignment:
    """My unit, the incident it is committed to (address, patients) and the road route with
    its ETA to the scene, or to the chosen hospital once transporting."""
    return await crew_service.assignment(
        session=session,
        keyring=runtime.keyring,
        engine=await runtime.get(RoadMapService).engine(),
        unit_id=principal.unit_id,
    )


@router.post("/status", response_model=UnitRead)
async def change_my_status(
    body: UnitStatusChange, runtime: RuntimeDep, uow: UowDep, principal: CrewPrincipal
) -> UnitRead:
    """One tap: move my unit along its lifecycle (409 if the lifecycle forbids it). Send an
    `Idempotency-Key` so a retried tap acts once."""
    unit_id = crew_service.crew_unit_id(principal.unit_id)
    routing = await _routing(runtime) if body.hospital_id is not None else None
    return await service.change_status(
        uow=uow,
        routing=routing,
        unit_id=unit_id,
        change=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )
