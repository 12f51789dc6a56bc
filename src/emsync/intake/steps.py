"""What one run of an intake step reads and writes: the claim (one runner at a time), the
result or failure with its agent-log row, the dead letter, and the session's status.

Each function is one short transaction, so a `kill -9` between two of them leaves a state the
durable run (intake.engine) resumes from: a claim is taken again by the run that held it
(`claimed_by` names the run and attempt), and a finished step is never run twice. An inline step
costs one write transaction: `record_result` writes its result, agent log and the session's
status and claims the run's next step together (`advance` only starts a run or follows a failed
try); a step run beside costs two (`claim`, then `record_result`). Each returns the `Board` the
live channels push, built from the rows it already holds rather than read again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emsync.core.crypto import Keyring
from emsync.intake import rows
from emsync.intake.agents.base import StepInput, StepOutput
from emsync.intake.models import IntakeSession, IntakeStep
from emsync.intake.rows import SessionRow, StepRow
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
# The ORM's rows (the API's overrides) or the runs' own (intake.rows): the same columns.
Step = IntakeStep | StepRow
Session = IntakeSession | SessionRow
# An agent-log row's values (intake_agent_logs), inserted by the transaction that made it.
Log = dict[str, Any]
# What `claim` answers when it takes nothing.
TakenOr = Literal["finished", "retry"]


def seal_json(keyring: Keyring, value: Any, *, aad: str) -> bytes:
    # default=str: agents' outputs may hold dates and ids; they are read back as text.
    return keyring.seal(json.dumps(value, default=str).encode(), aad=aad.encode())


def open_json(keyring: Keyring, sealed: bytes, *, aad: str) -> Any:
    return json.loads(keyring.open(sealed, aad=aad.encode()))


# What a session's run has opened, by associated data: the sealed bytes and their JSON. A
# session's earlier results are given to each of its later steps; opened once per run, not once
# per later step. Kept with the ciphertext it came from, so a row sealed again since (a forced
# step's new result) is opened again; a replay starts empty and opens them from the rows.
Opened = dict[str, tuple[bytes, Any]]


def open_cached(keyring: Keyring, sealed: bytes, *, aad: str, opened: Opened | None) -> Any:
    hit = opened.get(aad) if opened is not None else None
    if hit is not None and hit[0] == sealed:
        return hit[1]
    value = open_json(keyring, sealed, aad=aad)
    if opened is not None:
        opened[aad] = (sealed, value)
    return value


def payload_aad(session_id: str) -> str:
    return f"intake:{session_id}:payload"


def result_aad(session_id: str, agent: str) -> str:
    return f"intake:{session_id}:{agent}:result"


def log_aad(session_id: str, agent: str) -> str:
    return f"intake:{session_id}:{agent}:log"


def session_run(session_id: str) -> str:
    """The session's run's only try (`<workflow id>#0`: engine.run_session)."""
    return f"intake:{session_id}#0"


def beside_workflow_id(session_id: str, agent: str, attempts: int) -> str:
    """The run of a step beside the session's: its first try (in the session's run, or in this
    workflow when forced or started by a poll) and its retries (this workflow). Derived from
    the step's tries so far: two starts of the same queued step start one workflow (DBOS
    deduplicates by id)."""
    return f"intake:{session_id}:{agent}:a{attempts}"


def first_try_of(step: Step) -> str | None:
    """The beside workflow whose first try holds or held `step`, if that try is the last one
    made (it ran, or was running, in the session's run: its retries are that workflow's)."""
    held, _, number = (step.claimed_by or "").rpartition("#")
    prefix = f"intake:{step.session_id}:{step.agent}:a"
    if number == "0" and held.startswith(prefix) and not finished(step.status):
        return held
    return None


def state_of(step: Step) -> StepState:
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


def board_of(row: Session, steps: Sequence[Step]) -> Board:
    return Board(row.id, row.workflow, row.status, [dict(summary(s)) for s in steps])


@dataclass(frozen=True, slots=True)
class Claim:
    """A step this run holds: what the agent is given."""

    step: StepInput
    attempt: int
    forced: bool
    board: Board | None = None
    run: str = ""  # the try holding it (`<workflow id>#<n>`)


@dataclass(frozen=True, slots=True)
class Held:
    """A non-clinical first try's result, made beside the session's run and written by that
    run's next transaction (or its last), not by one of its own: one write per session run
    step, not one more per non-clinical step. Lost with the process, it is made again (the
    step row still says the try is running: steps.first_tries) and finds its effects by key."""

    claim: Claim
    agent_version: str
    result: StepOutput
    started_at: datetime
    duration_ms: float
    finished_at: datetime


@dataclass(frozen=True, slots=True)
class Advance:
    """What the session's run does next (`advance`): run `claim` now (inline) or finish with
    the session's `status`; either way, first try each of `beside` beside it (non-clinical
    steps of an emergency, claimed for their first try in the same transaction)."""

    move: Move
    agent: str = ""
    claim: Claim | None = None
    beside: list[Claim] = field(default_factory=list)
    status: str = ""
    board: Board | None = None


async def load_steps(session: AsyncSession, session_id: str) -> list[IntakeStep]:
    rows = await session.scalars(
        select(IntakeStep).where(IntakeStep.session_id == session_id).order_by(IntakeStep.position)
    )
    return list(rows)


async def first_tries(
    sessions: async_sessionmaker[AsyncSession], session_id: str
) -> list[tuple[str, str]]:
    """(agent, beside workflow id) of the session's steps whose first try, made in the
    session's run, is the last one made and not finished (replay after a crash: the try was
    running, or failed and its retries' workflow may not have started)."""
    async with sessions() as session:
        found = await rows.read_steps(await session.connection(), session_id)
    return [(s.agent, held) for s in found if (held := first_try_of(s)) is not None]


