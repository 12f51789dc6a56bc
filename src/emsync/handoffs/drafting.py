"""Drafting a handoff: from the crew's form or from triage and a chosen destination, with the
monitor's readings filled in, edited while it is a draft."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.crypto import Keyring
from emsync.core.errors import Conflict, ValidationFailed
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.handoffs import signs
from emsync.handoffs.events import (
    HandoffDrafted,
    HandoffDraftEdited,
)
from emsync.handoffs.keys import (
    cached_active_key,
    forget_active_key,
    handoff_data_key,
    open_json,
    part_aad,
    remember_content,
    remember_data_key,
    reseal_children,
    seal_for,
    seal_json,
    seal_new,
)
from emsync.handoffs.lifecycle import HandoffStatus
from emsync.handoffs.models import (
    Handoff,
)
from emsync.handoffs.outbox import commit, event_base, insert_handoff
from emsync.handoffs.reads import Viewer, load_handoff, read_handoff
from emsync.handoffs.schemas import (
    Assessment,
    AtmistRecord,
    DraftRequest,
    HandoffCreate,
    HandoffDraftEdit,
    HandoffRead,
    VitalSigns,
)
from emsync.incidents import IncidentRead, get_incident, get_patient
from emsync.telemetry.public import recent_vitals

S = HandoffStatus


def _body(content: AtmistRecord, crew: Sequence[str], news2: int | None) -> dict[str, Any]:
    return {"content": content.model_dump(mode="json"), "crew": list(crew), "news2": news2}


async def create_handoff(
    *, uow: UnitOfWork, keyring: Keyring, data: HandoffCreate, actor: str, now: datetime
) -> Handoff:
    """A draft sealed for its destination; `send` delivers it."""
    handoff = await _draft(uow, keyring, data, actor, now)
    await commit(uow, keyring)
    return handoff


async def _draft(
    uow: UnitOfWork, keyring: Keyring, data: HandoffCreate, actor: str, now: datetime
) -> Handoff:
    session = uow.session
    content = data.content
    if data.patient_id is not None and not content.signs:
        filled = await _telemetry_signs(session, keyring, data.patient_id, now)
        if filled:
            content = content.model_copy(update={"signs": filled})
    handoff_id = new_id()
    body = _body(content, data.crew, data.news2)

    def row(key_id: str, data_key: bytes, wrapped: bytes) -> dict[str, Any]:
        return {
            "id": handoff_id,
            "status": S.DRAFT.value,
            "incident_id": data.incident_id,
            "patient_id": data.patient_id,
            "unit_id": data.unit_id,
            "hospital_id": data.hospital_id,
            "acuity": data.acuity,
            "eta": data.eta,
            "key_id": key_id,
            "wrapped_key": wrapped,
            "content_sealed": seal_json(data_key, body, part_aad(handoff_id, "content")),
            "created_by": actor,
            "created_at": now,
            "updated_at": now,
            "sent_at": None,
            "acknowledged_at": None,
            "overdue_alerted_at": None,
        }

    handoff = None
    cached = cached_active_key(data.hospital_id)
    if cached is not None:  # sealed for the key last read, inserted only if it is still active
        data_key, wrapped = seal_for(cached.public_key, handoff_id)
        handoff = await insert_handoff(session, row(cached.id, data_key, wrapped), key_checked=True)
        if handoff is None:  # rotated meanwhile (by any process): read the active key
            forget_active_key(data.hospital_id)
    if handoff is None:
        key, data_key, wrapped = await seal_new(
            session, keyring, handoff_id, data.hospital_id, actor, now
        )
        handoff = await insert_handoff(session, row(key.id, data_key, wrapped))
    assert handoff is not None
    remember_data_key(session, handoff, data_key)
    remember_content(session, handoff, body)
    uow.record(HandoffDrafted(**event_base(handoff)))
    return handoff


async def create_and_read(
    *, uow: UnitOfWork, keyring: Keyring, data: HandoffCreate, viewer: Viewer, now: datetime
) -> HandoffRead:
    handoff = await _draft(uow, keyring, data, viewer.actor, now)
    # Inside this transaction, which inserted the handoff: no updates or attachments to select.
    read = await read_handoff(uow.session, keyring, handoff, viewer, fresh=True)
    # Rendered for the board inside it too: the push after the commit reads nothing back.
    await commit(uow, keyring)
    return read


async def draft_from_inputs(
    *, uow: UnitOfWork, keyring: Keyring, request: DraftRequest, actor: str, now: datetime
) -> Handoff:
    """The bridge: a triaged patient and a chosen destination become a draft for the unit.

    Pulls what exists (incident complaint and time, patient age, sex, acuity, NEWS2). Calling it
    again for the same patient updates the open draft instead of making a second one.
    """
    session = uow.session
    incident = await get_incident(session=session, keyring=keyring, incident_id=request.incident_id)
    patient_id = request.patient_id
    if patient_id is None and len(incident.patients) == 1:
        patient_id = incident.patients[0].id
    patient = None
    if patient_id is not None:
        patient = await get_patient(session=session, keyring=keyring, patient_id=patient_id)
        if patient.incident_id != incident.id:
            raise ValidationFailed(
                f"patient {patient_id} is not on incident {incident.id}", field="patient_id"
            )
    existing = (
        await session.scalars(
            select(Handoff)
            .where(
                Handoff.incident_id == incident.id,
                Handoff.patient_id == patient_id
                if patient_id is not None
                else Handoff.patient_id.is_(None),
                Handoff.status == S.DRAFT.value,
            )
            .with_for_update()
        )
    ).first()
    if existing is not None:
        edit = HandoffDraftEdit(
            unit_id=request.unit_id or existing.unit_id,
            eta=request.eta or existing.eta,
            acuity=patient.acuity if patient and patient.acuity else existing.acuity,
            content=await _refreshed(
                session, keyring, existing, patient_id, _assessment(incident), now
            ),
        )
        return await _edit_draft(
            uow, keyring, existing, edit, actor, now, hospital_id=request.hospital_id
        )
    content = AtmistRecord(
        patient={
            "name": patient.name if patient else None,
            "age_years": patient.age_years if patient else None,
            "sex": patient.sex if patient else None,
        },
        mechanism=incident.chief_complaint,
        notes=None,
        assessment=_assessment(incident),
    )
    return await create_handoff(
        uow=uow,
        keyring=keyring,
        data=HandoffCreate(
            incident_id=incident.id,
            patient_id=patient_id,
            unit_id=request.unit_id,
            hospital_id=request.hospital_id,
            eta=request.eta,
            acuity=patient.acuity if patient else None,
            news2=patient.news2 if patient else None,
            content=content,
        ),
        actor=actor,
        now=now,
    )


async def _telemetry_signs(
    session: AsyncSession,
    keyring: Keyring,
    patient_id: str,
    now: datetime,
    *,
    after: datetime | None = None,
) -> list[VitalSigns]:
    """The patient's monitor readings of the last half hour (only those later than `after`)
    as at most six sign sets."""
    since = now - signs.WINDOW
    readings = await recent_vitals(
        session=session,
        keyring=keyring,
        patient_id=patient_id,
        since=since if after is None else max(since, after),
    )
    if after is not None:
        readings = [r for r in readings if r[0] > after]
    return [VitalSigns.model_validate(s) for s in signs.telemetry_signs(readings)]


def _assessment(incident: IncidentRead) -> Assessment | None:
    """The incident's clinical findings as the handoff carries them (None when none recorded)."""
    f = incident.findings
    found = Assessment(
        befast=list(f.befast),
        ecg=f.ecg,
        gcs_motor=f.gcs_motor,
        injury_mechanism=f.mechanism,
        conditions=None if f.conditions is None else list(f.conditions),
    )
    return None if found.is_empty() else found


