"""Incident use cases. Personal fields are sealed on write and opened on read."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from emsync.core.crypto import Keyring
from emsync.core.errors import Conflict, InvalidTransition, NotFound
from emsync.core.events import Event
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.incidents.events import (
    IncidentCreated,
    IncidentStatusChanged,
    IncidentUpdated,
    PatientAdded,
)
from emsync.incidents.lifecycle import IncidentStatus, next_status
from emsync.incidents.models import (
    Incident,
    IncidentDestination,
    IncidentTimelineEntry,
    Patient,
)
from emsync.incidents.schemas import (
    ClinicalFindings,
    IncidentCreate,
    IncidentRead,
    IncidentUpdate,
    PatientCreate,
    PatientRead,
    PatientUpdate,
    StatusChange,
)

_SEALED_INCIDENT_FIELDS = {
    "caller_name": "caller_name_sealed",
    "callback_number": "callback_number_sealed",
    "notes": "notes_sealed",
}


@dataclass(frozen=True, slots=True)
class Scope:
    """Need to know (issue #14 item 10, docs/threat-model.md): hospital staff see an incident
    only while a patient of it is coming to their hospital, and never the caller's name and
    number (they deal with the crew and the patient, not with whoever phoned)."""

    hospital_id: str | None


def _visible(stmt: Any, scope: Scope | None) -> Any:
    if scope is None:
        return stmt
    coming = select(IncidentDestination.incident_id).where(
        IncidentDestination.hospital_id == scope.hospital_id
    )
    return stmt.where(Incident.id.in_(coming))


async def _check_visible(session: AsyncSession, incident_id: str, scope: Scope | None) -> None:
    if scope is None:
        return
    found = await session.scalar(
        _visible(select(Incident.id).where(Incident.id == incident_id), scope)
    )
    if found is None:
        # Not "forbidden": whether an incident exists is itself not theirs to learn.
        raise NotFound(f"incident {incident_id} does not exist")


def _aad(kind: str, row_id: str, field: str) -> str:
    return f"{kind}:{row_id}:{field}"


def _patient_read(p: Patient, keyring: Keyring) -> PatientRead:
    return PatientRead(
        id=p.id,
        incident_id=p.incident_id,
        label=p.label,
        name=keyring.open_text(p.name_sealed, aad=_aad("patient", p.id, "name")),
        age_years=p.age_years,
        sex=p.sex,
        acuity=p.acuity,
        news2=p.news2,
        triaged_at=p.triaged_at,
        created_at=p.created_at,
    )


def _incident_read(
    i: Incident, patients: Sequence[Patient], keyring: Keyring, *, scoped: bool = False
) -> IncidentRead:
    opened = {
        name: keyring.open_text(getattr(i, col), aad=_aad("incident", i.id, name))
        for name, col in _SEALED_INCIDENT_FIELDS.items()
    }
    read = IncidentRead(
        findings=_findings(i, keyring),
        id=i.id,
        number=i.number,
        status=IncidentStatus(i.status),
        priority=i.priority,
        chief_complaint=i.chief_complaint,
        address=i.address,
        lat=i.lat,
        lon=i.lon,
        mci=i.mci,
        created_by=i.created_by,
        created_at=i.created_at,
        updated_at=i.updated_at,
        patients=[_patient_read(p, keyring) for p in patients],
        **opened,
    )
    return scoped_read(read) if scoped else read


def scoped_read(read: IncidentRead) -> IncidentRead:
    """An incident as hospital staff read it (Scope): never the caller's name and number."""
    return read.model_copy(update={"caller_name": None, "callback_number": None})


def _findings(i: Incident, keyring: Keyring) -> ClinicalFindings:
    raw = keyring.open_text(i.findings_sealed, aad=_aad("incident", i.id, "findings"))
    return ClinicalFindings() if raw is None else ClinicalFindings.model_validate_json(raw)


def _timeline(
    session: AsyncSession, incident_id: str, actor: str, kind: str, now: datetime, **data: Any
) -> None:
    session.add(
        IncidentTimelineEntry(incident_id=incident_id, at=now, actor=actor, kind=kind, data=data)
    )


def _new_patient(
    incident_id: str, data: PatientCreate, label: str, keyring: Keyring, now: datetime
) -> Patient:
    pid = new_id()
    return Patient(
        id=pid,
        incident_id=incident_id,
        label=data.label or label,
        name_sealed=keyring.seal_text(data.name, aad=_aad("patient", pid, "name")),
        age_years=data.age_years,
        sex=data.sex,
        created_at=now,
    )


async def _load(session: AsyncSession, incident_id: str, *, lock: bool = False) -> Incident:
    incident = await session.get(Incident, incident_id, with_for_update=lock)
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return incident


async def _patients(session: AsyncSession, incident_id: str) -> Sequence[Patient]:
    stmt = select(Patient).where(Patient.incident_id == incident_id).order_by(Patient.created_at)
    return (await session.scalars(stmt)).all()


async def create_incident(
    *, uow: UnitOfWork, keyring: Keyring, data: IncidentCreate, actor: str, now: datetime
) -> IncidentRead:
    session = uow.session
    for attempt in range(5):
        number = (await session.scalar(select(func.max(Incident.number)))) or 0
        incident_id = new_id()
        incident = Incident(
            id=incident_id,
            number=number + 1,
            status=IncidentStatus.NEW.value,
            priority=data.priority,
            chief_complaint=data.chief_complaint,
            address=data.address,
            lat=data.lat,
            lon=data.lon,
            mci=data.mci,
            created_by=actor,
            created_at=now,
            updated_at=now,
            **{
                col: keyring.seal_text(getattr(data, name), aad=_aad("incident", incident_id, name))
                for name, col in _SEALED_INCIDENT_FIELDS.items()
            },
        )
        session.add(incident)
        try:
            await session.flush()
            break
        except IntegrityError:
            # Two calls took the same number at once; take the next one.
            await session.rollback()
            if attempt == 4:
                raise Conflict("could not allocate an incident number; retry") from None
    patients = [
        _new_patient(incident_id, p, f"P{n}", keyring, now)
        for n, p in enumerate(data.patients, start=1)
    ]
    session.add_all(patients)
    _timeline(session, incident_id, actor, "created", now, priority=data.priority)
    uow.record(
        IncidentCreated(incident_id=incident_id, priority=data.priority, lat=data.lat, lon=data.lon)
    )
    await uow.commit()
    return _incident_read(incident, patients, keyring)


# Built once with bound parameters: building a statement and its cache key on each request
# cost about as much as running it.
_GET = (
    select(Incident, Patient)
    .outerjoin(Patient, Patient.incident_id == Incident.id)
    .where(Incident.id == bindparam("incident_id"))
    .order_by(Patient.created_at)
)
_GET_SCOPED = _GET.where(
    Incident.id.in_(
        select(IncidentDestination.incident_id).where(
            IncidentDestination.hospital_id == bindparam("hospital_id")
        )
    )
)


async def get_incident(
    *, session: AsyncSession, keyring: Keyring, incident_id: str, scope: Scope | None = None
) -> IncidentRead:
    # One statement: the incident (if the scope lets the caller see it) with its patients.
    # Three round trips before (row, scope check, patients): each a hand-off to the driver
    # and back, and most of a one-row read's CPU.
    if scope is None:
        rows = (await session.execute(_GET, {"incident_id": incident_id})).all()
    else:
        params = {"incident_id": incident_id, "hospital_id": scope.hospital_id}
        rows = (await session.execute(_GET_SCOPED, params)).all()
    if not rows:
        # Not "forbidden" for a scoped reader: whether it exists is not theirs to learn.
        raise NotFound(f"incident {incident_id} does not exist")
    patients = [row[1] for row in rows if row[1] is not None]
    return _incident_read(rows[0][0], patients, keyring, scoped=scope is not None)


async def _commit_guarded(uow: UnitOfWork) -> None:
    try:
        await uow.commit()
    except StaleDataError as exc:
        await uow.rollback()
        raise Conflict("the incident was changed by someone else at the same time; retry") from exc


async def update_incident(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    incident_id: str,
    data: IncidentUpdate,
    actor: str,
    now: datetime,
) -> IncidentRead:
    session = uow.session
    incident = await _load(session, incident_id, lock=True)
    if incident.status in {IncidentStatus.CLOSED.value, IncidentStatus.CANCELLED.value}:
        raise Conflict(f"incident {incident_id} is {incident.status}; it can no longer be edited")
    changed = data.model_dump(exclude_unset=True)
    for name, value in changed.items():
        if name in _SEALED_INCIDENT_FIELDS:
            sealed = keyring.seal_text(value, aad=_aad("incident", incident_id, name))
            setattr(incident, _SEALED_INCIDENT_FIELDS[name], sealed)
        else:
            setattr(incident, name, value)
    if changed:
        incident.updated_at = now
        # The timeline names the fields, never the personal values.
        _timeline(session, incident_id, actor, "updated", now, fields=sorted(changed))
        uow.record(IncidentUpdated(incident_id=incident_id, fields=tuple(sorted(changed))))
    await _commit_guarded(uow)
    return _incident_read(incident, await _patients(session, incident_id), keyring)


async def transition(
    *,
    session: AsyncSession,
    incident_id: str,
    target: IncidentStatus,
    actor: str,
    now: datetime,
    reason: str | None = None,
) -> Event:
    """Move an incident inside the caller's transaction (dispatch uses it to assign atomically).

    Returns the event to publish after the caller commits.
    """
    incident = await _load(session, incident_id, lock=True)
    current = IncidentStatus(incident.status)
    incident.status = next_status(current, target).value
    incident.updated_at = now
    _timeline(
        session,
        incident_id,
        actor,
        "status_changed",
        now,
        old=current.value,
        new=target.value,
        reason=reason,
    )
    return IncidentStatusChanged(
        incident_id=incident_id, old=current.value, new=target.value, actor=actor
    )


async def change_status(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    incident_id: str,
    change: StatusChange,
    actor: str,
    now: datetime,
) -> IncidentRead:
    """A move asked for by a person. "Dispatched" is not one: only an assignment makes it, so an
    incident is never dispatched without a unit."""
    if change.status is IncidentStatus.DISPATCHED:
        raise InvalidTransition(
            "an incident is dispatched by assigning a unit to it "
            f"(POST /api/dispatch/incidents/{incident_id}/assign), not by setting its status",
            requested=change.status.value,
        )
    event = await transition(
        session=uow.session,
        incident_id=incident_id,
        target=change.status,
        actor=actor,
        now=now,
        reason=change.reason,
    )
    uow.record(event)
    await _commit_guarded(uow)
    return await get_incident(session=uow.session, keyring=keyring, incident_id=incident_id)


async def set_findings(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    incident_id: str,
    findings: ClinicalFindings,
    actor: str,
    now: datetime,
) -> IncidentRead:
    """Replace the clinical findings and the condition override the destination rules read."""
    session = uow.session
    incident = await _load(session, incident_id, lock=True)
    if incident.status in {IncidentStatus.CLOSED.value, IncidentStatus.CANCELLED.value}:
        raise Conflict(f"incident {incident_id} is {incident.status}; it can no longer be edited")
    incident.findings_sealed = keyring.seal_text(
        findings.model_dump_json(), aad=_aad("incident", incident_id, "findings")
    )
    incident.updated_at = now
    # The timeline records that the findings changed and the override, not the free text.
    _timeline(session, incident_id, actor, "findings_changed", now, conditions=findings.conditions)
    uow.record(IncidentUpdated(incident_id=incident_id, fields=("findings",)))
    await _commit_guarded(uow)
    return _incident_read(incident, await _patients(session, incident_id), keyring)


async def triage_inputs(
    *, session: AsyncSession, keyring: Keyring, incident_id: str
) -> dict[str, dict[str, Any]]:
    """Each triaged patient's triage inputs (vital signs, consciousness, injury), by patient id:
    the destination rules read them (field triage's vital-sign criteria)."""
    out: dict[str, dict[str, Any]] = {}
    for p in await _patients(session, incident_id):
        raw = keyring.open_text(p.triage_sealed, aad=_aad("patient", p.id, "triage"))
        if raw is not None:
            inputs = json.loads(raw).get("inputs")
            if isinstance(inputs, dict):
                out[p.id] = inputs
    return out


async def timeline(
    *, session: AsyncSession, incident_id: str, scope: Scope | None = None
) -> Sequence[IncidentTimelineEntry]:
    await _load(session, incident_id)
    await _check_visible(session, incident_id, scope)
    stmt = (
        select(IncidentTimelineEntry)
        .where(IncidentTimelineEntry.incident_id == incident_id)
        .order_by(IncidentTimelineEntry.id)
    )
    return (await session.scalars(stmt)).all()


async def add_patient(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    incident_id: str,
    data: PatientCreate,
    actor: str,
    now: datetime,
) -> PatientRead:
    session = uow.session
    incident = await _load(session, incident_id, lock=True)
    if incident.status in {IncidentStatus.CLOSED.value, IncidentStatus.CANCELLED.value}:
        raise Conflict(f"incident {incident_id} is {incident.status}; no patients can be added")
    count = await session.scalar(
        select(func.count()).select_from(Patient).where(Patient.incident_id == incident_id)
    )
    patient = _new_patient(incident_id, data, f"P{(count or 0) + 1}", keyring, now)
    session.add(patient)
    _timeline(session, incident_id, actor, "patient_added", now, patient_id=patient.id)
    uow.record(PatientAdded(incident_id=incident_id, patient_id=patient.id))
    await uow.commit()
    return _patient_read(patient, keyring)


async def update_patient(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    incident_id: str,
    patient_id: str,
    data: PatientUpdate,
    actor: str,
    now: datetime,
) -> PatientRead:
    session = uow.session
    patient = await session.get(Patient, patient_id)
    if patient is None or patient.incident_id != incident_id:
        raise NotFound(f"patient {patient_id} is not on incident {incident_id}")
    changed = data.model_dump(exclude_unset=True)
    for name, value in changed.items():
        if name == "name":
            patient.name_sealed = keyring.seal_text(value, aad=_aad("patient", patient.id, "name"))
        else:
            setattr(patient, name, value)
    if changed:
        _timeline(
            session,
            incident_id,
            actor,
            "patient_updated",
            now,
            patient_id=patient_id,
            fields=sorted(changed),
        )
    await uow.commit()
    return _patient_read(patient, keyring)


async def get_patient(*, session: AsyncSession, keyring: Keyring, patient_id: str) -> PatientRead:
    patient = await session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(f"patient {patient_id} does not exist")
    return _patient_read(patient, keyring)


async def patient_ages(
    *, session: AsyncSession, patient_ids: Sequence[str]
) -> dict[str, int | None]:
    """Each existing patient's age in years (None when not recorded): telemetry scores a child
    with the paediatric early-warning score, not NEWS2."""
    if not patient_ids:
        return {}
    rows = await session.execute(
        select(Patient.id, Patient.age_years).where(Patient.id.in_(list(patient_ids)))
    )
    return {str(patient_id): age for patient_id, age in rows.all()}


async def record_triage(
    *,
    session: AsyncSession,
    keyring: Keyring,
    patient_id: str,
    acuity: int,
    news2: int | None,
    detail_json: str,
    actor: str,
    now: datetime,
) -> str:
    """Store a triage result on a patient inside the caller's transaction; returns the incident."""
    patient = await session.get(Patient, patient_id, with_for_update=True)
    if patient is None:
        raise NotFound(f"patient {patient_id} does not exist")
    patient.acuity = acuity
    patient.news2 = news2
    patient.triaged_at = now
    patient.triage_sealed = keyring.seal_text(
        detail_json, aad=_aad("patient", patient.id, "triage")
    )
    _timeline(
        session,
        patient.incident_id,
        actor,
        "patient_triaged",
        now,
        patient_id=patient_id,
        acuity=acuity,
        news2=news2,
    )
    return patient.incident_id
