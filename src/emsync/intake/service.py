"""Intake use cases: start a session, read it, override its steps, complete it, read the agent
logs. The durable runs themselves are intake.engine's; these functions only change rows, so a
refused request changes nothing."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from emsync.core.crypto import Keyring
from emsync.core.db import SQLiteWriter
from emsync.core.errors import Conflict, NotFound, ValidationFailed
from emsync.intake import rows, schemas
from emsync.intake.models import IntakeAgentLog, IntakeOverride, IntakeSession, IntakeStep
from emsync.intake.rows import SESSION_COLUMNS, STEP_COLUMNS, SessionRow, StepRow
from emsync.intake.steps import (
    Advance,
    Opened,
    board_of,
    load_steps,
    log_aad,
    next_move,
    open_json,
    payload_aad,
    result_aad,
    seal_json,
    session_run,
    settle_rows,
    state_of,
)
from emsync.intake.workflows import (
    FINISHED,
    WORKFLOWS,
    SessionStatus,
    StepStatus,
    check_override,
    plan,
    reorder,
    unknown_workflow,
)

S = StepStatus


def override_aad(session_id: str) -> str:
    return f"intake:{session_id}:override"


@dataclass(frozen=True, slots=True)
class Started:
    """A session just started; with `first` when its run's first claims were written with it
    (`start_claimed(claim=True)`), for `IntakeEngine.begin`."""

    row: IntakeSession
    first: Advance | None = None
    opened: Opened = field(default_factory=dict)


async def start_claimed(
    *,
    session: AsyncSession,
    keyring: Keyring,
    workflow: str,
    payload: Mapping[str, Any],
    clinical: Mapping[str, bool],
    actor: str | None,
    hospital_id: str | None,
    now: datetime,
    source_key: str | None = None,
    claim: bool = False,
) -> Started:
    """A pending session and its steps, committed; the engine runs it. A second start with the
    same `source_key` (a redelivered arrival) returns the first. With `claim` (the process that
    runs the session begins it at once),
    the run's first step (and the first tries beside it) claimed in the same transaction: a
    session costs its run one transaction less (bench/intake.py)."""
    if workflow not in WORKFLOWS:
        raise unknown_workflow(workflow)
    # Written directly, the duplicate check is the direct write's own (in the SQLiteWriter's
    # transaction; ON CONFLICT on the source key on PostgreSQL).
    direct = rows.start_direct(session)
    if source_key is not None and direct is None:
        existing = await session.scalar(
            select(IntakeSession).where(IntakeSession.source_key == source_key)
        )
        if existing is not None:
            return Started(existing)
    session_id = str(uuid.uuid4())
    row = IntakeSession(
        id=session_id,
        workflow=workflow,
        status=SessionStatus.PENDING,
        source_key=source_key,
        hospital_id=hospital_id,
        actor=actor,
        payload_sealed=seal_json(keyring, dict(payload), aad=payload_aad(session_id)),
        created_at=now,
        updated_at=now,
    )
    steps = [
        {
            "session_id": session_id,
            "agent": step.agent,
            "position": step.position,
            "clinical": step.clinical,
            "status": step.status,
            "attempts": 0,
            "forced": False,
            "updated_at": now,
        }
        for step in plan(workflow, clinical=clinical)
    ]
    opened: Opened = {}
    first = _claim_first(keyring, row, steps, now=now, opened=opened) if claim else None
    if direct is not None:
        return await _insert_directly(session, direct, Started(row, first, opened), steps)
    try:
        # Two Core INSERTs (the session, its steps in one executemany), not nine ORM rows
        # through the unit of work: every session pays this once (bench/intake.py). `row` is
        # returned as a detached copy of what was written.
        await rows.insert_session(await session.connection(), row, steps)
        await session.commit()
    except IntegrityError:
        # The same arrival, started by another process a moment ago.
        await session.rollback()
        if source_key is None:
            raise
        existing = await session.scalar(
            select(IntakeSession).where(IntakeSession.source_key == source_key)
        )
        if existing is None:
            raise
        return Started(existing)
    return Started(row, first, opened)


async def _insert_directly(
    session: AsyncSession, direct: SQLiteWriter | AsyncEngine, started: Started, steps: list[Any]
) -> Started:
    """The session and its steps written around the caller's ORM session (which holds no
    transaction), or the session already started with its source key. On a SQLite file: the
    duplicate check and both INSERTs in one hand-off to the SQLiteWriter's thread; on
    PostgreSQL one statement, one round trip; not a BEGIN, the statements and a COMMIT through
    SQLAlchemy (every session pays its start: bench/intake.py)."""
    row = started.row
    if isinstance(direct, SQLiteWriter):
        found = await direct.transaction(
            functools.partial(rows.insert_session_on_sqlite, row, steps)
        )
        if found is None:
            return started
        return Started(await session.get_one(IntakeSession, found))
    if await rows.insert_session_on_postgres(direct, row, steps):
        return started
    existing = await session.scalar(
        select(IntakeSession).where(IntakeSession.source_key == row.source_key)
    )
    if existing is None:
        raise Conflict("the session's start conflicted, and no session has its key")
    return Started(existing)


def _columns(values: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """`values` of each of `names` (None for a column left to its default)."""
    return {n: values.get(n) for n in names}


def _claim_first(
    keyring: Keyring,
    row: IntakeSession,
    steps: list[dict[str, Any]],
    *,
    now: datetime,
    opened: Opened,
) -> Advance:
    """What the run's first `advance` would claim, decided on the rows of a session being
    started and written back to the values about to be inserted: they are inserted already
    claimed, so the run begins with its first agent instead of a transaction
    (`IntakeEngine.begin`). The session stays pending: until DBOS holds the run a poll must
    still find it and start that run, which takes the claims again as its own."""
    head = SessionRow(**{n: getattr(row, n) for n in SESSION_COLUMNS})
    plain = [StepRow(**_columns(values, STEP_COLUMNS)) for values in steps]
    chosen = next_move(keyring, head, plain, run=session_run(row.id), now=now, opened=opened)
    head.status = SessionStatus.PENDING
    first = replace(chosen, board=board_of(head, plain))
    for name in SESSION_COLUMNS:
        setattr(row, name, getattr(head, name))
    for values, step in zip(steps, plain, strict=True):
        values.update({n: getattr(step, n) for n in STEP_COLUMNS})
    return first


async def settle(session: AsyncSession, session_id: str, now: datetime) -> str:
    """Bring the session's status up to date with its steps, in the caller's transaction
    (after its changes are flushed); whichever run finishes last settles it. The session row
    is locked first (as every writer of its steps does) and its steps read fresh."""
    row = await session.get_one(
        IntakeSession, session_id, with_for_update=True, populate_existing=True
    )
    found = list(
        await session.scalars(
            select(IntakeStep)
            .where(IntakeStep.session_id == session_id)
            .order_by(IntakeStep.position)
            .execution_options(populate_existing=True)
        )
    )
    settle_rows(row, found, now)
    return str(row.status)


async def get_session_row(
    *, session: AsyncSession, session_id: str, lock: bool = False
) -> IntakeSession:
    """`lock`: for a change to its steps; every writer of a session's steps locks its row
    first (intake.steps), so an override and a run never interleave on PostgreSQL."""
    row = await session.get(IntakeSession, session_id, with_for_update=lock)
    if row is None:
        raise NotFound(f"no intake session {session_id}")
    return row


def _step_read(keyring: Keyring, step: IntakeStep, *, full: bool) -> schemas.StepRead:
    read = schemas.StepRead(
        agent=step.agent,
        position=step.position,
        clinical=step.clinical,
        status=step.status,
        attempts=step.attempts,
        forced=step.forced,
        error=step.error,
        started_at=step.started_at,
        finished_at=step.finished_at,
        duration_ms=step.duration_ms,
    )
    if full and step.result_sealed is not None:
        result = open_json(keyring, step.result_sealed, aad=result_aad(step.session_id, step.agent))
        read.output = result["output"]
        read.decisions = [schemas.DecisionRead(**d) for d in result["decisions"]]
    return read


def _summary(
    keyring: Keyring, row: IntakeSession, steps: Sequence[IntakeStep], *, full: bool
) -> dict[str, Any]:
    return {
        "id": row.id,
        "workflow": row.workflow,
        "status": row.status,
        "hospital_id": row.hospital_id,
        "created_at": row.created_at,
        "clinical_done_at": row.clinical_done_at,
        "finished_at": row.finished_at,
        "steps": [_step_read(keyring, s, full=full) for s in steps],
    }


async def read_session(
    *, session: AsyncSession, keyring: Keyring, session_id: str
) -> schemas.SessionRead:
    row = await get_session_row(session=session, session_id=session_id)
    steps = await load_steps(session, session_id)
    overrides = await session.scalars(
        select(IntakeOverride)
        .where(IntakeOverride.session_id == session_id)
        .order_by(IntakeOverride.id)
    )
    return schemas.SessionRead(
        **_summary(keyring, row, steps, full=True),
        payload=open_json(keyring, row.payload_sealed, aad=payload_aad(session_id)),
        overrides=[
            schemas.OverrideRead(
                action=o.action,
                agent=o.agent,
                order=o.order,
                reason=keyring.open_text(o.reason_sealed, aad=override_aad(session_id)) or "",
                actor=o.actor,
                created_at=o.created_at,
            )
            for o in overrides
        ],
    )


async def list_sessions(
    *,
    session: AsyncSession,
    keyring: Keyring,
    hospital_id: str | None,
    active_only: bool,
    limit: int,
) -> list[schemas.SessionSummary]:
    """The ED board: newest first, steps with status (no outputs: the detail has them)."""
    query = select(IntakeSession).order_by(IntakeSession.created_at.desc()).limit(limit)
    if hospital_id is not None:
        query = query.where(IntakeSession.hospital_id == hospital_id)
    if active_only:
        query = query.where(
            IntakeSession.status.in_(
                [SessionStatus.PENDING, SessionStatus.RUNNING, SessionStatus.ATTENTION]
            )
        )
    rows = list(await session.scalars(query))
    by_session: dict[str, list[IntakeStep]] = {r.id: [] for r in rows}
    if rows:
        found = await session.scalars(
            select(IntakeStep)
            .where(IntakeStep.session_id.in_(list(by_session)))
            .order_by(IntakeStep.position)
        )
        for step in found:
            by_session[step.session_id].append(step)
    return [
        schemas.SessionSummary(**_summary(keyring, r, by_session[r.id], full=False)) for r in rows
    ]


async def override(
    *,
    session: AsyncSession,
    keyring: Keyring,
    session_id: str,
    request: schemas.Override,
    actor: str,
    now: datetime,
) -> tuple[str, int] | None:
    """Apply a clinician's skip, force or re-order with its reason, recorded with it in one
    transaction. Returns the (agent, tries) of a forced step for the engine to run."""
    row = await get_session_row(session=session, session_id=session_id, lock=True)
    steps = {s.agent: s for s in await load_steps(session, session_id)}
    forced: tuple[str, int] | None = None
    if request.action == "reorder":
        new = reorder([state_of(s) for s in steps.values()], request.order or [])
        for state in new:
            steps[state.agent].position = state.position
            steps[state.agent].updated_at = now
    else:
        agent = request.agent or ""
        step = steps.get(agent)
        if step is None:
            raise ValidationFailed(
                f"the {row.workflow} workflow has no {agent!r} step", steps=list(steps)
            )
        check_override(request.action, state_of(step))
        if request.action == "skip":
            step.status = S.SKIPPED
        else:
            step.status, step.forced, step.claimed_by = S.QUEUED, True, None
            forced = (agent, step.attempts)
        step.updated_at = now
    session.add(
        IntakeOverride(
            session_id=session_id,
            action=request.action,
            agent=request.agent,
            order=request.order,
            reason_sealed=keyring.seal_text(request.reason, aad=override_aad(session_id)),
            actor=actor,
            created_at=now,
        )
    )
    await session.flush()
    await settle(session, session_id, now)
    await session.commit()
    return forced


async def complete(
    *,
    session: AsyncSession,
    keyring: Keyring,
    session_id: str,
    reason: str,
    actor: str,
    now: datetime,
) -> None:
    """Close a session whose clinical steps are finished: what else is still open is skipped,
    recorded as one override with the reason."""
    row = await get_session_row(session=session, session_id=session_id, lock=True)
    steps = await load_steps(session, session_id)
    open_clinical = [s.agent for s in steps if s.clinical and S(s.status) not in FINISHED]
    if open_clinical:
        raise Conflict(
            "the clinical steps are not finished; skip or force them first",
            steps=open_clinical,
        )
    if any(s.status == S.RUNNING for s in steps):
        raise Conflict("a step is running; complete the session when it has finished")
    for step in steps:
        if S(step.status) in {S.PENDING, S.QUEUED, S.DEAD_LETTER}:
            step.status, step.updated_at = S.SKIPPED, now
    session.add(
        IntakeOverride(
            session_id=session_id,
            action="complete",
            reason_sealed=keyring.seal_text(reason, aad=override_aad(session_id)),
            actor=actor,
            created_at=now,
        )
    )
    row.status, row.finished_at, row.updated_at = SessionStatus.COMPLETED, now, now
    if row.clinical_done_at is None:
        row.clinical_done_at = now
    await session.commit()


async def agent_logs(
    *,
    session: AsyncSession,
    keyring: Keyring,
    session_id: str | None = None,
    agent: str | None = None,
    limit: int = 200,
) -> list[schemas.AgentLogRead]:
    query = select(IntakeAgentLog).order_by(IntakeAgentLog.id.desc()).limit(limit)
    if session_id is not None:
        await get_session_row(session=session, session_id=session_id)
        query = query.where(IntakeAgentLog.session_id == session_id)
    if agent is not None:
        query = query.where(IntakeAgentLog.agent == agent)
    return [
        schemas.AgentLogRead(
            id=log.id,
            session_id=log.session_id,
            agent=log.agent,
            agent_version=log.agent_version,
            attempt=log.attempt,
            outcome=log.outcome,
            rules=list(log.rules),
            error=log.error,
            started_at=log.started_at,
            duration_ms=log.duration_ms,
            # Inputs of one session's steps, for the one reading that session's chart.
            inputs=open_json(keyring, log.inputs_sealed, aad=log_aad(log.session_id, log.agent))
            if session_id is not None
            else None,
        )
        for log in await session.scalars(query)
    ]


async def agent_counts(*, session: AsyncSession) -> dict[str, tuple[int, int, str | None]]:
    """Per agent: attempts, failed attempts, and the latest failure's class."""
    rows = (
        await session.execute(
            select(
                IntakeAgentLog.agent,
                func.count(),
                func.sum(case((IntakeAgentLog.outcome.in_(["done", "needs_review"]), 0), else_=1)),
                func.max(IntakeAgentLog.error),
            ).group_by(IntakeAgentLog.agent)
        )
    ).all()
    return {agent: (int(n), int(failed or 0), error) for agent, n, failed, error in rows}