async def _refreshed(
    session: AsyncSession,
    keyring: Keyring,
    handoff: Handoff,
    patient_id: str | None,
    assessment: Assessment | None,
    now: datetime,
) -> AtmistRecord | None:
    """The draft's content with the incident's current findings and the patient's readings
    since its newest telemetry set merged in by time (whatever the crew entered or edited stays
    as it is), or None when nothing changed. Only later readings: a refresh extends the record
    instead of re-thinning the same half hour into ever more sets."""
    data_key = await handoff_data_key(session, keyring, handoff)
    body = open_json(data_key, handoff.content_sealed, part_aad(handoff.id, "content"))
    content = AtmistRecord.model_validate(body["content"])
    refreshed = content
    if assessment is not None and assessment != content.assessment:
        refreshed = refreshed.model_copy(update={"assessment": assessment})
    if patient_id is not None:
        newest = max((s.ts for s in content.signs if s.source == signs.TELEMETRY), default=None)
        fresh = await _telemetry_signs(session, keyring, patient_id, now, after=newest)
        current = [s.model_dump() for s in content.signs]
        merged = signs.merge(current, [s.model_dump() for s in fresh]) if fresh else current
        if merged != current:
            new_signs = [VitalSigns.model_validate(s) for s in merged]
            refreshed = refreshed.model_copy(update={"signs": new_signs})
    return None if refreshed is content else refreshed


