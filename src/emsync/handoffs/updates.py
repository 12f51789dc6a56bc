"""The append-only update log of a handoff en route: crew updates, the monitor's vitals that
follow the patient, and attachments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.clock import as_utc
from emsync.core.crypto import Keyring
from emsync.core.errors import Conflict, ValidationFailed
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.handoffs import atmist, sealing, signs
from emsync.handoffs.attachments import AttachmentKind, check_attachment
from emsync.handoffs.events import (
    HandoffUpdated,
)
from emsync.handoffs.keys import handoff_data_key, open_json, part_aad, seal_json
from emsync.handoffs.lifecycle import EN_ROUTE, HandoffStatus
from emsync.handoffs.models import (
    Handoff,
    HandoffAttachment,
    HandoffUpdate,
)
from emsync.handoffs.outbox import append_log, append_outbox, commit, event_base
from emsync.handoffs.reads import Viewer, load_handoff
from emsync.handoffs.schemas import (
    AtmistRecord,
    AttachmentRead,
    UpdateCreate,
    UpdateRead,
    VitalSigns,
)

S = HandoffStatus


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
    handoff = await load_handoff(session, handoff_id, viewer, lock=True)
    if S(handoff.status) not in EN_ROUTE:
        raise Conflict(
            f"handoff {handoff_id} is {handoff.status}: updates are appended only after sending "
            "and before handover (edit a draft instead)"
        )
    data_key = await handoff_data_key(session, keyring, handoff)
    if body.eta is not None:
        handoff.eta = body.eta
    seq, payload = await _append_sealed_update(uow, handoff, data_key, body, viewer.actor, now)
    await commit(uow, keyring)
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
    sealed = seal_json(data_key, payload, part_aad(handoff.id, f"update:{seq}"))
    await append_log(uow.session, handoff, body.kind, actor, now, payload=sealed)
    handoff.updated_at = now
    delivery = await append_outbox(uow.session, handoff, "update", now, update_kind=body.kind)
    uow.record(HandoffUpdated(**event_base(handoff, [delivery]), update_seq=seq, kind=body.kind))
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
        data_key = await handoff_data_key(session, keyring, handoff)
        if vitals.ts <= _last_telemetry_ts(data_key, handoff, last):
            continue
        await _append_sealed_update(
            uow, handoff, data_key, UpdateCreate(kind="vitals", vitals=vitals), TELEMETRY_ACTOR, now
        )
        appended += 1
    await commit(uow, keyring)
    return appended


def _last_telemetry_ts(data_key: bytes, handoff: Handoff, last: HandoffUpdate | None) -> datetime:
    """The time of the newest reading this handoff already carries from telemetry: in its last
    telemetry update, else among the sets filled into it as a draft."""
    if last is not None and last.payload_sealed is not None:
        data = open_json(data_key, last.payload_sealed, part_aad(handoff.id, f"update:{last.seq}"))
        return as_utc(datetime.fromisoformat(data["vitals"]["ts"]))
    body = open_json(data_key, handoff.content_sealed, part_aad(handoff.id, "content"))
    content = AtmistRecord.model_validate(body["content"])
    return max(
        (s.ts for s in content.signs if s.source == signs.TELEMETRY),
        default=datetime.min.replace(tzinfo=UTC),
    )


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
    handoff = await load_handoff(session, handoff_id, viewer, lock=True)
    status = S(handoff.status)
    if status is not S.DRAFT and status not in EN_ROUTE:
        raise Conflict(f"handoff {handoff_id} is {handoff.status}; no attachments can be added")
    data_key = await handoff_data_key(session, keyring, handoff)
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
                data_key, name.encode(), aad=part_aad(handoff.id, f"attachment:{att_id}:name")
            )
            if name
            else None,
            content_sealed=sealing.seal(
                data_key, content, aad=part_aad(handoff.id, f"attachment:{att_id}")
            ),
            created_by=viewer.actor,
            created_at=now,
        )
    )
    handoff.updated_at = now
    handoff.attachment_count += 1
    if status is not S.DRAFT:
        info = {
            "attachment_id": att_id,
            "kind": kind.value,
            "media_type": checked,
            "size": len(content),
        }
        seq = handoff.last_update_seq + 1
        sealed = seal_json(data_key, info, part_aad(handoff.id, f"update:{seq}"))
        await append_log(session, handoff, "attachment", viewer.actor, now, payload=sealed)
        delivery = await append_outbox(session, handoff, "update", now, update_kind="attachment")
        uow.record(
            HandoffUpdated(**event_base(handoff, [delivery]), update_seq=seq, kind="attachment")
        )
    await commit(uow, keyring)
    return AttachmentRead(
        id=att_id, kind=kind, media_type=checked, size=len(content), name=name, created_at=now
    )