def _in_retries(step: StepRow, run: str) -> bool:
    """`step` is in the retries of `run`'s workflow: a try of it (`<workflow id>#<n>`) was made
    and the step is not finished, and it is not `run`'s own try still running (taken again)."""
    if step.claimed_by is None or finished(step.status):
        return False
    if step.status == S.RUNNING and step.claimed_by == run:
        return False
    return step.claimed_by.rpartition("#")[0] == run.rpartition("#")[0]


def _takeable(step: StepRow, run: str, allowed: frozenset[StepStatus]) -> bool:
    return step.status in allowed or (step.status == S.RUNNING and step.claimed_by == run)


def _take(
    keyring: Keyring,
    row: SessionRow,
    steps: list[StepRow],
    mine: StepRow,
    *,
    run: str,
    now: datetime,
    board: bool = True,
    opened: Opened | None = None,
) -> Claim:
    """Claim `mine` for `run` (written at commit) and build what the agent is given."""
    mine.status, mine.claimed_by, mine.attempts = S.RUNNING, run, mine.attempts + 1
    mine.started_at, mine.updated_at = now, now
    session_id = row.id
    previous = {
        s.agent: open_cached(
            keyring, s.result_sealed, aad=result_aad(session_id, s.agent), opened=opened
        )["output"]
        for s in steps
        if s.status in {S.DONE, S.NEEDS_REVIEW} and s.result_sealed is not None
    }
    payload = open_cached(keyring, row.payload_sealed, aad=payload_aad(session_id), opened=opened)
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
    shown = board_of(row, steps) if board else None
    return Claim(step=step, attempt=mine.attempts, forced=mine.forced, board=shown, run=run)


def already_tried(step: Step, run: str) -> bool:
    """`run`'s try (`<workflow id>#<n>`) was made already: the step names it or a later try of
    the same workflow and is not running it now. A try is not a DBOS step of its own, so after
    a crash its run replays it, and this, from the row, says it failed (it is back waiting) or
    was followed by later tries; a try running when the process died is taken again."""
    workflow, _, number = run.rpartition("#")
    held, _, held_number = (step.claimed_by or "").rpartition("#")
    if held != workflow or not held_number.isdigit() or not number.isdigit():
        return False
    if step.status == S.RUNNING and step.claimed_by == run:
        return False
    return int(held_number) >= int(number)


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    *,
    session_id: str,
    agent: str,
    run: str,
    now: datetime,
    opened: Opened | None = None,
) -> Claim | TakenOr:
    """Take the step for `run` (pending or queued, or already this run's after a crash);
    "finished" when it is finished or another run holds it; "retry" when this try was made
    already and failed (a replay after a crash)."""

    def decide(row: SessionRow, steps: list[StepRow]) -> tuple[Claim | TakenOr, list[Log]]:
        mine = next((s for s in steps if s.agent == agent), None)
        if mine is None or finished(mine.status):
            return "finished", []
        if already_tried(mine, run):
            return "retry", []
        if not _takeable(mine, run, frozenset({S.PENDING, S.QUEUED})):
            return "finished", []
        return _take(keyring, row, steps, mine, run=run, now=now, opened=opened), []

    return await rows.transact(sessions, session_id, decide)


