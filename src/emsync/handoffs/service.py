"""Handoff use cases: drafting, sealing for the receiving hospital, the delivery lifecycle, the
append-only update log, the per-hospital outbox that makes delivery lossless, and FHIR export.

Content is opened only for the receiving hospital's staff (and for the crew while it is a draft);
everyone else sees routing metadata.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError
from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from emsync.core.clock import as_utc
from emsync.core.crypto import Keyring
from emsync.core.db import insert_ignoring_conflicts
from emsync.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from emsync.core.events import Event
from emsync.core.ids import new_id
from emsync.core.schemas import Page
from emsync.core.uow import UnitOfWork
from emsync.handoffs import atmist, fhir, fhir_rules, picture, sealing, signs
from emsync.handoffs.attachments import AttachmentKind, check_attachment
from emsync.handoffs.events import (
    HandoffAcknowledged,
    HandoffAcknowledgementOverdue,
    HandoffDrafted,
    HandoffDraftEdited,
    HandoffRedirected,
    HandoffSent,
    HandoffStatusChanged,
    HandoffUpdated,
)
from emsync.handoffs.lifecycle import AWAITING_ACK, EN_ROUTE, HandoffStatus, Side, next_status
from emsync.handoffs.models import (
    FeedCursor,
    Handoff,
    HandoffAttachment,
    HandoffUpdate,
    HospitalFeed,
    HospitalKey,
    OutboxEntry,
)
from emsync.handoffs.schemas import (
    AtmistRecord,
    AttachmentRead,
    DraftRequest,
    FeedEntryRead,
    FeedPage,
    HandoffCreate,
    HandoffDraftEdit,
    HandoffRead,
    UpdateCreate,
    UpdateRead,
    VitalSigns,
)
from emsync.incidents import get_incident, get_patient
from emsync.telemetry.public import recent_vitals

S = HandoffStatus


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking, in this domain's terms (built from the principal at the edge)."""

    actor: str
    hospital_id: str | None = None
    receives: bool = False  # HANDOFFS_RECEIVE: hospital staff
    writes: bool = False  # HANDOFFS_WRITE: crew and dispatch

    @classmethod
    def hospital(cls, hospital_id: str) -> Viewer:
        return cls(actor=f"hospital:{hospital_id}", hospital_id=hospital_id, receives=True)


# Feed entries a use case rendered from the rows in hand just before committing, for the live
# push that runs right after the commit in the same task (see handlers.push_handoff_events): the
# push then needs no second transaction to read back what this one wrote. Scoped to the request's
# context, so rendered (opened) content never outlives the request or crosses to another one.
_rendered: ContextVar[dict[tuple[str, int], FeedEntryRead] | None] = ContextVar(
    "handoffs_rendered_entries", default=None
)
_PENDING_OUTBOX = "handoffs_pending_outbox"  # session.info key: entries this transaction added
_LOGGED = "handoffs_logged_updates"  # session.info key: update rows it added, by (handoff, seq)


def rendered_entry(hospital_id: str, seq: int) -> FeedEntryRead | None:
    """The entry this request's use case rendered for the live push, taken once; else None."""
    rendered = _rendered.get()
    return rendered.pop((hospital_id, seq), None) if rendered else None


class HandoffNotReady(ValidationFailed):
    title = "Handoff not ready to send"
    type_slug = "handoff-not-ready"


# ---------------------------------------------------------------- hospital keys


def _key_aad(key_id: str) -> bytes:
    return f"handoff_hospital_key:{key_id}".encode()


async def _ensure_feed(session: AsyncSession, hospital_id: str) -> None:
    # Insert-or-ignore: two first handoffs for a hospital at once must not race to create it.
    table = cast(Table, HospitalFeed.__table__)
    await session.execute(
        insert_ignoring_conflicts(table, session.get_bind().dialect.name).values(
            hospital_id=hospital_id, last_seq=0
        )
    )


async def _new_key(
    session: AsyncSession,
    keyring: Keyring,
    hospital_id: str,
    version: int,
    actor: str,
    now: datetime,
) -> HospitalKey:
    pair = sealing.generate_key_pair()
    key_id = new_id()
    row = HospitalKey(
        id=key_id,
        hospital_id=hospital_id,
        version=version,
        public_key=pair.public,
        private_key_sealed=keyring.seal(pair.private, aad=_key_aad(key_id)),
        created_by=actor,
        created_at=now,
    )
    session.add(row)
    await _ensure_feed(session, hospital_id)
    await session.flush()
    return row


async def active_key(session: AsyncSession, hospital_id: str) -> HospitalKey | None:
    stmt = (
        select(HospitalKey)
        .where(HospitalKey.hospital_id == hospital_id)
        .order_by(HospitalKey.version.desc())
        .limit(1)
    )
    key = (await session.scalars(stmt)).first()
    if key is not None:
        session.info.setdefault(_KEYS, {})[key.id] = key
    return key


async def ensure_hospital_key(
    *, session: AsyncSession, keyring: Keyring, hospital_id: str, actor: str, now: datetime
) -> HospitalKey:
    """The hospital's active key pair, enrolling the hospital on its first handoff."""
    key = await active_key(session, hospital_id)
    return key or await _new_key(session, keyring, hospital_id, 1, actor, now)


async def rotate_hospital_key(
    *, session: AsyncSession, keyring: Keyring, hospital_id: str, actor: str, now: datetime
) -> HospitalKey:
    """A new active key pair; older pairs stay (sealed) so older handoffs still open."""
    current = await active_key(session, hospital_id)
    key = await _new_key(
        session, keyring, hospital_id, (current.version + 1) if current else 1, actor, now
    )
    await session.commit()
    return key


async def hospital_keys(*, session: AsyncSession, hospital_id: str) -> Sequence[HospitalKey]:
    stmt = (
        select(HospitalKey)
        .where(HospitalKey.hospital_id == hospital_id)
        .order_by(HospitalKey.version.desc())
    )
    return (await session.scalars(stmt)).all()


