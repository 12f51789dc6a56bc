"""The clinical record: entries (sealed), the allergy check of medications, and the chart that
gathers a person's entries and links with those of every record merged into them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import cache
from importlib import resources

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.errors import Conflict
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.handoffs.schemas import HandoffRead
from emsync.registry import allergies, links, merging, service
from emsync.registry.clinical_schemas import (
    AllergyConflict,
    AllergyIn,
    Chart,
    EncounterIn,
    EntryIn,
    EntryRead,
    EntryResult,
    HandoffMedicationCheck,
    MedicationConflict,
    MedicationIn,
    TimelineItem,
    VitalsRef,
)
from emsync.registry.events import ClinicalEntryRecorded
from emsync.registry.index import PersonIndex
from emsync.registry.models import ClinicalEntry
from emsync.registry.schemas import LinkRead

_ENTRY = TypeAdapter[EntryIn](EntryIn)


@cache
def drug_classes() -> allergies.DrugClasses:
    text = resources.files("emsync.registry").joinpath("data/drug_classes.json").read_text()
    return allergies.load_classes(text)


def _aad(entry_id: str) -> str:
    return f"person-entry:{entry_id}"


def seal_entry(index: PersonIndex, entry_id: str, content: EntryIn) -> bytes:
    return index.seal(content.model_dump_json(), aad=_aad(entry_id))


def entry_read(index: PersonIndex, row: ClinicalEntry) -> EntryRead:
    content = _ENTRY.validate_json(index.open(row.content_sealed, aad=_aad(row.id)))
    return EntryRead(
        id=row.id,
        person_id=row.person_id,
        kind=row.kind,
        status=row.status,
        source=row.source,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
        occurred_at=row.occurred_at,
        content=content,
    )


async def _entries(
    session: AsyncSession, index: PersonIndex, person_ids: Sequence[str], kind: str | None = None
) -> list[EntryRead]:
    query = select(ClinicalEntry).where(ClinicalEntry.person_id.in_(person_ids))
    if kind is not None:
        query = query.where(ClinicalEntry.kind == kind)
    rows = await session.scalars(query.order_by(ClinicalEntry.recorded_at, ClinicalEntry.id))
    return [entry_read(index, r) for r in rows]


async def allergy_conflicts(
    session: AsyncSession, index: PersonIndex, person_id: str, substance: str
) -> list[AllergyConflict]:
    recorded = await _record_allergies(session, index, person_id)
    return [
        AllergyConflict(
            allergy_id=c.allergy.id,
            allergy_substance=c.allergy.substance,
            medication_substance=c.medication,
            match=c.match,
            drug_class=c.drug_class,
            severity=c.allergy.severity,
        )
        for c in allergies.conflicts(substance, recorded, drug_classes())
    ]


async def _record_allergies(
    session: AsyncSession, index: PersonIndex, person_id: str
) -> list[allergies.RecordedAllergy]:
    ids = await merging.record_ids(session, await merging.survivor_of(session, person_id))
    return [
        allergies.RecordedAllergy(
            id=e.id, substance=e.content.substance, severity=e.content.severity
        )
        for e in await _entries(session, index, ids, "allergy")
        if isinstance(e.content, AllergyIn) and e.content.status == "active"
    ]


async def handoff_person(session: AsyncSession, handoff: HandoffRead) -> str | None:
    """The person a handoff is about: its patient's link, else the incident's only person."""
    if handoff.patient_id is not None:
        person = await links.person_of_patient(session, handoff.patient_id)
        if person is not None:
            return person
    persons = await links.persons_of_incident(session, handoff.incident_id)
    return persons.pop() if len(persons) == 1 else None


async def handoff_conflicts(
    session: AsyncSession, index: PersonIndex, handoff: HandoffRead, *, read_record: bool
) -> HandoffMedicationCheck:
    """Each medication in an (opened) handoff against the allergies the crew wrote in it and,
    when allowed and linked, those recorded on the person's chart."""
    table = drug_classes()
    picture = handoff.picture
    medications = (
        [t.name for t in (picture.treatment or []) if t.kind == "medication"] if picture else []
    )
    written = [
        allergies.RecordedAllergy(id="", substance=a, severity=None)
        for a in (picture.allergies or [] if picture else [])
    ]
    person = await handoff_person(session, handoff) if read_record else None
    recorded = await _record_allergies(session, index, person) if person else []
    found: list[MedicationConflict] = []
    for medication in medications:
        substance = allergies.substance_of(medication, table)
        for source, listed in (("handoff", written), ("record", recorded)):
            for allergy in listed:
                parsed = replace(
                    allergy, substance=allergies.substance_of(allergy.substance, table)
                )
                found.extend(
                    MedicationConflict(
                        medication=medication,
                        allergy=allergy.substance,
                        source="handoff" if source == "handoff" else "record",
                        match=c.match,
                        drug_class=c.drug_class,
                        severity=allergy.severity,
                        allergy_id=allergy.id or None,
                    )
                    for c in allergies.conflicts(substance, [parsed], table)
                )
    return HandoffMedicationCheck(
        handoff_id=handoff.id,
        person_id=person,
        record_checked=person is not None,
        conflicts=found,
        class_table_source=table.source,
    )


