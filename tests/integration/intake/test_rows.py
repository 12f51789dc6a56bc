"""The runs' rows (intake.rows): Core reads and writes of a session and its steps, as the ORM
stored them, writing only what a run changed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event, select
from sqlalchemy.exc import NoResultFound

from emsync.core.db import sqlite_writer
from emsync.intake import rows, service
from emsync.intake.models import IntakeAgentLog, IntakeSession, IntakeStep
from emsync.intake.workflows import WORKFLOWS


async def _start(app: FastAPI, session: Any, key: str | None = None, *, claim: bool = False) -> str:
    runtime = app.state.runtime
    started = await service.start_claimed(
        session=session,
        keyring=runtime.keyring,
        workflow="emergency",
        payload={"note": "x"},
        clinical={},
        actor="test",
        hospital_id=None,
        now=runtime.clock(),
        source_key=key,
        claim=claim,
    )
    return str(started.row.id)


async def _session(app: FastAPI) -> str:
    async with app.state.runtime.sessions() as session:
        return await _start(app, session)


async def test_a_write_updates_only_the_columns_changed_and_nothing_when_none_did(
    app: FastAPI,
) -> None:
    runtime = app.state.runtime
    sid = await _session(app)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with runtime.sessions() as session, session.begin():
            conn = await session.connection()
            row, steps = await rows.locked(conn, sid)
            assert [s.agent for s in steps] == list(WORKFLOWS["emergency"])
            statements.clear()
            await rows.write(conn, row, steps)
            assert statements == []
            later = runtime.clock()
            steps[0].status, steps[0].claimed_by, steps[0].updated_at = "running", "r#0", later
            steps[2].status, steps[2].claimed_by, steps[2].updated_at = "running", "r#1", later
            row.status = "running"
            await rows.write(conn, row, steps)
            updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
            # The session's row, and both steps in one statement (the same columns changed).
            assert len(updates) == 2
            assert "payload_sealed" not in updates[0]
            assert "result_sealed" not in updates[1]
            statements.clear()
            await rows.write(conn, row, steps)  # written: nothing changed since
            assert statements == []
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", seen)
    async with runtime.read_sessions() as session:
        stored = {
            s.agent: s
            for s in await session.scalars(select(IntakeStep).where(IntakeStep.session_id == sid))
        }
        status = await session.scalar(select(IntakeSession.status).where(IntakeSession.id == sid))
    assert status == "running"
    assert (stored["triage"].status, stored["triage"].claimed_by) == ("running", "r#0")
    assert (stored["legal"].status, stored["legal"].claimed_by) == ("running", "r#1")
    assert stored["admission"].status == "pending"
    assert stored["admission"].claimed_by is None
    assert stored["triage"].updated_at == later
    assert stored["triage"].attempts == 0


async def test_rows_that_changed_different_columns_are_written_in_one_update(
    app: FastAPI,
) -> None:
    runtime = app.state.runtime
    sid = await _session(app)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    later = runtime.clock()
    async with runtime.sessions() as session, session.begin():
        conn = await session.connection()
        row, steps = await rows.locked(conn, sid)
        # A step's result and the next step's claim, as record_result writes them.
        steps[0].status, steps[0].result_sealed, steps[0].finished_at = "done", b"r", later
        steps[1].status, steps[1].claimed_by, steps[1].attempts = "running", "r#0", 1
        event.listen(runtime.engine.sync_engine, "before_cursor_execute", seen)
        try:
            await rows.write(conn, row, steps)
        finally:
            event.remove(runtime.engine.sync_engine, "before_cursor_execute", seen)
    assert len([s for s in statements if s.lstrip().upper().startswith("UPDATE")]) == 1
    async with runtime.read_sessions() as session:
        stored = {
            s.agent: s
            for s in await session.scalars(select(IntakeStep).where(IntakeStep.session_id == sid))
        }
    triage, admission = stored["triage"], stored["admission"]
    assert (triage.status, triage.result_sealed, triage.claimed_by) == ("done", b"r", None)
    assert triage.finished_at == later
    assert (admission.status, admission.claimed_by, admission.attempts) == ("running", "r#0", 1)
    assert admission.result_sealed is None
    assert admission.finished_at is None
    assert stored["legal"].status == "pending"


async def test_a_transaction_reads_as_the_orm_stored_and_writes_its_rows_and_logs(
    app: FastAPI,
) -> None:
    """`transact` (on a SQLite file, whole on the engine's SQLiteWriter; on PostgreSQL through
    the engine): the rows it hands over are those the ORM stored, converted alike (times with
    their zone, flags as booleans), and what the decision changed and logged is stored as the
    ORM reads it back."""
    runtime = app.state.runtime
    sid = await _session(app)
    later = runtime.clock()
    log = {
        "session_id": sid,
        "agent": "triage",
        "agent_version": "1",
        "attempt": 1,
        "outcome": "done",
        "rules": ["news2@1"],
        "inputs_sealed": b"in",
        "result_sealed": b"out",
        "error": None,
        "started_at": later,
        "duration_ms": 1.5,
    }
    seen: dict[str, Any] = {}

    def decide(row: rows.SessionRow, steps: list[rows.StepRow]) -> tuple[str, list[dict[str, Any]]]:
        seen["status"], seen["updated_at"] = row.status, row.updated_at
        seen["clinical"] = [s.clinical for s in steps]
        steps[0].status, steps[0].result_sealed, steps[0].finished_at = "done", b"r", later
        steps[1].status, steps[1].claimed_by, steps[1].attempts = "running", "r#0", 1
        row.status, row.started_at = "running", later
        return "answer", [log]

    if runtime.engine.dialect.name == "sqlite":
        assert sqlite_writer(runtime.engine) is not None  # the path this test is for there
    assert await rows.transact(runtime.sessions, sid, decide) == "answer"
    async with runtime.read_sessions() as session:
        stored = await session.get_one(IntakeSession, sid)
        steps = {
            s.agent: s
            for s in await session.scalars(select(IntakeStep).where(IntakeStep.session_id == sid))
        }
        logged = (
            await session.scalars(select(IntakeAgentLog).where(IntakeAgentLog.session_id == sid))
        ).one()
    assert seen["status"] == "pending"
    assert seen["updated_at"] == stored.updated_at
    assert seen["updated_at"].tzinfo is not None
    assert seen["clinical"] == [
        s.clinical for s in sorted(steps.values(), key=lambda s: s.position)
    ]
    assert all(isinstance(c, bool) for c in seen["clinical"])
    assert (stored.status, stored.started_at) == ("running", later)
    assert (steps["triage"].status, steps["triage"].result_sealed) == ("done", b"r")
    assert steps["triage"].finished_at == later
    assert (steps["admission"].status, steps["admission"].claimed_by) == ("running", "r#0")
    assert steps["admission"].attempts == 1
    assert steps["legal"].status == "pending"
    assert (logged.rules, logged.inputs_sealed, logged.started_at) == (["news2@1"], b"in", later)
    assert logged.duration_ms == 1.5


async def test_a_decision_that_raises_changes_nothing(app: FastAPI) -> None:
    runtime = app.state.runtime
    sid = await _session(app)

    def decide(row: rows.SessionRow, steps: list[rows.StepRow]) -> tuple[None, list[Any]]:
        steps[0].status, row.status = "done", "running"
        raise LookupError("refused")

    with pytest.raises(LookupError):
        await rows.transact(runtime.sessions, sid, decide)
    with pytest.raises(NoResultFound):
        await rows.transact(runtime.sessions, "no-such-session", decide)
    async with runtime.read_sessions() as session:
        status = await session.scalar(select(IntakeSession.status).where(IntakeSession.id == sid))
        first = await session.scalar(
            select(IntakeStep.status).where(
                IntakeStep.session_id == sid, IntakeStep.agent == "triage"
            )
        )
    assert (status, first) == ("pending", "pending")


async def test_a_start_is_once_per_source_key_with_or_without_a_transaction_held(
    app: FastAPI,
) -> None:
    """A fresh session starts on the SQLiteWriter (SQLite file: nothing through the engine);
    one already in a transaction (an arrival's caller that has read, holding this process's
    write turn on SQLite) starts through it instead, where the writer would wait behind that
    turn for ever. Either way a second start with the same key returns the first."""
    runtime = app.state.runtime
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "intake_s" in statement:  # not the app's background jobs' statements
            statements.append(statement)

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with runtime.sessions() as session:
            first = await _start(app, session, "handoff-1", claim=True)
        assert statements == []  # SQLite file: the writer; PostgreSQL: asyncpg itself
        async with runtime.sessions() as session:
            assert await _start(app, session, "handoff-1", claim=True) == first
        async with runtime.sessions() as session:
            await session.scalar(select(IntakeSession.id).limit(1))  # a transaction begun
            assert session.in_transaction()
            second = await asyncio.wait_for(_start(app, session, "handoff-2", claim=True), 20)
            assert (
                await asyncio.wait_for(_start(app, session, "handoff-2", claim=True), 20) == second
            )
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", seen)
    async with runtime.read_sessions() as session:
        found = list(
            await session.scalars(
                select(IntakeSession).where(
                    IntakeSession.source_key.in_(["handoff-1", "handoff-2"])
                )
            )
        )
        steps = list(
            await session.scalars(select(IntakeStep).where(IntakeStep.session_id == first))
        )
    assert sorted(s.id for s in found) == sorted([first, second])
    assert [s.status for s in found] == ["pending", "pending"]
    # The run's first claim was written with the start (claim=True), as the engine takes it.
    assert [s.agent for s in steps if s.status == "running"] == ["triage"]
    assert all(s.updated_at.tzinfo is not None for s in steps)
