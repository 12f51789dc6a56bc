"""FHIR R4 export of a person (a transaction Bundle that imports back) and import of a
transaction Bundle: all or nothing, idempotent, with a report naming each rejected entry."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.errors import ValidationFailed
from emsync.core.uow import UnitOfWork
from emsync.registry import clinical, fhir, merging, service
from emsync.registry.index import PersonIndex
from emsync.registry.models import ClinicalEntry


class ImportedEntry(BaseModel):
    index: int
    resource_type: str
    outcome: Literal["created", "unchanged"]
    entry_id: str | None


class ImportReport(BaseModel):
    person_id: str
    person: Literal["created", "linked", "unchanged"]
    created: int
    unchanged: int
    entries: list[ImportedEntry]
    conflicts: list[dict[str, Any]]


async def export_bundle(
    *, session: AsyncSession, index: PersonIndex, person_id: str
) -> dict[str, Any]:
    chart = await clinical.chart(session=session, index=index, person_id=person_id)
    patient_url = f"urn:uuid:{chart.person.id}"
    entries = [
        {
            "fullUrl": patient_url,
            "resource": fhir.patient_resource(chart.person),
            "request": {"method": "POST", "url": "Patient"},
        }
    ]
    everything = [
        *chart.allergies,
        *chart.medications,
        *chart.problems,
        *chart.encounters,
        *chart.observations,
        *chart.documents,
        *chart.device_reports,
    ]
    for entry in everything:
        resource = fhir.entry_resource(entry, patient_url)
        if resource is not None:
            entries.append(
                {
                    "fullUrl": f"urn:uuid:{entry.id}",
                    "resource": resource,
                    "request": {"method": "POST", "url": resource["resourceType"]},
                }
            )
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    # Parsed before it leaves: what we export must be valid R4. The R4B models (~0.3 s of CPU to
    # import) are imported by the first export or import, not by every API process.
    from fhir.resources.R4B.bundle import Bundle

    return Bundle.model_validate(bundle).model_dump(mode="json", exclude_none=True)


def _parse(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    if body.get("resourceType") != "Bundle" or body.get("type") != "transaction":
        raise ValidationFailed(
            "expected a FHIR Bundle of type transaction",
            errors=[{"field": "type", "message": "a transaction Bundle is imported"}],
        )
    from fhir.resources.R4B.bundle import Bundle

    try:
        bundle = Bundle.model_validate(body)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors()[:20]
        ]
        raise ValidationFailed(
            f"malformed FHIR: {errors[0]['field']}: {errors[0]['message']}", errors=errors
        ) from exc
    return [e.model_dump(mode="json", exclude_none=True) for e in bundle.entry or []]


def _validate(entries: list[dict[str, Any]]) -> tuple[int, Any, dict[int, Any]]:
    """The Patient (its index and registration) and every clinical entry, or every rejection."""
    rejected: list[dict[str, Any]] = []
    patients = [
        i for i, e in enumerate(entries) if e.get("resource", {}).get("resourceType") == "Patient"
    ]
    if len(patients) != 1:
        raise ValidationFailed(
            f"a Bundle imports one person: it has {len(patients)} Patient entries",
            errors=[{"field": "entry", "message": "exactly one Patient"}],
        )
    at = patients[0]
    refs = {f"Patient/{entries[at]['resource'].get('id')}", entries[at].get("fullUrl")}
    person = None
    try:
        person = fhir.person_from_patient(entries[at]["resource"])
    except fhir.FhirRejected as exc:
        rejected.append({"field": f"entry.{at}", "message": f"Patient: {exc}"})
    contents: dict[int, Any] = {}
    for i, entry in enumerate(entries):
        if i == at:
            continue
        resource = entry.get("resource") or {}
        kind = resource.get("resourceType", "?")
        subject = (resource.get("subject") or resource.get("patient") or {}).get("reference")
        if subject not in refs:
            rejected.append(
                {
                    "field": f"entry.{i}",
                    "message": f"{kind}: its subject is not the Bundle's Patient",
                }
            )
            continue
        try:
            contents[i] = fhir.entry_from_resource(resource)
        except fhir.FhirRejected as exc:
            rejected.append({"field": f"entry.{i}", "message": f"{kind}: {exc}"})
    if rejected:
        raise ValidationFailed(
            f"{len(rejected)} Bundle entry(ies) rejected; nothing was imported",
            errors=rejected,
        )
    return at, person, contents


async def import_bundle(
    *, uow: UnitOfWork, index: PersonIndex, body: Mapping[str, Any], actor: str, now: datetime
) -> ImportReport:
    entries = _parse(body)
    _at, person_data, contents = _validate(entries)
    session = uow.session
    prepared = service.prepare(index, person_data, now)
    holder = await service.holder_of(session, index, prepared)
    outcome: Literal["created", "linked", "unchanged"] = "unchanged"
    if holder is None:
        result = await service.register_in(uow, index, prepared, person_data, actor, now)
        holder = result.linked_to or result.person.id
        outcome = "linked" if result.linked_to else "created"
    ids = await merging.record_ids(session, holder)
    known = await _known(session, ids)
    report: list[ImportedEntry] = []
    conflicts: list[dict[str, Any]] = []
    for i, content in contents.items():
        resource = entries[i]["resource"]
        key = fhir.source_key(resource)
        own = fhir.entry_id_of(resource)
        if key in known or (own is not None and own in known):
            report.append(
                ImportedEntry(
                    index=i,
                    resource_type=resource["resourceType"],
                    outcome="unchanged",
                    entry_id=known.get(key) or own,
                )
            )
            continue
        recorded = await clinical.record_entry(
            uow=uow,
            index=index,
            person_id=holder,
            content=content,
            actor=actor,
            now=now,
            source_key=key,
            commit=False,
        )
        known[key] = recorded.entry.id
        conflicts.extend(c.model_dump() for c in recorded.conflicts)
        report.append(
            ImportedEntry(
                index=i,
                resource_type=resource["resourceType"],
                outcome="created",
                entry_id=recorded.entry.id,
            )
        )
    await uow.commit()
    created = sum(1 for r in report if r.outcome == "created")
    return ImportReport(
        person_id=holder,
        person=outcome,
        created=created,
        unchanged=len(report) - created,
        entries=report,
        conflicts=conflicts,
    )


async def _known(session: AsyncSession, person_ids: list[str]) -> dict[str, str]:
    """Source keys and entry ids already recorded for the person (both map to the entry)."""
    rows = await session.execute(
        select(ClinicalEntry.id, ClinicalEntry.source_key).where(
            ClinicalEntry.person_id.in_(person_ids)
        )
    )
    known: dict[str, str] = {}
    for entry_id, key in rows.all():
        known[entry_id] = entry_id
        if key:
            known[key] = entry_id
    return known