_KEYS = "handoffs_keys"  # session.info: hospital key rows by id (immutable once written)
_DATA_KEYS = "handoffs_data_keys"  # session.info: unwrapped data keys by (handoff, wrapped key)


async def _hospital_key(session: AsyncSession, key_id: str) -> HospitalKey | None:
    """The key row, loaded once per session: the identity map holds rows weakly, so a bare
    `session.get` in each helper went back to the database every time within one request."""
    keys: dict[str, HospitalKey] = session.info.setdefault(_KEYS, {})
    key = keys.get(key_id)
    if key is None:
        key = await session.get(HospitalKey, key_id)
        if key is not None:
            keys[key_id] = key
    return key


async def _data_key(session: AsyncSession, keyring: Keyring, handoff: Handoff) -> bytes:
    # Keyed by the wrapped key too: a redirect reseals the handoff under a new one.
    memo: dict[tuple[str, bytes], bytes] = session.info.setdefault(_DATA_KEYS, {})
    known = memo.get((handoff.id, handoff.wrapped_key))
    if known is not None:
        return known
    key = await _hospital_key(session, handoff.key_id)
    if key is None:
        raise NotFound(f"the key handoff {handoff.id} was sealed with is missing")
    private = keyring.open(key.private_key_sealed, aad=_key_aad(key.id))
    data_key = sealing.unwrap_data_key(
        handoff.wrapped_key, hospital_private=private, context=_context(handoff.id)
    )
    memo[(handoff.id, handoff.wrapped_key)] = data_key
    return data_key


def _context(handoff_id: str) -> bytes:
    return f"handoff:{handoff_id}".encode()


def _aad(handoff_id: str, part: str) -> bytes:
    return f"handoff:{handoff_id}:{part}".encode()


def _seal_json(data_key: bytes, value: Any, aad: bytes) -> bytes:
    return sealing.seal(data_key, json.dumps(value, default=str).encode(), aad=aad)


def _open_json(data_key: bytes, sealed: bytes, aad: bytes) -> Any:
    return json.loads(sealing.open_sealed(data_key, sealed, aad=aad))


# ---------------------------------------------------------------- outbox


async def _append_outbox(
    session: AsyncSession,
    handoff: Handoff,
    kind: str,
    now: datetime,
    *,
    hospital_id: str | None = None,
    update_seq: int | None = None,
    **meta: Any,
) -> tuple[str, int]:
    """One entry in the hospital's outbox. The counter row's lock orders concurrent writers, so
    seq order is commit order and a reader who has seen seq n has seen every entry below it."""
    target = hospital_id or handoff.hospital_id
    bump = (
        update(HospitalFeed)
        .where(HospitalFeed.hospital_id == target)
        .values(last_seq=HospitalFeed.last_seq + 1)
        .returning(HospitalFeed.last_seq)
    )
    seq = await session.scalar(bump)
    if seq is None:  # the hospital's first entry: create its counter, then count
        await _ensure_feed(session, target)
        seq = await session.scalar(bump)
    assert seq is not None
    entry = OutboxEntry(
        hospital_id=target,
        seq=seq,
        handoff_id=handoff.id,
        kind=kind,
        update_seq=handoff.last_update_seq if update_seq is None else update_seq,
        meta={
            "status": handoff.status,
            "acuity": handoff.acuity,
            "eta": handoff.eta.isoformat() if handoff.eta else None,
            **meta,
        },
        created_at=now,
    )
    session.add(entry)
    session.info.setdefault(_PENDING_OUTBOX, []).append(entry)
    return target, seq


def _append_log(
    session: AsyncSession,
    handoff: Handoff,
    kind: str,
    actor: str,
    now: datetime,
    *,
    payload: bytes | None = None,
    status_from: str | None = None,
    status_to: str | None = None,
) -> int:
    handoff.last_update_seq += 1
    row = HandoffUpdate(
        handoff_id=handoff.id,
        seq=handoff.last_update_seq,
        kind=kind,
        status_from=status_from,
        status_to=status_to,
        payload_sealed=payload,
        actor=actor,
        at=now,
    )
    session.add(row)
    session.info.setdefault(_LOGGED, {})[(handoff.id, row.seq)] = row
    return handoff.last_update_seq


# ---------------------------------------------------------------- reading


def may_open(viewer: Viewer, handoff: Handoff) -> bool:
    """The receiving hospital's staff open a handoff; the crew reads back its own draft."""
    if handoff.status == S.DRAFT.value:
        return viewer.writes
    return viewer.receives and viewer.hospital_id == handoff.hospital_id


def _may_see(viewer: Viewer, handoff: Handoff) -> bool:
    """Hospital staff see only handoffs for their hospital; crew and dispatch see metadata."""
    if viewer.hospital_id is not None and not viewer.writes:
        return handoff.hospital_id == viewer.hospital_id and handoff.status != S.DRAFT.value
    return True


async def _load(
    session: AsyncSession, handoff_id: str, viewer: Viewer | None = None, *, lock: bool = False
) -> Handoff:
    handoff = await session.get(Handoff, handoff_id, with_for_update=lock)
    if handoff is None or (viewer is not None and not _may_see(viewer, handoff)):
        raise NotFound(f"handoff {handoff_id} does not exist")
    return handoff


def _update_read(row: HandoffUpdate, data_key: bytes | None, handoff_id: str) -> UpdateRead:
    data = None
    if row.payload_sealed is not None and data_key is not None:
        data = _open_json(data_key, row.payload_sealed, _aad(handoff_id, f"update:{row.seq}"))
    return UpdateRead(
        seq=row.seq,
        kind=row.kind,
        at=as_utc(row.at),
        actor=row.actor,
        status_from=row.status_from,
        status_to=row.status_to,
        data=data,
    )


async def _key_version(session: AsyncSession, handoff: Handoff) -> int:
    key = await _hospital_key(session, handoff.key_id)
    return key.version if key else 0


