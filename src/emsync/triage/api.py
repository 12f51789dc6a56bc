"""`POST /api/triage`: acuity (KTAS), NEWS2 and why, optionally stored on an incident patient."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from emsync.auth.deps import requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.runtime import RuntimeDep, UowDep
from emsync.triage import service
from emsync.triage.schemas import TriageRequest, TriageResponse

router = APIRouter(prefix="/api/triage", tags=["triage"])


@router.post("", response_model=TriageResponse)
async def triage(
    body: TriageRequest,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.TRIAGE_RUN)],
) -> TriageResponse:
    """Field mode uses only what is known at triage; review mode adds the nurse's level and
    flags a likely mistriage as a second opinion. With incident_id and patient_id the result is
    stored on that patient and announced as PatientTriaged."""
    return await service.triage(
        uow=uow, keyring=runtime.keyring, body=body, actor=principal.audit_name, now=runtime.clock()
    )
