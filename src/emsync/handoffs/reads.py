"""Reading handoffs: who may see and open what, and a handoff as its viewer sees it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from emsync.core.clock import as_utc
from emsync.core.crypto import Keyring
from emsync.core.errors import Forbidden, NotFound
from emsync.core.schemas import Page
from emsync.handoffs import atmist, picture, sealing
from emsync.handoffs.attachments import AttachmentKind
from emsync.handoffs.keys import (
    handoff_data_key,
    hospital_key,
    open_content,
    open_json,
    part_aad,
)
from emsync.handoffs.lifecycle import HandoffStatus
from emsync.handoffs.models import (
    Handoff,
    HandoffAttachment,
    HandoffUpdate,
)
from emsync.handoffs.schemas import (
    AtmistRecord,
    AttachmentRead,
    HandoffRead,
    UpdateRead,
)

S = HandoffStatus


@dataclass(frozen=True, slots=True)
class CrewScope:
    """An ambulance crew's reach: the handoffs of its own unit and of the call it is on.

    A handoff names its unit by id or by call sign (the crew view writes the call sign; another
    hub's unit has only a name), so both count. `units` empty: the account's unit is unknown,
    and the crew sees no handoff at all."""

    units: frozenset[str]
    incident_id: str | None

    def covers(self, handoff: Handoff) -> bool:
        if handoff.unit_id is not None and handoff.unit_id in self.units:
            return True
        return self.incident_id is not None and handoff.incident_id == self.incident_id

    def covers_new(self, *, incident_id: str, unit_id: str | None) -> bool:
        """May this crew write a handoff for that call and unit? Only its current call, and
        only as its own unit."""
        if self.incident_id is None or incident_id != self.incident_id:
            return False
        return unit_id is None or unit_id in self.units


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking, in this domain's terms (built from the principal at the edge)."""

    actor: str
    hospital_id: str | None = None
    receives: bool = False  # HANDOFFS_RECEIVE: hospital staff
    writes: bool = False  # HANDOFFS_WRITE: crew and dispatch
    # Set for the crew role only (it has no incidents:read): it reaches its own unit's
    # handoffs and its current call's, nothing else (issue #23: crews read only their call).
    crew: CrewScope | None = None

    @classmethod
    def hospital(cls, hospital_id: str) -> Viewer:
        return cls(actor=f"hospital:{hospital_id}", hospital_id=hospital_id, receives=True)


# Who the crew and dispatch board's view is rendered for: routing metadata only, never content.
BOARD_VIEWER = Viewer(actor="system:push")


# ---------------------------------------------------------------- reading


def may_open(viewer: Viewer, handoff: Handoff) -> bool:
    """The receiving hospital's staff open a handoff; the crew reads back its own draft."""
    if handoff.status == S.DRAFT.value:
        return viewer.writes and may_see(viewer, handoff)
    return viewer.receives and viewer.hospital_id == handoff.hospital_id


def may_see(viewer: Viewer, handoff: Handoff) -> bool:
    """Hospital staff see only handoffs for their hospital; a crew only its unit's and its call's;
    dispatch sees metadata of all."""
    if viewer.crew is not None:
        return viewer.crew.covers(handoff)
    if viewer.hospital_id is not None and not viewer.writes:
        return handoff.hospital_id == viewer.hospital_id and handoff.status != S.DRAFT.value
    return True


# The handoff by id, built once: `session.get` builds, and keys for the statement cache, a new
# SELECT on every call (it costs ~1.5x this prepared one, twice per round trip: issue #16).
# FOR UPDATE is PostgreSQL's row lock; SQLite's writer already holds the database's write lock.
_BY_ID = select(Handoff).where(Handoff.id == bindparam("handoff_id"))
_BY_ID_LOCKED = _BY_ID.with_for_update()


async def load_handoff(
    session: AsyncSession, handoff_id: str, viewer: Viewer | None = None, *, lock: bool = False
) -> Handoff:
    handoff: Handoff | None
    if identity_key(Handoff, handoff_id) in session.identity_map:
        # In this session already: `get` returns it (locking it first when asked).
        handoff = await session.get(Handoff, handoff_id, with_for_update=lock)
    else:
        found = await session.execute(_BY_ID_LOCKED if lock else _BY_ID, {"handoff_id": handoff_id})
        handoff = found.scalar_one_or_none()
    if handoff is None or (viewer is not None and not may_see(viewer, handoff)):
        raise NotFound(f"handoff {handoff_id} does not exist")
    if lock:
        session.info.setdefault(_LOCKED, {})[handoff_id] = session.sync_session.get_transaction()
    return handoff


# session.info key: handoff id -> the transaction that read its row under a lock it holds.
_LOCKED = "handoffs_locked"


def locked_here(session: AsyncSession, handoff_id: str) -> bool:
    """Whether this transaction read the handoff's row under a lock it still holds (SELECT ...
    FOR UPDATE on PostgreSQL; on SQLite a writing transaction holds the database's write lock
    from its first statement, BEGIN IMMEDIATE): nobody else can have changed the row since."""
    transaction = session.sync_session.get_transaction()
    return transaction is not None and session.info.get(_LOCKED, {}).get(handoff_id) is transaction


@dataclass(frozen=True, slots=True)
class LoggedUpdate:
    """A log row as this transaction inserted it (its Core INSERT's values), kept to render the
    live push: a plain record, where an ORM instance's instrumented construction cost more than
    the INSERT's own bookkeeping (issue #16). Read as `HandoffUpdate` rows are."""

    handoff_id: str
    seq: int
    kind: str
    status_from: str | None
    status_to: str | None
    payload_sealed: bytes | None
    actor: str
    at: datetime


def update_read(
    row: HandoffUpdate | LoggedUpdate, data_key: bytes | None, handoff_id: str
) -> UpdateRead:
    data = None
    if row.payload_sealed is not None and data_key is not None:
        data = open_json(data_key, row.payload_sealed, part_aad(handoff_id, f"update:{row.seq}"))
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
    key = await hospital_key(session, handoff.key_id)
    return key.version if key else 0


async def _metadata(session: AsyncSession, handoff: Handoff) -> dict[str, Any]:
    """The routing metadata every viewer sees, sealed content or not."""
    return {
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


def _attachment_read(att: HandoffAttachment, data_key: bytes, handoff_id: str) -> AttachmentRead:
    return AttachmentRead(
        id=att.id,
        kind=AttachmentKind(att.kind),
        media_type=att.media_type,
        size=att.size,
        name=sealing.open_sealed(
            data_key, att.name_sealed, aad=part_aad(handoff_id, f"attachment:{att.id}:name")
        ).decode()
        if att.name_sealed
        else None,
        created_at=as_utc(att.created_at),
    )


# session.info key: the update rows this transaction logged, by (handoff id, seq) (outbox.py).
LOGGED = "handoffs_logged_updates"


# A handoff's log in order (up to an update), built once: building it cost more than running it
# in every acknowledgement's answer (issue #16).
_LOG = (
    select(HandoffUpdate)
    .where(HandoffUpdate.handoff_id == bindparam("handoff_id"))
    .order_by(HandoffUpdate.seq)
)
_LOG_UPTO = _LOG.where(HandoffUpdate.seq <= bindparam("upto"))


async def _update_rows(
    session: AsyncSession, handoff: Handoff, upto_update: int | None
) -> Sequence[HandoffUpdate | LoggedUpdate]:
    """The handoff's log up to `upto_update` (all of it by default), in order. Its seqs run 1..
    `last_update_seq` without a gap, so when this transaction logged every one of them (a draft
    sent: its one status row) they are all in hand and none is selected."""
    last = (
        handoff.last_update_seq
        if upto_update is None
        else min(upto_update, handoff.last_update_seq)
    )
    logged: dict[tuple[str, int], LoggedUpdate] = session.info.get(LOGGED, {})
    in_hand = [logged.get((handoff.id, seq)) for seq in range(1, last + 1)]
    if all(row is not None for row in in_hand):
        return [row for row in in_hand if row is not None]
    if upto_update is None:
        return (await session.scalars(_LOG, {"handoff_id": handoff.id})).all()
    params = {"handoff_id": handoff.id, "upto": upto_update}
    return (await session.scalars(_LOG_UPTO, params)).all()


async def read_handoff(
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
    attachments yet and the two selects for them are skipped (they cost two round trips). Also
    skipped, each on its own: the updates when this transaction logged all of them, the
    attachments when the handoff counts none."""
    base = await _metadata(session, handoff)
    if not may_open(viewer, handoff):
        return HandoffRead(**base)
    data_key = await handoff_data_key(session, keyring, handoff)
    body = open_content(session, data_key, handoff)
    content = AtmistRecord.model_validate(body["content"])
    updates: list[UpdateRead] = []
    attachments: Sequence[HandoffAttachment] = ()
    if not fresh:
        rows = await _update_rows(session, handoff, upto_update)
        updates = [update_read(r, data_key, handoff.id) for r in rows]
    if not fresh and handoff.attachment_count:
        attachments = (
            await session.scalars(
                select(HandoffAttachment)
                .where(HandoffAttachment.handoff_id == handoff.id)
                .order_by(HandoffAttachment.created_at, HandoffAttachment.id)
            )
        ).all()
    clinical = picture.clinical_picture(content, updates)
    signs = [s.model_dump() for s in clinical.signs]
    # What still stops a draft from being sent; only a draft shows it (not worked out for others).
    problems = (
        atmist.missing_for_send(
            content.model_dump(),
            acuity=handoff.acuity,
            eta=handoff.eta,
            hospital_id=handoff.hospital_id,
        )
        if handoff.status == S.DRAFT.value
        else None
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
        problems=None
        if problems is None
        else [{"field": p.field, "message": p.message} for p in problems],
        updates=updates,
        attachments=[
            _attachment_read(a, data_key, handoff.id)
            for a in attachments
            if upto_time is None or as_utc(a.created_at) <= upto_time
        ],
    )


async def get_handoff(
    *, session: AsyncSession, keyring: Keyring, handoff_id: str, viewer: Viewer
) -> HandoffRead:
    handoff = await load_handoff(session, handoff_id, viewer)
    return await read_handoff(session, keyring, handoff, viewer)


def _crew_filter(crew: CrewScope) -> ColumnElement[bool]:
    """`CrewScope.covers` in SQL."""
    reach: list[ColumnElement[bool]] = []
    if crew.units:
        reach.append(Handoff.unit_id.in_(sorted(crew.units)))
    if crew.incident_id is not None:
        reach.append(Handoff.incident_id == crew.incident_id)
    return or_(*reach) if reach else false()


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
    if viewer.crew is not None:
        stmt = stmt.where(_crew_filter(viewer.crew))
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
    items = [await read_handoff(session, keyring, r, metadata_only) for r in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


async def list_updates(
    *, session: AsyncSession, keyring: Keyring, handoff_id: str, viewer: Viewer, after: int = 0
) -> list[UpdateRead]:
    handoff = await load_handoff(session, handoff_id, viewer)
    data_key = (
        await handoff_data_key(session, keyring, handoff) if may_open(viewer, handoff) else None
    )
    rows = (
        await session.scalars(
            select(HandoffUpdate)
            .where(HandoffUpdate.handoff_id == handoff_id, HandoffUpdate.seq > after)
            .order_by(HandoffUpdate.seq)
        )
    ).all()
    return [update_read(r, data_key, handoff_id) for r in rows]


async def get_attachment(
    *, session: AsyncSession, keyring: Keyring, handoff_id: str, attachment_id: str, viewer: Viewer
) -> tuple[str, bytes]:
    handoff = await load_handoff(session, handoff_id, viewer)
    att = await session.get(HandoffAttachment, attachment_id)
    if att is None or att.handoff_id != handoff_id:
        raise NotFound(f"attachment {attachment_id} is not on handoff {handoff_id}")
    if not may_open(viewer, handoff):
        raise Forbidden(f"only staff of hospital {handoff.hospital_id} may open this attachment")
    data_key = await handoff_data_key(session, keyring, handoff)
    return att.media_type, sealing.open_sealed(
        data_key, att.content_sealed, aad=part_aad(handoff.id, f"attachment:{att.id}")
    )


def check_feed_access(viewer: Viewer, hospital_id: str) -> None:
    if not viewer.receives or viewer.hospital_id != hospital_id:
        raise Forbidden(f"only staff of hospital {hospital_id} may read its handoff feed")