async def advance(
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    *,
    session_id: str,
    run: str,
    now: datetime,
    held: Sequence[Held] = (),
    opened: Opened | None = None,
) -> Advance:
    """One transaction for the session's run before its first step (or after a failed one):
    start the session, queue the non-clinical steps due for runs beside it, and claim the next
    step to run inline (the one this run held before a crash first), or settle the session
    when nothing is left. `held`: first tries' results to write as well."""

    def decide(row: SessionRow, steps: list[StepRow]) -> tuple[Advance, list[Log]]:
        logs = _held_logs(keyring, steps, held)
        if held:
            settle_rows(row, steps, now)
        return next_move(keyring, row, steps, run=run, now=now, opened=opened), logs

    return await rows.transact(sessions, session_id, decide)


def next_move(
    keyring: Keyring,
    row: SessionRow,
    steps: list[StepRow],
    *,
    run: str,
    now: datetime,
    opened: Opened | None = None,
) -> Advance:
    """What `advance` decides, on rows the caller's transaction holds locked."""
    if row.status == SessionStatus.PENDING:
        row.status, row.started_at, row.updated_at = SessionStatus.RUNNING, now, now
    retrying = next((s for s in steps if _in_retries(s, run)), None)
    if retrying is not None:
        # A replay (after a crash) of a run whose try of this step failed: its retries go on
        # from the rows (engine._drive), not with a second first try. `advance` is no DBOS
        # step, so nothing recorded says this; the row does.
        return Advance(Move.INLINE, retrying.agent)
    held = next((s for s in steps if s.status == S.RUNNING and s.claimed_by == run), None)
    beside: list[Claim] = []
    while True:
        chosen = (
            NextStep(Move.INLINE, held.agent)
            if held is not None
            else next_step(row.workflow, [state_of(s) for s in steps])
        )
        if chosen.move != Move.BESIDE:
            break
        # Claimed now for its first try, as the run beside it would (one transaction less
        # per step); the session's run makes that try and starts the retries' workflow.
        due = next(s for s in steps if s.agent == chosen.agent)
        first = f"{beside_workflow_id(row.id, due.agent, due.attempts)}#0"
        beside.append(
            _take(keyring, row, steps, due, run=first, now=now, board=False, opened=opened)
        )
    if chosen.move == Move.FINISH:
        settle_rows(row, steps, now)
        return Advance(
            Move.FINISH, beside=beside, status=str(row.status), board=board_of(row, steps)
        )
    mine = next(s for s in steps if s.agent == chosen.agent)
    claimed = _take(keyring, row, steps, mine, run=run, now=now, opened=opened)
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
    then: str | None = None,
    held: Sequence[Held] = (),
    opened: Opened | None = None,
) -> Advance:
    """The step's result, its agent-log row and the session's status, in one transaction.
    With `then` (the session's run, after an inline step), the same transaction also takes the
    run's next step (`advance`): one write per step instead of two. Without it, the returned
    `Advance` carries only the board (move FINISH, the session's status). `held`: first tries'
    results (beside the run) written in the same transaction."""
    sid = str(claim_.step.session_id)
    mine = Held(claim_, agent_version, result, started_at, duration_ms, now)

    def decide(row: SessionRow, steps: list[StepRow]) -> tuple[Advance, list[Log]]:
        logs = _held_logs(keyring, steps, [mine, *held], check=False)
        settle_rows(row, steps, now)
        following = (
            next_move(keyring, row, steps, run=then, now=now, opened=opened)
            if then is not None
            else Advance(Move.FINISH, status=str(row.status), board=board_of(row, steps))
        )
        return following, logs

    return await rows.transact(sessions, sid, decide)


async def record_held(
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    *,
    session_id: str,
    held: Sequence[Held],
    now: datetime,
) -> tuple[Board, list[tuple[str, str]]]:
    """The first tries' results the session's run still holds when its own steps are done, in
    one transaction; and, from the same rows, what `first_tries` would read."""

    def decide(
        row: SessionRow, steps: list[StepRow]
    ) -> tuple[tuple[Board, list[tuple[str, str]]], list[Log]]:
        logs = _held_logs(keyring, steps, held)
        settle_rows(row, steps, now)
        left = [(s.agent, h) for s in steps if (h := first_try_of(s)) is not None]
        return (board_of(row, steps), left), logs

    return await rows.transact(sessions, session_id, decide)