async def record_entry(
    *,
    uow: UnitOfWork,
    index: PersonIndex,
    person_id: str,
    content: EntryIn,
    actor: str,
    now: datetime,
    source_key: str | None = None,
    commit: bool = True,
) -> EntryResult:
    """Record an entry on the person (the survivor, if this record was merged). A medication
    that conflicts with a recorded allergy is refused unless it carries an override reason;
    the conflicts are returned either way."""
    session = uow.session
    await service.load(session, person_id)
    target = await merging.survivor_of(session, person_id)
    conflicts: list[AllergyConflict] = []
    if isinstance(content, MedicationIn):
        conflicts = await allergy_conflicts(session, index, target, content.substance)
        if conflicts and content.override_reason is None:
            raise Conflict(
                f"{content.substance} conflicts with {len(conflicts)} recorded allergy(ies); "
                "record it with an override_reason to proceed",
                conflicts=[c.model_dump() for c in conflicts],
            )
    entry_id = new_id()
    row = ClinicalEntry(
        id=entry_id,
        person_id=target,
        kind=content.kind,
        status=content.status,
        source=content.source,
        source_key=source_key,
        content_sealed=seal_entry(index, entry_id, content),
        occurred_at=content.occurred_at,
        recorded_by=actor,
        recorded_at=now,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"this entry ({source_key}) is already recorded") from exc
    uow.record(
        ClinicalEntryRecorded(
            person_id=target,
            entry_id=entry_id,
            kind=content.kind,
            source=content.source,
            actor=actor,
        )
    )
    result = EntryResult(entry=entry_read(index, row), conflicts=conflicts)
    if commit:
        await uow.commit()
    return result


async def chart(*, session: AsyncSession, index: PersonIndex, person_id: str) -> Chart:
    person = await service.load(session, person_id)
    ids = await merging.record_ids(session, person.id)
    entries = await _entries(session, index, ids)
    by_kind: dict[str, list[EntryRead]] = {}
    for e in entries:
        by_kind.setdefault(e.kind, []).append(e)
    person_links = await links.links_of(session=session, person_ids=ids)
    vitals = [
        VitalsRef(
            patient_id=link.ref_id,
            incident_id=link.incident_id,
            href=f"/api/telemetry/patients/{link.ref_id}/vitals",
        )
        for link in person_links
        if link.kind == "incident_patient"
    ]
    return Chart(
        person=await service.read_person(session, index, person),
        allergies=by_kind.get("allergy", []),
        medications=by_kind.get("medication", []),
        problems=by_kind.get("problem", []),
        encounters=by_kind.get("encounter", []),
        observations=by_kind.get("observation", []),
        documents=by_kind.get("document", []),
        device_reports=by_kind.get("device_report", []),
        links=person_links,
        vitals=vitals,
        timeline=timeline(entries, person_links),
    )


def _title(entry: EntryRead) -> str:
    c = entry.content
    if isinstance(c, EncounterIn):
        what = c.reason or c.diagnosis or c.facility or ""
        return f"{c.encounter_class} encounter" + (f": {what}" if what else "")
    for attr in ("substance", "condition", "title", "display", "summary"):
        value = getattr(c, attr, None)
        if value:
            return f"{entry.kind.replace('_', ' ')}: {value}"
    return entry.kind.replace("_", " ")


def timeline(entries: Sequence[EntryRead], person_links: Sequence[LinkRead]) -> list[TimelineItem]:
    """Encounters, observations, documents and what was linked (calls, handoffs, monitors,
    triage), newest first."""
    items = [
        TimelineItem(
            at=e.occurred_at or e.recorded_at,
            kind=e.kind,
            title=_title(e),
            ref_id=e.id,
            source=e.source,
        )
        for e in entries
        if e.kind in ("encounter", "observation", "document", "device_report")
    ]
    items.extend(
        TimelineItem(
            at=link.linked_at,
            kind=link.kind,
            title=f"{link.kind.replace('_', ' ')} linked ({link.method})",
            ref_id=link.ref_id,
            source=link.linked_by,
        )
        for link in person_links
    )
    return sorted(items, key=lambda i: i.at, reverse=True)


async def link_patient(
    *,
    uow: UnitOfWork,
    index: PersonIndex,
    person_id: str,
    patient_id: str,
    incident_id: str,
    actor: str,
    now: datetime,
) -> LinkRead:
    """Link an incident's patient to a person; a new link puts the call on the chart as an
    ambulance encounter (recorded once: its source key is the incident and patient)."""
    link, created = await links.link_patient(
        uow=uow,
        keyring=index.keyring,
        person_id=person_id,
        patient_id=patient_id,
        incident_id=incident_id,
        actor=actor,
        now=now,
    )
    if created:
        await record_entry(
            uow=uow,
            index=index,
            person_id=link.person_id,
            content=EncounterIn(
                source="crew", encounter_class="ambulance", incident_id=incident_id
            ),
            actor=actor,
            now=now,
            source_key=f"incident:{incident_id}:{patient_id}",
            commit=False,
        )
    await uow.commit()
    return link