async def _edit_draft(
    uow: UnitOfWork,
    keyring: Keyring,
    handoff: Handoff,
    edit: HandoffDraftEdit,
    actor: str,
    now: datetime,
    *,
    hospital_id: str | None = None,
) -> Handoff:
    session = uow.session
    if handoff.status != S.DRAFT.value:
        raise Conflict(
            f"handoff {handoff.id} is {handoff.status}; append an update instead of editing it"
        )
    data_key = await handoff_data_key(session, keyring, handoff)
    body = open_json(data_key, handoff.content_sealed, part_aad(handoff.id, "content"))
    changes = edit.model_dump(exclude_unset=True)
    content = (
        edit.content if edit.content is not None else AtmistRecord.model_validate(body["content"])
    )
    crew = edit.crew if edit.crew is not None else body.get("crew", [])
    news2 = changes["news2"] if "news2" in changes else body.get("news2")
    for name in ("unit_id", "eta", "acuity"):
        if name in changes:
            setattr(handoff, name, changes[name])
    if hospital_id is not None and hospital_id != handoff.hospital_id:
        key, data_key, wrapped = await seal_new(
            session, keyring, handoff.id, hospital_id, actor, now
        )
        await reseal_children(
            session,
            handoff,
            old_key=await handoff_data_key(session, keyring, handoff),
            new_key=data_key,
        )
        handoff.hospital_id, handoff.key_id, handoff.wrapped_key = hospital_id, key.id, wrapped
    handoff.content_sealed = seal_json(
        data_key, _body(content, crew, news2), part_aad(handoff.id, "content")
    )
    handoff.updated_at = now
    uow.record(HandoffDraftEdited(**event_base(handoff)))
    await commit(uow, keyring)
    return handoff


async def edit_draft(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    handoff_id: str,
    edit: HandoffDraftEdit,
    viewer: Viewer,
    now: datetime,
) -> HandoffRead:
    handoff = await load_handoff(uow.session, handoff_id, viewer, lock=True)
    handoff = await _edit_draft(uow, keyring, handoff, edit, viewer.actor, now)
    return await read_handoff(uow.session, keyring, handoff, viewer)


async def refresh_drafts_from_triage(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    patient_id: str,
    acuity: int | None,
    news2: int | None,
    actor: str,
    now: datetime,
) -> int:
    """Put a new triage result on the patient's open drafts; returns how many were refreshed."""
    session = uow.session
    drafts = (
        await session.scalars(
            select(Handoff).where(Handoff.patient_id == patient_id, Handoff.status == S.DRAFT.value)
        )
    ).all()
    edit = HandoffDraftEdit.model_validate(
        {k: v for k, v in (("acuity", acuity), ("news2", news2)) if v is not None}
    )
    for handoff in drafts:
        await _edit_draft(uow, keyring, handoff, edit, actor, now)
    return len(drafts)
