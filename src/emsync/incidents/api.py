"""Incident routes (thin: validation at the edge, use cases in the service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from emsync.auth.deps import requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.errors import DomainError
from emsync.core.http import TrustedJSONResponse
from emsync.core.runtime import ReadSessionDep, Runtime, RuntimeDep, UowDep
from emsync.core.schemas import Page
from emsync.geocoding import GeocoderService
from emsync.incidents import listing, service
from emsync.incidents.access import scope_of
from emsync.incidents.lifecycle import IncidentStatus
from emsync.incidents.schemas import (
    ClinicalFindings,
    IncidentCreate,
    IncidentRead,
    IncidentSummary,
    IncidentUpdate,
    PatientCreate,
    PatientRead,
    PatientUpdate,
    StatusChange,
    TimelineEntryRead,
)

router = APIRouter(prefix="/api/incidents", tags=["incidents"])


async def _locate(runtime: Runtime, body: IncidentCreate) -> IncidentCreate:
    try:
        geocoder = await runtime.get(GeocoderService).get()
    except DomainError:
        return body  # no map loaded: the incident is still taken, without a position
    found = geocoder.best_match(body.address or "")
    if found is None:
        return body
    return body.model_copy(update={"lat": found.lat, "lon": found.lon})


@router.post("", response_model=IncidentRead, status_code=201)
async def create_incident(
    body: IncidentCreate,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.INCIDENTS_WRITE)],
) -> IncidentRead:
    if body.lat is None and body.address is not None:
        # An address only: place it on the loaded map, so that the dispatch recommendation
        # runs; the address stays as typed.
        body = await _locate(runtime, body)
    return await service.create_incident(
        uow=uow,
        keyring=runtime.keyring,
        data=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


# The two hot reads open their session in the route, not through ReadSessionDep: FastAPI's
# teardown of a yielding dependency (an exit stack, a shielded context manager, a cancel scope)
# was about a tenth of a one-row GET's CPU under load (bench/api.py, PostgreSQL).


@router.get("", response_model=Page[IncidentSummary])
async def list_incidents(
    runtime: RuntimeDep,
    principal: Annotated[Principal, requires(Perm.INCIDENTS_READ)],
    status: Annotated[list[IncidentStatus] | None, Query()] = None,
    priority: Annotated[int | None, Query(ge=1, le=5)] = None,
    mci: bool | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    created_after: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> TrustedJSONResponse:
    """Newest first. `q` searches the chief complaint and the address."""
    async with runtime.read_sessions() as session:
        page = await listing.list_incidents(
            session=session,
            statuses=status or (),
            priority=priority,
            mci=mci,
            q=q,
            created_after=created_after,
            created_before=created_before,
            limit=limit,
            offset=offset,
            scope=scope_of(principal),
        )
    return TrustedJSONResponse(page)


@router.get("/{incident_id}", response_model=IncidentRead)
async def get_incident(
    incident_id: str,
    runtime: RuntimeDep,
    principal: Annotated[Principal, requires(Perm.INCIDENTS_READ)],
) -> IncidentRead:
    """Hospital staff: only while a patient of it is coming to their hospital (else 404), and
    without the caller's name and number."""
    async with runtime.read_sessions() as session:
        return await service.get_incident(
            session=session,
            keyring=runtime.keyring,
            incident_id=incident_id,
            scope=scope_of(principal),
        )


@router.patch("/{incident_id}", response_model=IncidentRead)
async def update_incident(
    incident_id: str,
    body: IncidentUpdate,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.INCIDENTS_WRITE)],
) -> IncidentRead:
    return await service.update_incident(
        uow=uow,
        keyring=runtime.keyring,
        incident_id=incident_id,
        data=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.post("/{incident_id}/status", response_model=IncidentRead)
async def change_status(
    incident_id: str,
    body: StatusChange,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.INCIDENTS_WRITE)],
) -> IncidentRead:
    """Move the incident along its lifecycle; a move the lifecycle forbids is a 409, and so is
    "dispatched" (only an assignment dispatches). Cancelling needs a reason."""
    return await service.change_status(
        uow=uow,
        keyring=runtime.keyring,
        incident_id=incident_id,
        change=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.put("/{incident_id}/findings", response_model=IncidentRead)
async def set_findings(
    incident_id: str,
    body: ClinicalFindings,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.INCIDENTS_WRITE)],
) -> IncidentRead:
    """The dispatcher's or crew's findings (mechanism, BE-FAST, ECG, motor GCS) and, when they
    decide, the conditions to route for: the destination recommendation reads them."""
    return await service.set_findings(
        uow=uow,
        keyring=runtime.keyring,
        incident_id=incident_id,
        findings=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.get("/{incident_id}/timeline", response_model=list[TimelineEntryRead])
async def get_timeline(
    incident_id: str,
    session: ReadSessionDep,
    principal: Annotated[Principal, requires(Perm.INCIDENTS_READ)],
) -> list[TimelineEntryRead]:
    rows = await service.timeline(
        session=session, incident_id=incident_id, scope=scope_of(principal)
    )
    return [TimelineEntryRead.model_validate(r) for r in rows]


@router.post("/{incident_id}/patients", response_model=PatientRead, status_code=201)
async def add_patient(
    incident_id: str,
    body: PatientCreate,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.INCIDENTS_WRITE)],
) -> PatientRead:
    return await service.add_patient(
        uow=uow,
        keyring=runtime.keyring,
        incident_id=incident_id,
        data=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.patch("/{incident_id}/patients/{patient_id}", response_model=PatientRead)
async def update_patient(
    incident_id: str,
    patient_id: str,
    body: PatientUpdate,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.INCIDENTS_WRITE)],
) -> PatientRead:
    return await service.update_patient(
        uow=uow,
        keyring=runtime.keyring,
        incident_id=incident_id,
        patient_id=patient_id,
        data=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )
