"""What one run of an intake step reads and writes: the claim (one runner at a time), the
result or failure with its agent-log row, the dead letter, and the session's status.

Each function is one short transaction, so a `kill -9` between two of them leaves a state the
durable run (intake.engine) resumes from: a claim is taken again by the run that held it
(`claimed_by` names the run and attempt), and a finished step is never run twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emsync.core.crypto import Keyring
from emsync.intake.agents.base import StepInput, StepOutput
from emsync.intake.models import IntakeAgentLog, IntakeSession, IntakeStep
from emsync.intake.workflows import (
    FINISHED,
    SessionStatus,
    StepState,
    StepStatus,
    clinical_done,
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
class Claim:
    """A step this run holds: what the agent is given."""

    step: StepInput
    attempt: int
    forced: bool


async def load_steps(session: AsyncSession, session_id: str) -> list[IntakeStep]:
    rows = await session.scalars(
        select(IntakeStep).where(IntakeStep.session_id == session_id).order_by(IntakeStep.position)
    )
    return list(rows)


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
        taken = await session.execute(
            update(IntakeStep)
            .where(
                IntakeStep.session_id == session_id,
                IntakeStep.agent == agent,
                or_(
                    IntakeStep.status.in_([S.PENDING, S.QUEUED]),
                    (IntakeStep.status == S.RUNNING) & (IntakeStep.claimed_by == run),
                ),
            )
            .values(
                status=S.RUNNING,
                claimed_by=run,
                attempts=IntakeStep.attempts + 1,
                started_at=now,
                updated_at=now,
            )
        )
        if getattr(taken, "rowcount", 0) != 1:
            return None
        row = await session.get_one(IntakeSession, session_id)
        steps = await load_steps(session, session_id)
        previous = {
            s.agent: open_json(keyring, s.result_sealed, aad=result_aad(session_id, s.agent))[
                "output"
            ]
            for s in steps
            if s.status in {S.DONE, S.NEEDS_REVIEW} and s.result_sealed is not None
        }
        mine = next(s for s in steps if s.agent == agent)
        payload = open_json(keyring, row.payload_sealed, aad=payload_aad(session_id))
        step = StepInput(
            session_id=UUID(session_id),
            workflow=row.workflow,
            agent=agent,
            payload=payload,
            previous=previous,
            idempotency_key=StepInput.key_for(UUID(session_id), agent),
            actor=row.actor,
            hospital_id=row.hospital_id,
        )
        return Claim(step=step, attempt=mine.attempts, forced=mine.forced)


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
) -> None:
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
        await session.execute(
            update(IntakeStep)
            .where(IntakeStep.session_id == sid, IntakeStep.agent == agent)
            .values(
                status=result.outcome,
                result_sealed=sealed,
                error=None,
                finished_at=now,
                duration_ms=duration_ms,
                updated_at=now,
            )
        )
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
) -> None:
    """A failed attempt: logged, and the step handed back (`back_to`) for the next try."""
    sid, agent = str(claim_.step.session_id), claim_.step.agent
    async with sessions() as session, session.begin():
        await session.execute(
            update(IntakeStep)
            .where(IntakeStep.session_id == sid, IntakeStep.agent == agent)
            .where(IntakeStep.status == S.RUNNING)
            .values(status=back_to, error=error[:200], updated_at=now)
        )
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


async def mark(
    sessions: async_sessionmaker[AsyncSession],
    *,
    session_id: str,
    agent: str,
    to: StepStatus,
    when: frozenset[StepStatus],
    now: datetime,
) -> bool:
    """Move a step to `to` if it is in one of `when`; True if it moved."""
    async with sessions() as session, session.begin():
        moved = await session.execute(
            update(IntakeStep)
            .where(
                IntakeStep.session_id == session_id,
                IntakeStep.agent == agent,
                IntakeStep.status.in_(list(when)),
            )
            .values(status=to, updated_at=now)
        )
        return getattr(moved, "rowcount", 0) == 1


async def step_states(
    sessions: async_sessionmaker[AsyncSession], session_id: str
) -> tuple[str, list[StepState]]:
    async with sessions() as session:
        row = await session.get_one(IntakeSession, session_id)
        return row.workflow, [state_of(s) for s in await load_steps(session, session_id)]


async def open_session(
    sessions: async_sessionmaker[AsyncSession], session_id: str, now: datetime
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(IntakeSession)
            .where(IntakeSession.id == session_id, IntakeSession.status == SessionStatus.PENDING)
            .values(status=SessionStatus.RUNNING, started_at=now, updated_at=now)
        )


async def settle(session: AsyncSession, session_id: str, now: datetime) -> str:
    """Bring the session's status (and the time its clinical steps were done) up to date with
    its steps, in the caller's transaction; whichever run finishes last settles it."""
    row = await session.get_one(IntakeSession, session_id, with_for_update=True)
    states = [state_of(s) for s in await load_steps(session, session_id)]
    status = session_status(states)
    if row.clinical_done_at is None and clinical_done(states):
        row.clinical_done_at = now
    if status != row.status:
        row.status = status
        row.finished_at = now if status is not SessionStatus.RUNNING else None
    row.updated_at = now
    return str(status)


async def settle_session(
    sessions: async_sessionmaker[AsyncSession], session_id: str, now: datetime
) -> str:
    async with sessions() as session, session.begin():
        return await settle(session, session_id, now)


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