async def _read(
    session: AsyncSession,
    keyring: Keyring,
    handoff: Handoff,
    viewer: Viewer,
    *,
    upto_update: int | None = None,
    upto_time: datetime | None = None,
    fresh: bool = False,
) -> HandoffRead:
    """`fresh`: the handoff was inserted by this very transaction, so it has no updates and no
    attachments yet and the two selects for them are skipped (they cost two round trips)."""
    base: dict[str, Any] = {
        "id": handoff.id,
        "status": S(handoff.status),
        "incident_id": handoff.incident_id,
        "patient_id": handoff.patient_id,
        "unit_id": handoff.unit_id,
        "hospital_id": handoff.hospital_id,
        "acuity": handoff.acuity,
        "eta": as_utc(handoff.eta) if handoff.eta else None,
        "key_version": await _key_version(session, handoff),
        "created_by": handoff.created_by,
        "created_at": as_utc(handoff.created_at),
        "updated_at": as_utc(handoff.updated_at),
        "sent_at": as_utc(handoff.sent_at) if handoff.sent_at else None,
        "acknowledged_at": as_utc(handoff.acknowledged_at) if handoff.acknowledged_at else None,
        "sealed": True,
    }
    if not may_open(viewer, handoff):
        return HandoffRead(**base)
    data_key = await _data_key(session, keyring, handoff)
    body = _open_json(data_key, handoff.content_sealed, _aad(handoff.id, "content"))
    content = AtmistRecord.model_validate(body["content"])
    updates: list[UpdateRead] = []
    attachments: Sequence[HandoffAttachment] = ()
    if not fresh:
        stmt = select(HandoffUpdate).where(HandoffUpdate.handoff_id == handoff.id)
        if upto_update is not None:
            stmt = stmt.where(HandoffUpdate.seq <= upto_update)
        rows = (await session.scalars(stmt.order_by(HandoffUpdate.seq))).all()
        updates = [_update_read(r, data_key, handoff.id) for r in rows]
        attachments = (
            await session.scalars(
                select(HandoffAttachment)
                .where(HandoffAttachment.handoff_id == handoff.id)
                .order_by(HandoffAttachment.created_at, HandoffAttachment.id)
            )
        ).all()
    clinical = picture.clinical_picture(content, updates)
    signs = [s.model_dump() for s in clinical.signs]
    problems = atmist.missing_for_send(
        content.model_dump(),
        acuity=handoff.acuity,
        eta=handoff.eta,
        hospital_id=handoff.hospital_id,
    )
    return HandoffRead(
        **base,
        # As stated (crew, triage); else as computed from the newest set that allows it.
        news2=body.get("news2")
        if body.get("news2") is not None
        else clinical.news2.total
        if clinical.news2
        else None,
        crew=body.get("crew"),
        content=content,
        trends={k: v.value for k, v in atmist.vital_trends(signs).items()},
        picture=clinical,
        problems=[{"field": p.field, "message": p.message} for p in problems]
        if handoff.status == S.DRAFT.value
        else None,
        updates=updates,
        attachments=[
            AttachmentRead(
                id=a.id,
                kind=AttachmentKind(a.kind),
                media_type=a.media_type,
                size=a.size,
                name=sealing.open_sealed(
                    data_key, a.name_sealed, aad=_aad(handoff.id, f"attachment:{a.id}:name")
                ).decode()
                if a.name_sealed
                else None,
                created_at=as_utc(a.created_at),
            )
            for a in attachments
            if upto_time is None or as_utc(a.created_at) <= upto_time
        ],
    )


async def get_handoff(
    *, session: AsyncSession, keyring: Keyring, handoff_id: str, viewer: Viewer
) -> HandoffRead:
    handoff = await _load(session, handoff_id, viewer)
    return await _read(session, keyring, handoff, viewer)


