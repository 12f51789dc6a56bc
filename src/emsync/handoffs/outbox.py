"""The per-hospital outbox that makes delivery lossless: the update log, outbox entries,
their rendering for the hospital, and the commit that renders them for the live push."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Insert, Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from emsync.core.clock import as_utc
from emsync.core.crypto import Keyring
from emsync.core.db import execute_held_back
from emsync.core.errors import Conflict
from emsync.core.events import EventBus
from emsync.core.uow import UnitOfWork
from emsync.handoffs.keys import KEY_IS_ACTIVE, ensure_feed, handoff_data_key
from emsync.handoffs.lifecycle import HandoffStatus
from emsync.handoffs.models import (
    Handoff,
    HandoffUpdate,
    HospitalFeed,
    OutboxEntry,
)
from emsync.handoffs.reads import (
    BOARD_VIEWER,
    LOGGED,
    LoggedUpdate,
    Viewer,
    load_handoff,
    locked_here,
    may_open,
    read_handoff,
    update_read,
)
from emsync.handoffs.schemas import FeedEntryRead, HandoffRead

S = HandoffStatus


# Feed entries a use case rendered from the rows in hand just before committing, for the live
# push that runs right after the commit in the same task (see handlers.push_handoff_events): the
# push then needs no second transaction to read back what this one wrote. Scoped to the request's
# context, so rendered (opened) content never outlives the request or crosses to another one.
_rendered: ContextVar[dict[tuple[str, int], FeedEntryRead] | None] = ContextVar(
    "handoffs_rendered_entries", default=None
)
_PENDING_OUTBOX = "handoffs_pending_outbox"  # session.info key: entries this transaction added
_LOGGED = LOGGED  # session.info key: update rows it added, by (handoff, seq)


# The board's view of each handoff the transaction changed (routing metadata as GET
# /api/handoffs lists it, never content), rendered in it for the same reason: the board push that
# follows needs no session and no selects of its own (it cost ~38% more server CPU per round trip).
_boards: ContextVar[dict[str, HandoffRead] | None] = ContextVar(
    "handoffs_rendered_boards", default=None
)


# Who would receive a rendering, per app (keyed by its event bus): hospital id -> anyone on that
# hospital's channel; None -> anyone on the board. What nobody would receive is not rendered
# (opening and checking a sent record for nobody); a listener who joins between the commit and
# the push is served by the push's read-back. An app that set none renders everything.
Audience = Callable[[str | None], bool]
_AUDIENCES: WeakKeyDictionary[EventBus, Audience] = WeakKeyDictionary()


def set_audience(bus: EventBus, listened: Audience) -> None:
    _AUDIENCES[bus] = listened


def _listened(uow: UnitOfWork, hospital_id: str | None) -> bool:
    listened = _AUDIENCES.get(uow.bus)
    return listened is None or listened(hospital_id)


def rendered_board(handoff_id: str) -> HandoffRead | None:
    """The board view this request's use case rendered for the live push, taken once."""
    boards = _boards.get()
    return boards.pop(handoff_id, None) if boards else None


def rendered_entry(hospital_id: str, seq: int) -> FeedEntryRead | None:
    """The entry this request's use case rendered for the live push, taken once; else None."""
    rendered = _rendered.get()
    return rendered.pop((hospital_id, seq), None) if rendered else None


# ---------------------------------------------------------------- outbox