def _held_logs(
    keyring: Keyring,
    steps: list[StepRow],
    held: Sequence[Held],
    *,
    check: bool = True,
) -> list[Log]:
    """Each result on its step row (written with the rows) and its agent-log row (returned, for
    one INSERT of all). With `check`, only where the try still holds the step (it was made
    beside the run and written later; `check=False`: the run's own inline step, as it always
    was)."""
    logs: list[Log] = []
    for done in held:
        sid, agent = str(done.claim.step.session_id), done.claim.step.agent
        mine = next(s for s in steps if s.agent == agent)
        if check and not (mine.status == S.RUNNING and mine.claimed_by == done.claim.run):
            continue
        result = done.result
        sealed = seal_json(
            keyring,
            {
                "output": result.output,
                "decisions": [
                    {
                        "rule": d.rule,
                        "version": d.version,
                        "inputs": dict(d.inputs),
                        "result": d.result,
                    }
                    for d in result.decisions
                ],
            },
            aad=result_aad(sid, agent),
        )
        mine.status, mine.result_sealed, mine.error = result.outcome, sealed, None
        mine.finished_at, mine.duration_ms = done.finished_at, done.duration_ms
        mine.updated_at = done.finished_at
        logs.append(
            _log(
                keyring,
                done.claim,
                done.agent_version,
                outcome=result.outcome,
                rules=[f"{d.rule}@{d.version}" for d in result.decisions],
                result_sealed=keyring.seal(sealed, aad=log_aad(sid, agent).encode()),
                error=None,
                started_at=done.started_at,
                duration_ms=done.duration_ms,
            )
        )
    return logs


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
    held: Sequence[Held] = (),
) -> Board:
    """A failed attempt: logged, and the step handed back (`back_to`) for the next try.
    `held`: first tries' results written as well."""
    sid, agent = str(claim_.step.session_id), claim_.step.agent

    def decide(row: SessionRow, steps: list[StepRow]) -> tuple[Board, list[Log]]:
        logs = _held_logs(keyring, steps, held)
        if held:
            settle_rows(row, steps, now)
        mine = next(s for s in steps if s.agent == agent)
        if mine.status == S.RUNNING:
            mine.status, mine.error, mine.updated_at = back_to, error[:200], now
        failed = _log(
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
        return board_of(row, steps), [*logs, failed]

    return await rows.transact(sessions, sid, decide)


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
) -> dict[str, Any]:
    """The agent-log row's values (intake_agent_logs)."""
    step = claim_.step
    sid = str(step.session_id)
    inputs = {
        "payload": dict(step.payload),
        "previous": {k: dict(v) for k, v in step.previous.items()},
    }
    return {
        "session_id": sid,
        "agent": step.agent,
        "agent_version": agent_version,
        "attempt": claim_.attempt,
        "outcome": outcome,
        "rules": rules,
        "inputs_sealed": seal_json(keyring, inputs, aad=log_aad(sid, step.agent)),
        "result_sealed": result_sealed,
        "error": error,
        "started_at": started_at,
        "duration_ms": duration_ms,
    }


async def dead_letter(
    sessions: async_sessionmaker[AsyncSession],
    *,
    session_id: str,
    agent: str,
    now: datetime,
    workflow: str = "",
) -> tuple[bool, Board]:
    """Dead-letter a step whose tries ran out (if still waiting, or still held by a try of
    `workflow`, whose tries are over: its run would otherwise find it in its retries again)
    and settle the session, in one transaction; True if it moved."""

    def decide(row: SessionRow, steps: list[StepRow]) -> tuple[tuple[bool, Board], list[Log]]:
        mine = next(s for s in steps if s.agent == agent)
        held = mine.status == S.RUNNING and (mine.claimed_by or "").rpartition("#")[0] == workflow
        moved = mine.status in {S.PENDING, S.QUEUED} or (bool(workflow) and held)
        if moved:
            mine.status, mine.updated_at = S.DEAD_LETTER, now
        settle_rows(row, steps, now)
        return (moved, board_of(row, steps)), []

    return await rows.transact(sessions, session_id, decide)


def settle_rows(row: Session, steps: Sequence[Step], now: datetime) -> None:
    """The session's status (and the time its clinical steps were done) from its steps. Its
    `updated_at` moves with them, not with every step (the steps have their own): a step that
    changes neither no longer costs the session row an UPDATE."""
    states = [state_of(s) for s in steps]
    status = session_status(states)
    if row.clinical_done_at is None and clinical_done(states):
        row.clinical_done_at = row.updated_at = now
    if status != row.status:
        row.status = status
        row.finished_at = now if status is not SessionStatus.RUNNING else None
        row.updated_at = now


def finished(status: str) -> bool:
    return StepStatus(status) in FINISHED


def summary(step: Step) -> Mapping[str, Any]:
    """What the live channels push about a step (no patient data)."""
    return {
        "session_id": step.session_id,
        "agent": step.agent,
        "status": step.status,
        "attempts": step.attempts,
        "error": step.error,
        "position": step.position,
    }
