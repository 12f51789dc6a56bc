"""The delivery lifecycle: moving a handoff along its status table, redirecting it to
another hospital, and alerting on acknowledgements that are overdue."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from emsync.core.clock import as_utc
from emsync.core.crypto import Keyring
from emsync.core.errors import Conflict, Forbidden, ValidationFailed
from emsync.core.events import Event
from emsync.core.uow import UnitOfWork
from emsync.handoffs import atmist, sealing
from emsync.handoffs.events import (
    HandoffAcknowledged,
    HandoffAcknowledgementOverdue,
    HandoffRedirected,
    HandoffSent,
    HandoffStatusChanged,
)
from emsync.handoffs.keys import (
    handoff_data_key,
    open_content,
    part_aad,
    reseal_children,
    seal_json,
    seal_new,
)
from emsync.handoffs.lifecycle import AWAITING_ACK, HandoffStatus, Side, next_status
from emsync.handoffs.models import (
    Handoff,
)
from emsync.handoffs.outbox import (
    append_outbox,
    commit,
    event_base,
    flush,
    log_update,
    write_handoff,
)
from emsync.handoffs.reads import LoggedUpdate, Viewer, load_handoff, may_open, read_handoff
from emsync.handoffs.schemas import (
    HandoffRead,
)

S = HandoffStatus


class HandoffNotReady(ValidationFailed):
    title = "Handoff not ready to send"
    type_slug = "handoff-not-ready"


# ---------------------------------------------------------------- lifecycle


def check_hospital(viewer: Viewer, handoff: Handoff) -> None:
    if not viewer.receives or viewer.hospital_id != handoff.hospital_id:
        raise Forbidden(f"only staff of hospital {handoff.hospital_id} may do this")


async def move(
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
    seq = handoff.last_update_seq + 1
    alerted = handoff.overdue_alerted_at is not None  # before a (re)sending clears it
    values: dict[str, Any] = {"status": target.value, "updated_at": now, "last_update_seq": seq}
    if target in (S.SENT, S.REDIRECTED):
        values.update(sent_at=now, overdue_alerted_at=None)
    if target is S.ACKNOWLEDGED:
        values["acknowledged_at"] = now
    delivered = old is not S.DRAFT or target is S.SENT  # a hospital never hears of a draft
    moved = await write_handoff(session, handoff, fold=delivered, **values)
    log = LoggedUpdate(handoff.id, seq, "status", old.value, target.value, reason, actor, now)
    deliveries = []
    if delivered:
        # The row's UPDATE and its log row go with the entry (one statement on PostgreSQL:
        # outbox.append_outbox).
        deliveries.append(
            await append_outbox(
                session,
                handoff,
                outbox_kind,
                now,
                log=log,
                moved=moved,
                status_from=old.value,
                status_to=target.value,
            )
        )
    else:
        await log_update(
            session,
            handoff.id,
            seq,
            "status",
            actor,
            now,
            payload=reason,
            status_from=old.value,
            status_to=target.value,
        )
    base = {**event_base(handoff, deliveries), "old": old.value, "new": target.value}
    if target is S.ACKNOWLEDGED:
        return HandoffAcknowledged(**base, actor=actor, overdue_alerted=alerted)
    kind = HandoffSent if target is S.SENT else HandoffStatusChanged
    return kind(**base, actor=actor)


def sealed_reason(data_key: bytes, handoff: Handoff, reason: str | None) -> bytes | None:
    if not reason:
        return None
    seq = handoff.last_update_seq + 1
    return seal_json(data_key, {"reason": reason}, part_aad(handoff.id, f"update:{seq}"))


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
    handoff = await load_handoff(session, handoff_id, viewer, lock=True)
    if side is Side.HOSPITAL:
        check_hospital(viewer, handoff)
    if target is S.REDIRECTED:
        raise ValidationFailed("redirect with POST /api/handoffs/{id}/redirect and a hospital_id")
    next_status(S(handoff.status), target, side)
    data_key = await handoff_data_key(session, keyring, handoff)
    outbox_kind = "status"
    if target is S.SENT:
        # Opened once for the transaction: rendering the hospital's entry reads it again.
        _ready_or_raise(open_content(session, data_key, handoff)["content"], handoff)
        outbox_kind = "handoff"  # the whole record, as it is when it leaves
    event = await move(
        uow,
        handoff,
        target,
        side,
        viewer.actor,
        now,
        outbox_kind=outbox_kind,
        reason=sealed_reason(data_key, handoff, reason),
    )
    uow.record(event)
    await flush(uow)
    read = await read_handoff(
        session, keyring, handoff, viewer
    )  # inside this transaction: no second
    # An answer without content (the crew's, once sent) is the board's view too.
    await commit(uow, keyring, board=None if may_open(viewer, handoff) else read)
    return read


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
    handoff = await load_handoff(session, handoff_id, viewer, lock=True)
    if hospital_id == handoff.hospital_id:
        raise Conflict(f"handoff {handoff_id} is already for hospital {hospital_id}")
    old_status = S(handoff.status)
    next_status(old_status, S.REDIRECTED, Side.CREW)
    old_hospital = handoff.hospital_id
    old_key = await handoff_data_key(session, keyring, handoff)
    content = sealing.open_sealed(
        old_key, handoff.content_sealed, aad=part_aad(handoff.id, "content")
    )
    key, new_key, wrapped = await seal_new(
        session, keyring, handoff.id, hospital_id, viewer.actor, now
    )
    await reseal_children(session, handoff, old_key=old_key, new_key=new_key)
    handoff.content_sealed = sealing.seal(new_key, content, aad=part_aad(handoff.id, "content"))
    handoff.key_id, handoff.wrapped_key = key.id, wrapped
    withdrawn = await append_outbox(
        session, handoff, "withdrawn", now, hospital_id=old_hospital, status_to=S.REDIRECTED.value
    )
    handoff.hospital_id = hospital_id
    if eta is not None:
        handoff.eta = eta
    handoff.acknowledged_at = None
    event = await move(
        uow,
        handoff,
        S.REDIRECTED,
        Side.CREW,
        viewer.actor,
        now,
        outbox_kind="handoff",
        reason=sealed_reason(new_key, handoff, reason),
    )
    assert isinstance(event, HandoffStatusChanged)
    uow.record(
        HandoffRedirected(
            **{**event_base(handoff, [withdrawn, *event.deliveries])},
            old=event.old,
            new=event.new,
            actor=viewer.actor,
            from_hospital_id=old_hospital,
        )
    )
    await flush(uow)
    read = await read_handoff(session, keyring, handoff, viewer)
    await commit(uow, keyring)
    return read


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
            **event_base(handoff),
            sent_at=sent_at.isoformat(),
            overdue_seconds=(now - sent_at).total_seconds(),
        )
        alerts.append(alert)
        uow.record(alert)
    await commit(uow, None)  # alerts write no outbox entries
    return alerts