# The log, the outbox and its counter are written with Core statements built once, on the
# session's connection: through the ORM each cost an ORM-enabled UPDATE (its bulk-update set-up)
# or a unit-of-work flush, most of a status change's server CPU (issue #16). The rows are
# append-only, so nothing needs them in the session: what is kept for rendering the live push
# (`_PENDING_OUTBOX`, `_LOGGED`) are plain records of the values inserted.
_FEEDS: Table = HospitalFeed.__table__  # type: ignore[assignment]
_OUTBOX: Table = OutboxEntry.__table__  # type: ignore[assignment]
_UPDATES: Table = HandoffUpdate.__table__  # type: ignore[assignment]
_BUMP = (
    update(_FEEDS)
    .where(_FEEDS.c.hospital_id == bindparam("target"))
    .values(last_seq=_FEEDS.c.last_seq + 1)
    .returning(_FEEDS.c.last_seq)
)
_INSERT_OUTBOX = insert(_OUTBOX)
_INSERT_UPDATE = insert(_UPDATES)
_OUTBOX_COLUMNS = ("hospital_id", "seq", "handoff_id", "kind", "update_seq", "meta", "created_at")
_LOG_COLUMNS = tuple(f.name for f in fields(LoggedUpdate))
# On PostgreSQL a logged move's three writes (its log row, the counter's bump, the outbox entry)
# are one statement: data-modifying CTEs, each run once whatever the others return. Each
# statement cost the server ~0.3 ms of CPU, a round trip's send and acknowledgement three each
# (issue #16 item 2). SQLite has no DML in a CTE: there the log row is held back
# (execute_held_back) and the bump and entry are two statements, as before. No counter row yet
# (the hospital's first entry): the log row is written all the same, no entry; the caller
# creates the counter and counts again.
_BUMPED = (
    update(_FEEDS)
    .where(_FEEDS.c.hospital_id == bindparam("entry_hospital_id"))
    .values(last_seq=_FEEDS.c.last_seq + 1)
    .returning(_FEEDS.c.last_seq)
    .cte("bumped")
)
_LOGGED_OUTBOX = (
    insert(_OUTBOX)
    .from_select(
        list(_OUTBOX_COLUMNS),
        select(
            *(
                _BUMPED.c.last_seq
                if name == "seq"
                else bindparam(f"entry_{name}", type_=_OUTBOX.c[name].type)
                for name in _OUTBOX_COLUMNS
            )
        ),
    )
    .returning(_OUTBOX.c.seq)
    .add_cte(
        insert(_UPDATES)
        .values({n: bindparam(f"log_{n}", type_=_UPDATES.c[n].type) for n in _LOG_COLUMNS})
        .cte("logged")
    )
)


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """An outbox entry as this transaction inserted it, kept to render the live push (a plain
    record, as `LoggedUpdate` is for the log). Read as `OutboxEntry` rows are."""

    hospital_id: str
    seq: int
    handoff_id: str
    kind: str
    update_seq: int
    meta: dict[str, Any]
    created_at: datetime


async def append_outbox(
    session: AsyncSession,
    handoff: Handoff,
    kind: str,
    now: datetime,
    *,
    hospital_id: str | None = None,
    update_seq: int | None = None,
    log: LoggedUpdate | None = None,
    moved: dict[str, Any] | None = None,
    **meta: Any,
) -> tuple[str, int]:
    """One entry in the hospital's outbox (and `log`, the handoff's log row, and `moved`, the
    handoff's UPDATE as `write_handoff(fold=True)` returned it, with it). The counter row's lock
    orders concurrent writers, so seq order is commit order and a reader who has seen seq n has
    seen every entry below it."""
    target = hospital_id or handoff.hospital_id
    conn = await session.connection()
    if moved is not None and (log is None or conn.dialect.name != "postgresql"):
        await conn.execute(_WRITE_HANDOFF, moved)  # not folded: on its own (read under lock)
        moved = None
    values: dict[str, Any] = {
        "hospital_id": target,
        "handoff_id": handoff.id,
        "kind": kind,
        "update_seq": handoff.last_update_seq if update_seq is None else update_seq,
        "meta": {
            "status": handoff.status,
            "acuity": handoff.acuity,
            "eta": handoff.eta.isoformat() if handoff.eta else None,
            **meta,
        },
        "created_at": now,
    }
    seq = None
    if log is not None:
        _keep_logged(session, log)
        if conn.dialect.name == "postgresql":
            # Bound under names of no column: a column's name would be taken as a SET value.
            bound = {f"log_{n}": getattr(log, n) for n in _LOG_COLUMNS}
            bound |= {f"entry_{n}": v for n, v in values.items()}
            statement: Insert = _LOGGED_OUTBOX
            if moved is not None:
                columns = frozenset(moved) - {"b_id", "b_version"}
                statement = _moved_outbox(columns)
                bound |= {f"moved_{n}": v for n, v in moved.items()}
                moved = None
            seq = (await conn.execute(statement, bound)).scalar()
        else:
            await execute_held_back(conn, _INSERT_UPDATE, _log_values(log))
            seq = await _bump(session, conn, target)
            await execute_held_back(conn, _INSERT_OUTBOX, {**values, "seq": seq})
    if seq is None:  # no log row; or PostgreSQL's first entry of this hospital (see above)
        seq = await _bump(session, conn, target)
        await execute_held_back(conn, _INSERT_OUTBOX, {**values, "seq": seq})
    session.info.setdefault(_PENDING_OUTBOX, []).append(PendingEntry(**values, seq=seq))
    return target, seq