async def list_handoffs(
    *,
    session: AsyncSession,
    keyring: Keyring,
    viewer: Viewer,
    hospital_id: str | None,
    statuses: Sequence[HandoffStatus],
    incident_id: str | None,
    limit: int,
    offset: int,
) -> Page[HandoffRead]:
    """Routing metadata only (no content): the board of incoming or outgoing handoffs."""
    stmt = select(Handoff)
    if viewer.hospital_id is not None and not viewer.writes:
        if hospital_id not in (None, viewer.hospital_id):
            raise Forbidden("hospital staff see only their own hospital's handoffs")
        hospital_id = viewer.hospital_id
        stmt = stmt.where(Handoff.status != S.DRAFT.value)
    if hospital_id is not None:
        stmt = stmt.where(Handoff.hospital_id == hospital_id)
    if statuses:
        stmt = stmt.where(Handoff.status.in_([s.value for s in statuses]))
    if incident_id is not None:
        stmt = stmt.where(Handoff.incident_id == incident_id)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = (
        await session.scalars(
            stmt.order_by(Handoff.created_at.desc(), Handoff.id).limit(limit).offset(offset)
        )
    ).all()
    metadata_only = Viewer(actor=viewer.actor)
    items = [await _read(session, keyring, r, metadata_only) for r in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


# ---------------------------------------------------------------- drafting


def _event_base(handoff: Handoff, deliveries: Sequence[tuple[str, int]] = ()) -> dict[str, Any]:
    return {
        "handoff_id": handoff.id,
        "hospital_id": handoff.hospital_id,
        "incident_id": handoff.incident_id,
        "unit_id": handoff.unit_id,
        "status": handoff.status,
        "deliveries": tuple(deliveries),
    }


def _body(content: AtmistRecord, crew: Sequence[str], news2: int | None) -> dict[str, Any]:
    return {"content": content.model_dump(mode="json"), "crew": list(crew), "news2": news2}


async def _seal_new(
    session: AsyncSession,
    keyring: Keyring,
    handoff_id: str,
    hospital_id: str,
    actor: str,
    now: datetime,
) -> tuple[HospitalKey, bytes, bytes]:
    key = await ensure_hospital_key(
        session=session, keyring=keyring, hospital_id=hospital_id, actor=actor, now=now
    )
    data_key = sealing.new_data_key()
    wrapped = sealing.wrap_data_key(
        data_key, hospital_public=key.public_key, context=_context(handoff_id)
    )
    return key, data_key, wrapped


async def create_handoff(
    *, uow: UnitOfWork, keyring: Keyring, data: HandoffCreate, actor: str, now: datetime
) -> Handoff:
    """A draft sealed for its destination; `send` delivers it."""
    handoff = await _draft(uow, keyring, data, actor, now)
    await uow.commit()
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
    key, data_key, wrapped = await _seal_new(
        session, keyring, handoff_id, data.hospital_id, actor, now
    )
    handoff = Handoff(
        id=handoff_id,
        status=S.DRAFT.value,
        incident_id=data.incident_id,
        patient_id=data.patient_id,
        unit_id=data.unit_id,
        hospital_id=data.hospital_id,
        acuity=data.acuity,
        eta=data.eta,
        key_id=key.id,
        wrapped_key=wrapped,
        content_sealed=_seal_json(
            data_key, _body(content, data.crew, data.news2), _aad(handoff_id, "content")
        ),
        last_update_seq=0,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(handoff)
    await session.flush()
    uow.record(HandoffDrafted(**_event_base(handoff)))
    return handoff


async def create_and_read(
    *, uow: UnitOfWork, keyring: Keyring, data: HandoffCreate, viewer: Viewer, now: datetime
) -> HandoffRead:
    handoff = await _draft(uow, keyring, data, viewer.actor, now)
    # Inside this transaction, which inserted the handoff: no updates or attachments to select.
    read = await _read(uow.session, keyring, handoff, viewer, fresh=True)
    await uow.commit()
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
            content=None
            if patient_id is None
            else await _with_telemetry_signs(session, keyring, existing, patient_id, now),
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


async def _with_telemetry_signs(
    session: AsyncSession, keyring: Keyring, handoff: Handoff, patient_id: str, now: datetime
) -> AtmistRecord | None:
    """The draft's content with the readings since its newest telemetry set merged in by time
    (whatever the crew entered or edited stays as it is), or None when there is nothing new.
    Only later readings: a refresh extends the record instead of re-thinning the same half
    hour into ever more sets."""
    data_key = await _data_key(session, keyring, handoff)
    body = _open_json(data_key, handoff.content_sealed, _aad(handoff.id, "content"))
    content = AtmistRecord.model_validate(body["content"])
    newest = max((s.ts for s in content.signs if s.source == signs.TELEMETRY), default=None)
    fresh = await _telemetry_signs(session, keyring, patient_id, now, after=newest)
    if not fresh:
        return None
    current = [s.model_dump() for s in content.signs]
    merged = signs.merge(current, [s.model_dump() for s in fresh])
    if merged == current:
        return None
    return content.model_copy(update={"signs": [VitalSigns.model_validate(s) for s in merged]})


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
    data_key = await _data_key(session, keyring, handoff)
    body = _open_json(data_key, handoff.content_sealed, _aad(handoff.id, "content"))
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
        key, data_key, wrapped = await _seal_new(
            session, keyring, handoff.id, hospital_id, actor, now
        )
        await _reseal_children(
            session, handoff, old_key=await _data_key(session, keyring, handoff), new_key=data_key
        )
        handoff.hospital_id, handoff.key_id, handoff.wrapped_key = hospital_id, key.id, wrapped
    handoff.content_sealed = _seal_json(
        data_key, _body(content, crew, news2), _aad(handoff.id, "content")
    )
    handoff.updated_at = now
    uow.record(HandoffDraftEdited(**_event_base(handoff)))
    await _commit(uow, keyring)
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
    handoff = await _load(uow.session, handoff_id, viewer, lock=True)
    handoff = await _edit_draft(uow, keyring, handoff, edit, viewer.actor, now)
    return await _read(uow.session, keyring, handoff, viewer)


async def _flush(uow: UnitOfWork) -> None:
    """Flush now, so reads that follow in this transaction cannot meet a concurrent change."""
    try:
        await uow.session.flush()
    except StaleDataError as exc:
        await uow.rollback()
        raise Conflict("the handoff was changed by someone else at the same time; retry") from exc


async def _commit(uow: UnitOfWork, keyring: Keyring | None) -> None:
    """Commit and publish. Outbox entries written by this transaction are first rendered for
    their hospitals, inside it, so the live push after the commit reads nothing back."""
    pending: list[OutboxEntry] = uow.session.info.pop(_PENDING_OUTBOX, [])
    rendered = _rendered.get()
    if rendered is None:
        rendered = {}
        _rendered.set(rendered)
    try:
        if keyring is not None:
            for entry in pending:
                viewer = Viewer.hospital(entry.hospital_id)
                rendered[(entry.hospital_id, entry.seq)] = await entry_read(
                    uow.session, keyring, entry, viewer
                )
        await uow.commit()
    except StaleDataError as exc:
        await uow.rollback()
        raise Conflict("the handoff was changed by someone else at the same time; retry") from exc
    finally:
        # Opened content lives only until the push that follows the commit has run.
        for entry in pending:
            rendered.pop((entry.hospital_id, entry.seq), None)
        uow.session.info.pop(_LOGGED, None)


# ---------------------------------------------------------------- lifecycle


def _check_hospital(viewer: Viewer, handoff: Handoff) -> None:
    if not viewer.receives or viewer.hospital_id != handoff.hospital_id:
        raise Forbidden(f"only staff of hospital {handoff.hospital_id} may do this")


async def _move(
    uow: UnitOfWork,
    handoff: Handoff,
    target: HandoffStatus,
    side: Side,
    actor: str,
    now: datetime,
    *,
    outbox_kind: str = "status",
    reason: bytes | None = None,
) -> Event:
    """Move the handoff, log it, queue it for the hospital; returns the event to publish.

    `reason` is the sealed {"reason": ...} payload: free text may be clinical."""
    old = S(handoff.status)
    next_status(old, target, side)
    session = uow.session
    handoff.status = target.value
    handoff.updated_at = now
    if target in (S.SENT, S.REDIRECTED):
        handoff.sent_at = now
        handoff.overdue_alerted_at = None
    if target is S.ACKNOWLEDGED:
        handoff.acknowledged_at = now
    _append_log(
        session,
        handoff,
        "status",
        actor,
        now,
        payload=reason,
        status_from=old.value,
        status_to=target.value,
    )
    deliveries = []
    if old is not S.DRAFT or target is S.SENT:  # a hospital never hears of an unsent draft
        deliveries.append(
            await _append_outbox(
                session, handoff, outbox_kind, now, status_from=old.value, status_to=target.value
            )
        )
    kind: type[HandoffStatusChanged] = {
        S.SENT: HandoffSent,
        S.ACKNOWLEDGED: HandoffAcknowledged,
    }.get(target, HandoffStatusChanged)
    return kind(**_event_base(handoff, deliveries), old=old.value, new=target.value, actor=actor)


def _sealed_reason(data_key: bytes, handoff: Handoff, reason: str | None) -> bytes | None:
    if not reason:
        return None
    seq = handoff.last_update_seq + 1
    return _seal_json(data_key, {"reason": reason}, _aad(handoff.id, f"update:{seq}"))


def _ready_or_raise(content: dict[str, Any], handoff: Handoff) -> None:
    problems = atmist.missing_for_send(
        content, acuity=handoff.acuity, eta=handoff.eta, hospital_id=handoff.hospital_id
    )
    if problems:
        raise HandoffNotReady(
            "the handoff breaks ATMIST rules: "
            + "; ".join(f"{p.field}: {p.message}" for p in problems),
            errors=[{"field": p.field, "message": p.message} for p in problems],
        )


async def change_status(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    handoff_id: str,
    target: HandoffStatus,
    side: Side,
    viewer: Viewer,
    now: datetime,
    reason: str | None = None,
) -> HandoffRead:
    """Move a handoff along its lifecycle; a move the table forbids is a 409 and changes nothing."""
    session = uow.session
    handoff = await _load(session, handoff_id, viewer, lock=True)
    if side is Side.HOSPITAL:
        _check_hospital(viewer, handoff)
    if target is S.REDIRECTED:
        raise ValidationFailed("redirect with POST /api/handoffs/{id}/redirect and a hospital_id")
    next_status(S(handoff.status), target, side)
    data_key = await _data_key(session, keyring, handoff)
    outbox_kind = "status"
    if target is S.SENT:
        body = _open_json(data_key, handoff.content_sealed, _aad(handoff.id, "content"))
        _ready_or_raise(body["content"], handoff)
        outbox_kind = "handoff"  # the whole record, as it is when it leaves
    event = await _move(
        uow,
        handoff,
        target,
        side,
        viewer.actor,
        now,
        outbox_kind=outbox_kind,
        reason=_sealed_reason(data_key, handoff, reason),
    )
    uow.record(event)
    await _flush(uow)
    read = await _read(session, keyring, handoff, viewer)  # inside this transaction: no second
    await _commit(uow, keyring)
    return read


async def _reseal_children(
    session: AsyncSession, handoff: Handoff, *, old_key: bytes, new_key: bytes
) -> None:
    for row in (
        await session.scalars(select(HandoffUpdate).where(HandoffUpdate.handoff_id == handoff.id))
    ).all():
        if row.payload_sealed is not None:
            aad = _aad(handoff.id, f"update:{row.seq}")
            row.payload_sealed = sealing.seal(
                new_key, sealing.open_sealed(old_key, row.payload_sealed, aad=aad), aad=aad
            )
    for att in (
        await session.scalars(
            select(HandoffAttachment).where(HandoffAttachment.handoff_id == handoff.id)
        )
    ).all():
        aad = _aad(handoff.id, f"attachment:{att.id}")
        att.content_sealed = sealing.seal(
            new_key, sealing.open_sealed(old_key, att.content_sealed, aad=aad), aad=aad
        )
        if att.name_sealed is not None:
            name_aad = _aad(handoff.id, f"attachment:{att.id}:name")
            att.name_sealed = sealing.seal(
                new_key, sealing.open_sealed(old_key, att.name_sealed, aad=name_aad), aad=name_aad
            )


async def redirect(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    handoff_id: str,
    hospital_id: str,
    eta: datetime | None,
    viewer: Viewer,
    now: datetime,
    reason: str | None = None,
) -> HandoffRead:
    """Re-seal everything under a fresh data key for the new hospital; the first loses access
    (its outbox gets a content-free withdrawal)."""
    session = uow.session
    handoff = await _load(session, handoff_id, viewer, lock=True)
    if hospital_id == handoff.hospital_id:
        raise Conflict(f"handoff {handoff_id} is already for hospital {hospital_id}")
    old_status = S(handoff.status)
    next_status(old_status, S.REDIRECTED, Side.CREW)
    old_hospital = handoff.hospital_id
    old_key = await _data_key(session, keyring, handoff)
    content = sealing.open_sealed(old_key, handoff.content_sealed, aad=_aad(handoff.id, "content"))
    key, new_key, wrapped = await _seal_new(
        session, keyring, handoff.id, hospital_id, viewer.actor, now
    )
    await _reseal_children(session, handoff, old_key=old_key, new_key=new_key)
    handoff.content_sealed = sealing.seal(new_key, content, aad=_aad(handoff.id, "content"))
    handoff.key_id, handoff.wrapped_key = key.id, wrapped
    withdrawn = await _append_outbox(
        session, handoff, "withdrawn", now, hospital_id=old_hospital, status_to=S.REDIRECTED.value
    )
    handoff.hospital_id = hospital_id
    if eta is not None:
        handoff.eta = eta
    handoff.acknowledged_at = None
    event = await _move(
        uow,
        handoff,
        S.REDIRECTED,
        Side.CREW,
        viewer.actor,
        now,
        outbox_kind="handoff",
        reason=_sealed_reason(new_key, handoff, reason),
    )
    assert isinstance(event, HandoffStatusChanged)
    uow.record(
        HandoffRedirected(
            **{**_event_base(handoff, [withdrawn, *event.deliveries])},
            old=event.old,
            new=event.new,
            actor=viewer.actor,
            from_hospital_id=old_hospital,
        )
    )
    await _flush(uow)
    read = await _read(session, keyring, handoff, viewer)
    await _commit(uow, keyring)
    return read


# ---------------------------------------------------------------- updates and attachments


async def append_update(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    handoff_id: str,
    body: UpdateCreate,
    viewer: Viewer,
    now: datetime,
) -> UpdateRead:
    """Appended to the log and delivered in order; nothing earlier is overwritten."""
    session = uow.session
    handoff = await _load(session, handoff_id, viewer, lock=True)
    if S(handoff.status) not in EN_ROUTE:
        raise Conflict(
            f"handoff {handoff_id} is {handoff.status}: updates are appended only after sending "
            "and before handover (edit a draft instead)"
        )
    data_key = await _data_key(session, keyring, handoff)
    if body.eta is not None:
        handoff.eta = body.eta
    seq, payload = await _append_sealed_update(uow, handoff, data_key, body, viewer.actor, now)
    await _commit(uow, keyring)
    return UpdateRead(seq=seq, kind=body.kind, at=now, actor=viewer.actor, data=payload)


async def _append_sealed_update(
    uow: UnitOfWork,
    handoff: Handoff,
    data_key: bytes,
    body: UpdateCreate,
    actor: str,
    now: datetime,
) -> tuple[int, dict[str, Any]]:
    """One update: sealed into the handoff's log, queued on the hospital's feed, and recorded
    as an event. Returns its seq and the (plain) payload."""
    payload = body.model_dump(mode="json", exclude_none=True)
    seq = handoff.last_update_seq + 1
    sealed = _seal_json(data_key, payload, _aad(handoff.id, f"update:{seq}"))
    _append_log(uow.session, handoff, body.kind, actor, now, payload=sealed)
    handoff.updated_at = now
    delivery = await _append_outbox(uow.session, handoff, "update", now, update_kind=body.kind)
    uow.record(HandoffUpdated(**_event_base(handoff, [delivery]), update_seq=seq, kind=body.kind))
    return seq, payload


TELEMETRY_ACTOR = "system:telemetry"
# En route to a hospital that holds the handoff: the monitor's readings follow it there.
VITALS_FOLLOW = EN_ROUTE - {S.ARRIVED}


async def patients_due_vitals(
    *, session: AsyncSession, min_interval: timedelta, now: datetime
) -> list[str]:
    """Patients with a handoff en route whose last telemetry vitals update (if any) is at least
    `min_interval` old: the only ones whose readings a round needs to open."""
    rows = await session.execute(
        select(Handoff.patient_id, func.max(HandoffUpdate.at))
        .outerjoin(
            HandoffUpdate,
            (HandoffUpdate.handoff_id == Handoff.id)
            & (HandoffUpdate.kind == "vitals")
            & (HandoffUpdate.actor == TELEMETRY_ACTOR),
        )
        .where(
            Handoff.status.in_([s.value for s in VITALS_FOLLOW]),
            Handoff.patient_id.is_not(None),
        )
        .group_by(Handoff.id, Handoff.patient_id)
    )
    due = {
        patient_id
        for patient_id, at in rows.all()
        if patient_id is not None and (at is None or as_utc(at) <= now - min_interval)
    }
    return sorted(due)


async def append_telemetry_vitals(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    patient_id: str,
    readings: Sequence[tuple[datetime, dict[str, Any]]],
    min_interval: timedelta,
    now: datetime,
) -> int:
    """Append the newest usable of a patient's monitor readings as a vitals update to each of
    the patient's handoffs en route, at most one per handoff every `min_interval` (by the time
    the last one was appended), and never a reading at or before one it already carries from
    telemetry. Checked under the handoffs' row locks, so concurrent rounds append once.
    Returns how many updates were appended."""
    session = uow.session
    newest = next(
        (
            sign
            for ts, values in sorted(readings, key=lambda r: r[0], reverse=True)
            if (sign := signs.vital_set(ts, values)) is not None
        ),
        None,
    )
    if newest is None:
        return 0
    handoffs = (
        await session.scalars(
            select(Handoff)
            .where(
                Handoff.patient_id == patient_id,
                Handoff.status.in_([s.value for s in VITALS_FOLLOW]),
            )
            .order_by(Handoff.id)
            .with_for_update()
        )
    ).all()
    vitals = VitalSigns.model_validate(newest)
    appended = 0
    for handoff in handoffs:
        last = (
            await session.scalars(
                select(HandoffUpdate)
                .where(
                    HandoffUpdate.handoff_id == handoff.id,
                    HandoffUpdate.kind == "vitals",
                    HandoffUpdate.actor == TELEMETRY_ACTOR,
                )
                .order_by(HandoffUpdate.seq.desc())
                .limit(1)
            )
        ).first()
        if last is not None and as_utc(last.at) > now - min_interval:
            continue
        data_key = await _data_key(session, keyring, handoff)
        if vitals.ts <= _last_telemetry_ts(data_key, handoff, last):
            continue
        await _append_sealed_update(
            uow, handoff, data_key, UpdateCreate(kind="vitals", vitals=vitals), TELEMETRY_ACTOR, now
        )
        appended += 1
    await _commit(uow, keyring)
    return appended


def _last_telemetry_ts(data_key: bytes, handoff: Handoff, last: HandoffUpdate | None) -> datetime:
    """The time of the newest reading this handoff already carries from telemetry: in its last
    telemetry update, else among the sets filled into it as a draft."""
    if last is not None and last.payload_sealed is not None:
        data = _open_json(data_key, last.payload_sealed, _aad(handoff.id, f"update:{last.seq}"))
        return as_utc(datetime.fromisoformat(data["vitals"]["ts"]))
    body = _open_json(data_key, handoff.content_sealed, _aad(handoff.id, "content"))
    content = AtmistRecord.model_validate(body["content"])
    return max(
        (s.ts for s in content.signs if s.source == signs.TELEMETRY),
        default=datetime.min.replace(tzinfo=UTC),
    )


async def list_updates(
    *, session: AsyncSession, keyring: Keyring, handoff_id: str, viewer: Viewer, after: int = 0
) -> list[UpdateRead]:
    handoff = await _load(session, handoff_id, viewer)
    data_key = await _data_key(session, keyring, handoff) if may_open(viewer, handoff) else None
    rows = (
        await session.scalars(
            select(HandoffUpdate)
            .where(HandoffUpdate.handoff_id == handoff_id, HandoffUpdate.seq > after)
            .order_by(HandoffUpdate.seq)
        )
    ).all()
    return [_update_read(r, data_key, handoff_id) for r in rows]


async def add_attachment(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    handoff_id: str,
    kind: AttachmentKind,
    content: bytes,
    declared_type: str | None,
    filename: str | None,
    max_bytes: int,
    viewer: Viewer,
    now: datetime,
) -> AttachmentRead:
    checked = check_attachment(kind, content, declared=declared_type, max_bytes=max_bytes)
    if isinstance(checked, atmist.FieldProblem):
        raise ValidationFailed(
            checked.message, errors=[{"field": checked.field, "message": checked.message}]
        )
    session = uow.session
    handoff = await _load(session, handoff_id, viewer, lock=True)
    status = S(handoff.status)
    if status is not S.DRAFT and status not in EN_ROUTE:
        raise Conflict(f"handoff {handoff_id} is {handoff.status}; no attachments can be added")
    data_key = await _data_key(session, keyring, handoff)
    att_id = new_id()
    name = (filename or "").strip()[:200] or None
    session.add(
        HandoffAttachment(
            id=att_id,
            handoff_id=handoff.id,
            kind=kind.value,
            media_type=checked,
            size=len(content),
            name_sealed=sealing.seal(
                data_key, name.encode(), aad=_aad(handoff.id, f"attachment:{att_id}:name")
            )
            if name
            else None,
            content_sealed=sealing.seal(
                data_key, content, aad=_aad(handoff.id, f"attachment:{att_id}")
            ),
            created_by=viewer.actor,
            created_at=now,
        )
    )
    handoff.updated_at = now
    if status is not S.DRAFT:
        info = {
            "attachment_id": att_id,
            "kind": kind.value,
            "media_type": checked,
            "size": len(content),
        }
        seq = handoff.last_update_seq + 1
        sealed = _seal_json(data_key, info, _aad(handoff.id, f"update:{seq}"))
        _append_log(session, handoff, "attachment", viewer.actor, now, payload=sealed)
        delivery = await _append_outbox(session, handoff, "update", now, update_kind="attachment")
        uow.record(
            HandoffUpdated(**_event_base(handoff, [delivery]), update_seq=seq, kind="attachment")
        )
    await _commit(uow, keyring)
    return AttachmentRead(
        id=att_id, kind=kind, media_type=checked, size=len(content), name=name, created_at=now
    )


async def get_attachment(
    *, session: AsyncSession, keyring: Keyring, handoff_id: str, attachment_id: str, viewer: Viewer
) -> tuple[str, bytes]:
    handoff = await _load(session, handoff_id, viewer)
    att = await session.get(HandoffAttachment, attachment_id)
    if att is None or att.handoff_id != handoff_id:
        raise NotFound(f"attachment {attachment_id} is not on handoff {handoff_id}")
    if not may_open(viewer, handoff):
        raise Forbidden(f"only staff of hospital {handoff.hospital_id} may open this attachment")
    data_key = await _data_key(session, keyring, handoff)
    return att.media_type, sealing.open_sealed(
        data_key, att.content_sealed, aad=_aad(handoff.id, f"attachment:{att.id}")
    )


# ---------------------------------------------------------------- the feed


async def entry_read(
    session: AsyncSession, keyring: Keyring, entry: OutboxEntry, viewer: Viewer
) -> FeedEntryRead:
    """One outbox entry as the hospital receives it, live or on catch-up (the same shape)."""
    handoff = await _load(session, entry.handoff_id)
    base = FeedEntryRead(
        seq=entry.seq,
        kind=entry.kind,
        handoff_id=entry.handoff_id,
        update_seq=entry.update_seq,
        at=as_utc(entry.created_at),
        meta=entry.meta,
    )
    # A handoff redirected away is no longer this hospital's to open, whatever the entry says.
    if entry.kind == "withdrawn" or not may_open(viewer, handoff):
        base.withdrawn = handoff.hospital_id != entry.hospital_id
        return base
    if entry.kind == "handoff":
        base.handoff = await _read(
            session,
            keyring,
            handoff,
            viewer,
            upto_update=entry.update_seq,
            upto_time=as_utc(entry.created_at),
        )
    else:
        # The row this transaction just logged, when rendering its own entry for the push.
        row = session.info.get(_LOGGED, {}).get((handoff.id, entry.update_seq))
        if row is None:
            row = (
                await session.scalars(
                    select(HandoffUpdate).where(
                        HandoffUpdate.handoff_id == handoff.id,
                        HandoffUpdate.seq == entry.update_seq,
                    )
                )
            ).first()
        if row is not None:
            base.update = _update_read(row, await _data_key(session, keyring, handoff), handoff.id)
    return base


def check_feed_access(viewer: Viewer, hospital_id: str) -> None:
    if not viewer.receives or viewer.hospital_id != hospital_id:
        raise Forbidden(f"only staff of hospital {hospital_id} may read its handoff feed")


async def read_feed(
    *,
    session: AsyncSession,
    keyring: Keyring,
    hospital_id: str,
    after_seq: int | None,
    client_id: str | None,
    limit: int,
    viewer: Viewer,
) -> FeedPage:
    """Entries after `after_seq` (or after the client's acknowledged cursor), oldest first."""
    check_feed_access(viewer, hospital_id)
    if after_seq is None:
        after_seq = 0
        if client_id is not None:
            cursor = await session.get(FeedCursor, (hospital_id, client_id))
            after_seq = cursor.acked_seq if cursor else 0
    rows = (
        await session.scalars(
            select(OutboxEntry)
            .where(OutboxEntry.hospital_id == hospital_id, OutboxEntry.seq > after_seq)
            .order_by(OutboxEntry.seq)
            .limit(limit)
        )
    ).all()
    feed = await session.get(HospitalFeed, hospital_id)
    return FeedPage(
        hospital_id=hospital_id,
        entries=[await entry_read(session, keyring, r, viewer) for r in rows],
        last_seq=feed.last_seq if feed else 0,
    )


async def ack_feed(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    hospital_id: str,
    client_id: str,
    seq: int,
    viewer: Viewer,
    now: datetime,
) -> int:
    """Record a client's cursor; handoffs whose delivery it covers become `delivered`."""
    check_feed_access(viewer, hospital_id)
    session = uow.session
    feed = await session.get(HospitalFeed, hospital_id)
    last = feed.last_seq if feed else 0
    if seq > last:
        raise ValidationFailed(
            f"seq {seq} is beyond the feed's last entry {last}",
            errors=[{"field": "body.seq", "message": f"must be at most {last}"}],
        )
    cursor = await session.get(FeedCursor, (hospital_id, client_id), with_for_update=True)
    previous = cursor.acked_seq if cursor else 0
    if cursor is None:
        cursor = FeedCursor(
            hospital_id=hospital_id, client_id=client_id, acked_seq=seq, updated_at=now
        )
        session.add(cursor)
    elif seq > cursor.acked_seq:
        cursor.acked_seq, cursor.updated_at = seq, now
    if seq > previous:
        ids = (
            await session.scalars(
                select(OutboxEntry.handoff_id).where(
                    OutboxEntry.hospital_id == hospital_id,
                    OutboxEntry.kind == "handoff",
                    OutboxEntry.seq > previous,
                    OutboxEntry.seq <= seq,
                )
            )
        ).all()
        for handoff_id in dict.fromkeys(ids):
            handoff = await _load(session, handoff_id, lock=True)
            if handoff.hospital_id == hospital_id and S(handoff.status) in (S.SENT, S.REDIRECTED):
                uow.record(await _move(uow, handoff, S.DELIVERED, Side.HOSPITAL, viewer.actor, now))
    await _commit(uow, keyring)
    return max(seq, previous)


# ---------------------------------------------------------------- FHIR


async def fhir_bundle(
    *, session: AsyncSession, keyring: Keyring, handoff_id: str, viewer: Viewer
) -> dict[str, Any]:
    handoff = await _load(session, handoff_id, viewer)
    if not may_open(viewer, handoff):
        raise Forbidden(f"only staff of hospital {handoff.hospital_id} may export this handoff")
    read = await _read(session, keyring, handoff, viewer)
    assert read.content is not None
    assert read.picture is not None
    body = _open_json(
        await _data_key(session, keyring, handoff),
        handoff.content_sealed,
        _aad(handoff.id, "content"),
    )
    bundle = fhir.bundle(
        fhir.HandoffFacts(
            handoff_id=handoff.id,
            hospital_id=handoff.hospital_id,
            status=handoff.status,
            created_at=as_utc(handoff.created_at),
            eta=as_utc(handoff.eta) if handoff.eta else None,
            acuity=handoff.acuity,
            news2=body.get("news2"),  # as stated; the computed one is in the picture
            content=read.content.model_dump(),
            picture=read.picture.model_dump(),
            incident_id=handoff.incident_id,
            patient_id=handoff.patient_id,
            unit_id=handoff.unit_id,
            crew=read.crew or (),
        )
    )
    try:
        Bundle.model_validate(bundle)
    except ValidationError as exc:  # a defect in fhir.py, never the caller's input
        raise RuntimeError(f"the FHIR export of handoff {handoff.id} is invalid: {exc}") from exc
    broken = fhir_rules.problems(bundle)
    if broken:
        raise RuntimeError(f"the FHIR export of handoff {handoff.id} breaks: {broken}")
    return bundle


# ---------------------------------------------------------------- overdue acknowledgement


async def raise_overdue(
    *, uow: UnitOfWork, now: datetime, ack_timeout: timedelta, limit: int = 500
) -> list[HandoffAcknowledgementOverdue]:
    """Alert once per sending for every handoff still unacknowledged after `ack_timeout`."""
    session = uow.session
    rows = (
        await session.scalars(
            select(Handoff)
            .where(
                Handoff.status.in_([s.value for s in AWAITING_ACK]),
                Handoff.sent_at <= now - ack_timeout,
                Handoff.overdue_alerted_at.is_(None),
            )
            .order_by(Handoff.sent_at)
            .limit(limit)
        )
    ).all()
    alerts = []
    for handoff in rows:
        assert handoff.sent_at is not None
        handoff.overdue_alerted_at = now
        sent_at = as_utc(handoff.sent_at)
        alert = HandoffAcknowledgementOverdue(
            **_event_base(handoff),
            sent_at=sent_at.isoformat(),
            overdue_seconds=(now - sent_at).total_seconds(),
        )
        alerts.append(alert)
        uow.record(alert)
    await _commit(uow, None)  # alerts write no outbox entries
    return alerts


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
