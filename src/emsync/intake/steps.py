"""What one run of an intake step reads and writes: the claim (one runner at a time), the
result or failure with its agent-log row, the dead letter, and the session's status.

Each function is one short transaction, so a `kill -9` between two of them leaves a state the
durable run (intake.engine) resumes from: a claim is taken again by the run that held it
(`claimed_by` names the run and attempt), and a finished step is never run twice. A step costs
two write transactions: `advance` (or `claim`) before the agent and `record_result` (result, agent
log and the session's status together) after it; each returns the `Board` the live channels
push, built from the rows it already holds rather than read again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emsync.core.crypto import Keyring
from emsync.intake.agents.base import StepInput, StepOutput
from emsync.intake.models import IntakeAgentLog, IntakeSession, IntakeStep
from emsync.intake.workflows import (
    FINISHED,
    Move,
    NextStep,
    SessionStatus,
    StepState,
    StepStatus,
    clinical_done,
    next_step,
    session_status,
)

S = StepStatus


def seal_json(keyring: Keyring, value: Any, *, aad: str) -> bytes:
    # default=str: agents' outputs may hold dates and ids; they are read back as text.
    return keyring.seal(json.dumps(value, default=str).encode(), aad=aad.encode())


def open_json(keyring: Keyring, sealed: bytes, *, aad: str) -> Any:
    return json.loads(keyring.open(sealed, aad=aad.encode()))


def payload_aad(session_id: str) -> str:
    return f"intake:{session_id}:payload"


def result_aad(session_id: str, agent: str) -> str:
    return f"intake:{session_id}:{agent}:result"


def log_aad(session_id: str, agent: str) -> str:
    return f"intake:{session_id}:{agent}:log"


def state_of(step: IntakeStep) -> StepState:
    return StepState(step.agent, step.position, step.clinical, StepStatus(step.status))


@dataclass(frozen=True, slots=True)
class Board:
    """What the live channels push about a session (no patient data)."""

    session_id: str
    workflow: str
    status: str
    steps: list[dict[str, Any]]

    def data(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "workflow": self.workflow,
            "status": self.status,
            "steps": self.steps,
        }


def board_of(row: IntakeSession, steps: list[IntakeStep]) -> Board:
    return Board(row.id, row.workflow, row.status, [dict(summary(s)) for s in steps])


@dataclass(frozen=True, slots=True)
class Claim:
    """A step this run holds: what the agent is given."""

    step: StepInput
    attempt: int
    forced: bool
    board: Board | None = None


@dataclass(frozen=True, slots=True)
class Advance:
    """What the session's run does next (`advance`): run `claim` now (inline) or finish with
    the session's `status`; either way, first start a run beside it for each of `beside`
    (agent, tries so far: they name its run)."""

    move: Move
    agent: str = ""
    claim: Claim | None = None
    beside: list[tuple[str, int]] = field(default_factory=list)
    status: str = ""
    board: Board | None = None


async def load_steps(session: AsyncSession, session_id: str) -> list[IntakeStep]:
    rows = await session.scalars(
        select(IntakeStep).where(IntakeStep.session_id == session_id).order_by(IntakeStep.position)
    )
    return list(rows)


async def _locked(session: AsyncSession, session_id: str) -> tuple[IntakeSession, list[IntakeStep]]:
    """The session row (locked: every writer of a session's steps takes it first, so their
    changes to the rows read here are serialized on PostgreSQL, as SQLite's single writer does)
    and its steps, fresh."""
    row = await session.get_one(
        IntakeSession, session_id, with_for_update=True, populate_existing=True
    )
    steps = list(
        await session.scalars(
            select(IntakeStep)
            .where(IntakeStep.session_id == session_id)
            .order_by(IntakeStep.position)
            .execution_options(populate_existing=True)
        )
    )
    return row, steps


def _takeable(step: IntakeStep, run: str, allowed: frozenset[StepStatus]) -> bool:
    return step.status in allowed or (step.status == S.RUNNING and step.claimed_by == run)


def _take(
    keyring: Keyring,
    row: IntakeSession,
    steps: list[IntakeStep],
    mine: IntakeStep,
    *,
    run: str,
    now: datetime,
) -> Claim:
    """Claim `mine` for `run` (written at commit) and build what the agent is given."""
    mine.status, mine.claimed_by, mine.attempts = S.RUNNING, run, mine.attempts + 1
    mine.started_at, mine.updated_at = now, now
    session_id = row.id
    previous = {
        s.agent: open_json(keyring, s.result_sealed, aad=result_aad(session_id, s.agent))["output"]
        for s in steps
        if s.status in {S.DONE, S.NEEDS_REVIEW} and s.result_sealed is not None
    }
    payload = open_json(keyring, row.payload_sealed, aad=payload_aad(session_id))
    step = StepInput(
        session_id=UUID(session_id),
        workflow=row.workflow,
        agent=mine.agent,
        payload=payload,
        previous=previous,
        idempotency_key=StepInput.key_for(UUID(session_id), mine.agent),
        actor=row.actor,
        hospital_id=row.hospital_id,
    )
    return Claim(step=step, attempt=mine.attempts, forced=mine.forced, board=board_of(row, steps))


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    *,
    session_id: str,
    agent: str,
    run: str,
    now: datetime,
) -> Claim | None:
    """Take the step for `run` (pending or queued, or already this run's after a crash);
    None when it is finished or another run holds it."""
    async with sessions() as session, session.begin():
        row, steps = await _locked(session, session_id)
        mine = next((s for s in steps if s.agent == agent), None)
        if mine is None or not _takeable(mine, run, frozenset({S.PENDING, S.QUEUED})):
            return None
        return _take(keyring, row, steps, mine, run=run, now=now)


async def advance(
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    *,
    session_id: str,
    run: str,
    now: datetime,
) -> Advance:
    """One transaction for the session's run between two steps: start the session, queue the
    non-clinical steps due for runs beside it, and claim the next step to run inline (the one
    this run held before a crash first), or settle the session when nothing is left."""
    async with sessions() as session, session.begin():
        row, steps = await _locked(session, session_id)
        if row.status == SessionStatus.PENDING:
            row.status, row.started_at, row.updated_at = SessionStatus.RUNNING, now, now
        held = next((s for s in steps if s.status == S.RUNNING and s.claimed_by == run), None)
        beside: list[tuple[str, int]] = []
        while True:
            chosen = (
                NextStep(Move.INLINE, held.agent)
                if held is not None
                else next_step(row.workflow, [state_of(s) for s in steps])
            )
            if chosen.move != Move.BESIDE:
                break
            queued = next(s for s in steps if s.agent == chosen.agent)
            queued.status, queued.updated_at = S.QUEUED, now
            beside.append((queued.agent, queued.attempts))
        if chosen.move == Move.FINISH:
            _settle(row, steps, now)
            return Advance(
                Move.FINISH, beside=beside, status=str(row.status), board=board_of(row, steps)
            )
        mine = next(s for s in steps if s.agent == chosen.agent)
        claimed = _take(keyring, row, steps, mine, run=run, now=now)
        return Advance(Move.INLINE, mine.agent, claim=claimed, beside=beside, board=claimed.board)


async def record_result(
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    *,
    claim_: Claim,
    agent_version: str,
    result: StepOutput,
    started_at: datetime,
    duration_ms: float,
    now: datetime,
) -> Board:
    """The step's result, its agent-log row and the session's status, in one transaction."""
    sid, agent = str(claim_.step.session_id), claim_.step.agent
    sealed = seal_json(
        keyring,
        {
            "output": result.output,
            "decisions": [
                {"rule": d.rule, "version": d.version, "inputs": dict(d.inputs), "result": d.result}
                for d in result.decisions
            ],
        },
        aad=result_aad(sid, agent),
    )
    async with sessions() as session, session.begin():
        row, steps = await _locked(session, sid)
        mine = next(s for s in steps if s.agent == agent)
        mine.status, mine.result_sealed, mine.error = result.outcome, sealed, None
        mine.finished_at, mine.duration_ms, mine.updated_at = now, duration_ms, now
        session.add(
            _log(
                keyring,
                claim_,
                agent_version,
                outcome=result.outcome,
                rules=[f"{d.rule}@{d.version}" for d in result.decisions],
                result_sealed=keyring.seal(sealed, aad=log_aad(sid, agent).encode()),
                error=None,
                started_at=started_at,
                duration_ms=duration_ms,
            )
        )
        _settle(row, steps, now)
        return board_of(row, steps)


async def record_failure(
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    *,
    claim_: Claim,
    agent_version: str,
    outcome: str,
    error: str,
    back_to: StepStatus,
    started_at: datetime,
    duration_ms: float,
    now: datetime,
) -> Board:
    """A failed attempt: logged, and the step handed back (`back_to`) for the next try."""
    sid, agent = str(claim_.step.session_id), claim_.step.agent
    async with sessions() as session, session.begin():
        row, steps = await _locked(session, sid)
        mine = next(s for s in steps if s.agent == agent)
        if mine.status == S.RUNNING:
            mine.status, mine.error, mine.updated_at = back_to, error[:200], now
        session.add(
            _log(
                keyring,
                claim_,
                agent_version,
                outcome=outcome,
                rules=[],
                result_sealed=None,
                error=error[:200],
                started_at=started_at,
                duration_ms=duration_ms,
            )
        )
        return board_of(row, steps)


def _log(
    keyring: Keyring,
    claim_: Claim,
    agent_version: str,
    *,
    outcome: str,
    rules: list[str],
    result_sealed: bytes | None,
    error: str | None,
    started_at: datetime,
    duration_ms: float,
) -> IntakeAgentLog:
    step = claim_.step
    sid = str(step.session_id)
    inputs = {
        "payload": dict(step.payload),
        "previous": {k: dict(v) for k, v in step.previous.items()},
    }
    return IntakeAgentLog(
        session_id=sid,
        agent=step.agent,
        agent_version=agent_version,
        attempt=claim_.attempt,
        outcome=outcome,
        rules=rules,
        inputs_sealed=seal_json(keyring, inputs, aad=log_aad(sid, step.agent)),
        result_sealed=result_sealed,
        error=error,
        started_at=started_at,
        duration_ms=duration_ms,
    )


async def dead_letter(
    sessions: async_sessionmaker[AsyncSession],
    *,
    session_id: str,
    agent: str,
    now: datetime,
) -> tuple[bool, Board]:
    """Dead-letter a step whose tries ran out (if still waiting) and settle the session, in one
    transaction; True if it moved."""
    async with sessions() as session, session.begin():
        row, steps = await _locked(session, session_id)
        mine = next(s for s in steps if s.agent == agent)
        moved = mine.status in {S.PENDING, S.QUEUED}
        if moved:
            mine.status, mine.updated_at = S.DEAD_LETTER, now
        _settle(row, steps, now)
        return moved, board_of(row, steps)


async def settle(session: AsyncSession, session_id: str, now: datetime) -> str:
    """Bring the session's status up to date with its steps, in the caller's transaction
    (after its changes are flushed); whichever run finishes last settles it."""
    row, steps = await _locked(session, session_id)
    _settle(row, steps, now)
    return str(row.status)


def _settle(row: IntakeSession, steps: list[IntakeStep], now: datetime) -> None:
    """The session's status (and the time its clinical steps were done) from its steps."""
    states = [state_of(s) for s in steps]
    status = session_status(states)
    if row.clinical_done_at is None and clinical_done(states):
        row.clinical_done_at = now
    if status != row.status:
        row.status = status
        row.finished_at = now if status is not SessionStatus.RUNNING else None
    row.updated_at = now


def finished(status: str) -> bool:
    return StepStatus(status) in FINISHED


def summary(step: IntakeStep) -> Mapping[str, Any]:
    """What the live channels push about a step (no patient data)."""
    return {
        "session_id": step.session_id,
        "agent": step.agent,
        "status": step.status,
        "attempts": step.attempts,
        "error": step.error,
        "position": step.position,
    }