async def _bump(session: AsyncSession, conn: AsyncConnection, target: str) -> int:
    """The hospital's next outbox seq, counted (its counter created on its first entry)."""
    seq = (await conn.execute(_BUMP, {"target": target})).scalar()
    if seq is None:  # the hospital's first entry: create its counter, then count
        await ensure_feed(session, target)
        seq = (await conn.execute(_BUMP, {"target": target})).scalar()
    assert seq is not None
    return int(seq)


def _log_values(log: LoggedUpdate) -> dict[str, Any]:
    return {n: getattr(log, n) for n in _LOG_COLUMNS}


def _keep_logged(session: AsyncSession, log: LoggedUpdate) -> None:
    session.info.setdefault(_LOGGED, {})[(log.handoff_id, log.seq)] = log


async def append_log(
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
    """The next entry of the handoff's log (its `last_update_seq` counts it, flushed later)."""
    handoff.last_update_seq += 1
    await log_update(
        session,
        handoff.id,
        handoff.last_update_seq,
        kind,
        actor,
        now,
        payload=payload,
        status_from=status_from,
        status_to=status_to,
    )
    return handoff.last_update_seq


async def log_update(
    session: AsyncSession,
    handoff_id: str,
    seq: int,
    kind: str,
    actor: str,
    now: datetime,
    *,
    payload: bytes | None = None,
    status_from: str | None = None,
    status_to: str | None = None,
) -> None:
    """Entry `seq` of the handoff's log, inserted now (the caller counts it on the handoff)."""
    log = LoggedUpdate(handoff_id, seq, kind, status_from, status_to, payload, actor, now)
    await execute_held_back(await session.connection(), _INSERT_UPDATE, _log_values(log))
    _keep_logged(session, log)


# ---------------------------------------------------------------- the handoff row

# A new handoff and a status move are written with Core statements too, and the instance is then
# made to hold what was written as if it had been loaded so: a unit-of-work flush of the one row
# (a create's INSERT, a send's or an acknowledgement's UPDATE) cost more than the statement.
_HANDOFFS: Table = Handoff.__table__  # type: ignore[assignment]
_INSERT_HANDOFF = insert(_HANDOFFS)
# SET from the parameters' other keys; WHERE the version is the one read (the mapper's check).
_WRITE_HANDOFF = update(_HANDOFFS).where(
    _HANDOFFS.c.id == bindparam("b_id"), _HANDOFFS.c.version == bindparam("b_version")
)


# The same INSERT, made only while the handoff's key is its hospital's active one (keys.py).
_INSERT_HANDOFF_FOR_ACTIVE_KEY = insert(_HANDOFFS).from_select(
    [c.name for c in _HANDOFFS.c],
    select(*(bindparam(c.name, type_=c.type) for c in _HANDOFFS.c)).where(KEY_IS_ACTIVE),
)


async def insert_handoff(
    session: AsyncSession, values: dict[str, Any], *, key_checked: bool = False
) -> Handoff | None:
    """INSERT the handoff now; the instance returned is in the session, persistent and clean.
    `key_checked`: only if its key is still its hospital's active one (None: it is not)."""
    row = {"last_update_seq": 0, "attachment_count": 0, "version": 1, **values}
    conn = await session.connection()
    if key_checked:
        if (await conn.execute(_INSERT_HANDOFF_FOR_ACTIVE_KEY, row)).rowcount != 1:
            return None
    else:
        await conn.execute(_INSERT_HANDOFF, row)
    handoff = Handoff(**row)
    make_transient_to_detached(handoff)
    session.add(handoff)
    return handoff


async def write_handoff(
    session: AsyncSession, handoff: Handoff, *, fold: bool = False, **values: Any
) -> dict[str, Any] | None:
    """UPDATE these columns now, under the version check a flush makes (a concurrent change is a
    409); the instance then holds them as written, leaving nothing of them for a flush.

    A row read under this transaction's lock (`locked_here`) cannot fail the check: on SQLite
    the UPDATE is held back to go with the next statement instead of crossing to the thread on
    its own; on PostgreSQL, with `fold`, it is not run but its parameters returned, for
    `append_outbox(moved=...)` to run in its statement (a send's and an acknowledgement's
    UPDATE each, issue #16 item 2)."""
    version = handoff.version
    values["version"] = version + 1
    conn = await session.connection()
    parameters = {"b_id": handoff.id, "b_version": version, **values}
    folded = None
    if not locked_here(session, handoff.id):
        if (await conn.execute(_WRITE_HANDOFF, parameters)).rowcount != 1:
            raise Conflict("the handoff was changed by someone else at the same time; retry")
    elif fold and conn.dialect.name == "postgresql":
        folded = parameters
    else:
        await execute_held_back(conn, _WRITE_HANDOFF, parameters)
    for key, value in values.items():
        set_committed_value(handoff, key, value)
    return folded


# PostgreSQL: the handoff's UPDATE as one more CTE of the logged entry's statement, one per set
# of columns written (a send's, an acknowledgement's...), built once each.
_MOVED_OUTBOX: dict[frozenset[str], Insert] = {}


def _moved_outbox(columns: frozenset[str]) -> Insert:
    statement = _MOVED_OUTBOX.get(columns)
    if statement is None:
        moved = (
            update(_HANDOFFS)
            .where(
                _HANDOFFS.c.id == bindparam("moved_b_id"),
                _HANDOFFS.c.version == bindparam("moved_b_version"),
            )
            .values({n: bindparam(f"moved_{n}", type_=_HANDOFFS.c[n].type) for n in columns})
            .cte("moved")
        )
        statement = _MOVED_OUTBOX[columns] = _LOGGED_OUTBOX.add_cte(moved)
    return statement


# ---------------------------------------------------------------- drafting


def event_base(handoff: Handoff, deliveries: Sequence[tuple[str, int]] = ()) -> dict[str, Any]:
    return {
        "handoff_id": handoff.id,
        "hospital_id": handoff.hospital_id,
        "incident_id": handoff.incident_id,
        "unit_id": handoff.unit_id,
        "status": handoff.status,
        "deliveries": tuple(deliveries),
    }


async def flush(uow: UnitOfWork) -> None:
    """Flush now, so reads that follow in this transaction cannot meet a concurrent change."""
    try:
        await uow.session.flush()
    except StaleDataError as exc:
        await uow.rollback()
        raise Conflict("the handoff was changed by someone else at the same time; retry") from exc


async def commit(
    uow: UnitOfWork, keyring: Keyring | None, *, board: HandoffRead | None = None
) -> None:
    """Commit and publish. Outbox entries written by this transaction are first rendered for
    their hospitals, inside it, so the live push after the commit reads nothing back. `board`:
    the board's view of the changed handoff, already rendered (a metadata-only answer, as a
    crew's send gets: the same view), not rendered again."""
    pending: list[PendingEntry] = uow.session.info.pop(_PENDING_OUTBOX, [])
    rendered = _rendered.get()
    if rendered is None:
        rendered = {}
        _rendered.set(rendered)
    boards = _boards.get()
    if boards is None:
        boards = {}
        _boards.set(boards)
    # The handoffs this use case loaded and changed are in the session (it holds them).
    changed = [o for o in uow.session.identity_map.values() if isinstance(o, Handoff)]
    try:
        if keyring is not None:
            for entry in pending:
                if not _listened(uow, entry.hospital_id):
                    continue
                viewer = Viewer.hospital(entry.hospital_id)
                rendered[(entry.hospital_id, entry.seq)] = await entry_read(
                    uow.session, keyring, entry, viewer
                )
            for handoff in changed if _listened(uow, None) else ():
                if board is not None and board.id == handoff.id:
                    boards[handoff.id] = board
                    continue
                boards[handoff.id] = await read_handoff(uow.session, keyring, handoff, BOARD_VIEWER)
        await uow.commit()
    except StaleDataError as exc:
        await uow.rollback()
        raise Conflict("the handoff was changed by someone else at the same time; retry") from exc
    finally:
        # Opened content lives only until the push that follows the commit has run.
        for entry in pending:
            rendered.pop((entry.hospital_id, entry.seq), None)
        for handoff_id in [h.id for h in changed]:
            boards.pop(handoff_id, None)
        uow.session.info.pop(_LOGGED, None)


# ---------------------------------------------------------------- the feed


async def entry_read(
    session: AsyncSession, keyring: Keyring, entry: OutboxEntry | PendingEntry, viewer: Viewer
) -> FeedEntryRead:
    """One outbox entry as the hospital receives it, live or on catch-up (the same shape)."""
    handoff = await load_handoff(session, entry.handoff_id)
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
        base.handoff = await read_handoff(
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
            base.update = update_read(
                row, await handoff_data_key(session, keyring, handoff), handoff.id
            )
    return base
