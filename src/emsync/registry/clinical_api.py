"""Clinical record routes: entries, the allergy check, the chart (every view audited) and the
link between an incident's patient and a person."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse

from emsync.auth.deps import requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.errors import Forbidden
from emsync.core.runtime import ReadSessionDep, Runtime, RuntimeDep, UowDep
from emsync.handoffs.public import handoff_as_seen_by
from emsync.registry import clinical, fhir_service, links, merging
from emsync.registry.clinical_schemas import (
    Chart,
    EntryIn,
    EntryKind,
    EntryRead,
    EntryResult,
    HandoffMedicationCheck,
    MedicationCheck,
)
from emsync.registry.events import ChartViewed
from emsync.registry.index import PersonIndex
from emsync.registry.schemas import LinkCreate, LinkRead

router = APIRouter(prefix="/api/persons", tags=["registry"])


class FhirJSONResponse(JSONResponse):
    media_type = "application/fhir+json"


patient_router = APIRouter(prefix="/api/registry", tags=["registry"])


async def audit_view(runtime: Runtime, request: Request, principal: Principal, pid: str) -> None:
    """Who looked at whose record: written to the audit log before the record is returned."""
    await runtime.bus.publish(
        ChartViewed(
            person_id=pid,
            actor=principal.audit_name,
            request_id=str(getattr(request.state, "request_id", "-")),
        )
    )


@router.post("/{person_id}/entries", response_model=EntryResult, status_code=201)
async def record_entry(
    person_id: str,
    body: EntryIn,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.PERSONS_WRITE)],
) -> EntryResult:
    """Record an allergy, medication, problem, encounter, observation, document or device
    report. A medication conflicting with a recorded allergy (same substance or drug class) is
    refused with the conflicts (409) unless `override_reason` is given."""
    return await clinical.record_entry(
        uow=uow,
        index=runtime.get(PersonIndex),
        person_id=person_id,
        content=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.get("/{person_id}/medication-check", response_model=MedicationCheck)
async def check_medication(
    person_id: str,
    runtime: RuntimeDep,
    session: ReadSessionDep,
    _principal: Annotated[Principal, requires(Perm.PERSONS_READ)],
    substance: Annotated[str, Query(min_length=1, max_length=200)],
) -> MedicationCheck:
    """Would this medication conflict with a recorded allergy? (Before giving it.)"""
    conflicts = await clinical.allergy_conflicts(
        session, runtime.get(PersonIndex), person_id, substance
    )
    return MedicationCheck(substance=substance, conflicts=conflicts)


@router.get("/handoff-checks/{handoff_id}", response_model=HandoffMedicationCheck)
async def check_handoff_medications(
    handoff_id: str,
    runtime: RuntimeDep,
    session: ReadSessionDep,
    principal: Annotated[Principal, requires(Perm.HANDOFFS_READ)],
) -> HandoffMedicationCheck:
    """Each medication in a handoff against the allergies written in it and, for a caller who
    may read the registry, those on the linked person's record. Only for a caller who may open
    the handoff (the receiving hospital; the crew while a draft): 403 otherwise."""
    handoff = await handoff_as_seen_by(
        session=session, keyring=runtime.keyring, handoff_id=handoff_id, principal=principal
    )
    if handoff.picture is None:
        raise Forbidden(
            "only the receiving hospital (or the crew, while a draft) opens this handoff"
        )
    return await clinical.handoff_conflicts(
        session,
        runtime.get(PersonIndex),
        handoff,
        # A crew without registry access still learns of a recorded allergy that its own
        # draft's medications conflict with: what it needs for the patient in front of it.
        read_record=principal.can(Perm.PERSONS_READ) or principal.can(Perm.CREW_UNIT),
    )


@router.get("/{person_id}/entries", response_model=list[EntryRead])
async def list_entries(
    person_id: str,
    request: Request,
    runtime: RuntimeDep,
    session: ReadSessionDep,
    principal: Annotated[Principal, requires(Perm.PERSONS_READ)],
    kind: EntryKind | None = None,
) -> list[EntryRead]:
    await audit_view(runtime, request, principal, person_id)
    chart = await clinical.chart(
        session=session, index=runtime.get(PersonIndex), person_id=person_id
    )
    everything = [
        *chart.allergies,
        *chart.medications,
        *chart.problems,
        *chart.encounters,
        *chart.observations,
        *chart.documents,
        *chart.device_reports,
    ]
    return [e for e in everything if kind is None or e.kind == kind]


@router.get("/{person_id}/chart", response_model=Chart)
async def get_chart(
    person_id: str,
    request: Request,
    runtime: RuntimeDep,
    session: ReadSessionDep,
    principal: Annotated[Principal, requires(Perm.PERSONS_READ)],
) -> Chart:
    """Identity, allergies, medications, problems, and a timeline of calls, handoffs, vitals
    and visits, gathered across every record merged into this person. Audited."""
    await audit_view(runtime, request, principal, person_id)
    return await clinical.chart(
        session=session, index=runtime.get(PersonIndex), person_id=person_id
    )


@router.post("/{person_id}/links", response_model=LinkRead, status_code=201)
async def link_patient(
    person_id: str,
    body: LinkCreate,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.PERSONS_WRITE)],
) -> LinkRead:
    """This incident's patient is this person: the call becomes an ambulance encounter on
    the chart, and the patient's vitals, triage and handoffs show there."""
    return await clinical.link_patient(
        uow=uow,
        index=runtime.get(PersonIndex),
        person_id=person_id,
        patient_id=body.patient_id,
        incident_id=body.incident_id,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.get("/{person_id}/fhir", response_class=FhirJSONResponse)
async def export_fhir(
    person_id: str,
    request: Request,
    runtime: RuntimeDep,
    session: ReadSessionDep,
    principal: Annotated[Principal, requires(Perm.PERSONS_READ)],
) -> FhirJSONResponse:
    """The person and their clinical record as a FHIR R4 transaction Bundle (Patient,
    AllergyIntolerance, MedicationStatement, Condition, Encounter, Observation,
    DocumentReference; LOINC and UCUM codes). Audited as a chart view."""
    await audit_view(runtime, request, principal, person_id)
    bundle = await fhir_service.export_bundle(
        session=session, index=runtime.get(PersonIndex), person_id=person_id
    )
    return FhirJSONResponse(bundle)


@patient_router.post("/fhir", response_model=fhir_service.ImportReport)
async def import_fhir(
    body: Annotated[dict[str, Any], Body()],
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.PERSONS_WRITE)],
) -> fhir_service.ImportReport:
    """Import a FHIR R4 transaction Bundle of one Patient and their clinical resources: all
    or nothing (422 names each rejected entry), and the same Bundle twice changes nothing."""
    return await fhir_service.import_bundle(
        uow=uow,
        index=runtime.get(PersonIndex),
        body=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@patient_router.get("/patients/{patient_id}/person", response_model=LinkRead | None)
async def person_of_patient(
    patient_id: str,
    session: ReadSessionDep,
    _principal: Annotated[Principal, requires(Perm.PERSONS_READ)],
) -> LinkRead | None:
    """The person an incident patient is linked to (null: not linked yet)."""
    found = await links.link_of_patient(session, patient_id)
    if found is None:
        return None
    return found.model_copy(
        update={"person_id": await merging.survivor_of(session, found.person_id)}
    )
