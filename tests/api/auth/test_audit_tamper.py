"""Issue #14 item 6: the audit chain is keyed (a database writer cannot recompute it), signed
checkpoints outside the database catch a truncated tail or a rewritten past, and on PostgreSQL
the append-only trigger fires even under session_replication_role = replica."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from emsync.auth import audit, checkpoints
from emsync.auth.chain import GENESIS, ChainReport, entry_hash
from emsync.auth.checkpoints import AuditCheckpointer, AuditKey, checkpoint_file
from emsync.auth.models import AuditEntry
from emsync.auth.permissions import Role
from emsync.core.runtime import Runtime
from tests.builders import auth_headers, incident_body


async def _entries(app: FastAPI, client: httpx.AsyncClient, n: int) -> Runtime:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    for _ in range(n):
        await client.post("/api/incidents", json=incident_body(), headers=headers)
    runtime: Runtime = app.state.runtime
    return runtime


async def _verify(runtime: Runtime) -> ChainReport:
    seen = checkpoints.read(checkpoint_file(runtime.settings))
    async with runtime.sessions() as session:
        return await audit.verify(session=session, key=runtime.get(AuditKey), checkpoints_seen=seen)


async def _bypass(runtime: Runtime, *statements: str) -> None:
    """What a database superuser can do: switch the guard off, change rows, switch it back on."""
    async with runtime.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            await conn.execute(text("DROP TRIGGER audit_log_no_update"))
            await conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        for statement in statements:
            await conn.execute(text(statement))
        if conn.dialect.name == "postgresql":
            await conn.execute(
                text("ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_append_only")
            )


async def test_an_edit_with_a_recomputed_unkeyed_chain_is_detected(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    runtime = await _entries(app, client, 3)
    assert (await _verify(runtime)).ok
    # The attacker edits entry 2 and recomputes every hash from there, without the key.
    async with runtime.sessions() as session:
        rows = (await session.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all()
    prev = GENESIS
    updates = []
    for row in rows:
        outcome = "success" if row.seq != 2 else "failure:403"
        digest = entry_hash(
            seq=row.seq, at=row.at, actor=row.actor, action=row.action, target=row.target,
            request_id=row.request_id, outcome=outcome, prev_hash=prev,
        )  # fmt: skip
        updates.append(
            f"UPDATE audit_log SET outcome = '{outcome}', prev_hash = '{prev}', hash = '{digest}'"  # noqa: S608 - test values
            f" WHERE seq = {row.seq}"
        )
        prev = digest
    await _bypass(runtime, *updates)
    report = await _verify(runtime)
    assert not report.ok
    assert report.first_broken_seq == 1


async def test_a_deleted_tail_is_detected_by_the_checkpoint(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    runtime = await _entries(app, client, 4)
    written = await runtime.get(AuditCheckpointer).checkpoint()
    assert written is not None
    assert (await _verify(runtime)).ok
    await _bypass(runtime, f"DELETE FROM audit_log WHERE seq > {written.seq - 2}")  # noqa: S608
    report = await _verify(runtime)
    assert not report.ok
    assert report.problem is not None
    assert "truncated" in report.problem


async def test_a_rewritten_past_is_detected_by_the_checkpoint_even_with_the_key(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Someone with the key too (a stolen app server) recomputes a valid chain: the checkpoint,
    kept elsewhere, still holds the old head."""
    runtime = await _entries(app, client, 3)
    written = await runtime.get(AuditCheckpointer).checkpoint()
    assert written is not None
    key = runtime.get(AuditKey)
    async with runtime.sessions() as session:
        rows = (await session.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all()
    prev, updates = GENESIS, []
    for row in rows:
        actor = "user:nobody" if row.seq == 1 else row.actor
        digest = entry_hash(
            seq=row.seq, at=row.at, actor=actor, action=row.action, target=row.target,
            request_id=row.request_id, outcome=row.outcome, prev_hash=prev, key=key.secret,
        )  # fmt: skip
        updates.append(
            f"UPDATE audit_log SET actor = '{actor}', prev_hash = '{prev}', hash = '{digest}'"  # noqa: S608 - test values
            f" WHERE seq = {row.seq}"
        )
        prev = digest
    await _bypass(runtime, *updates)
    report = await _verify(runtime)
    assert report.problem is not None
    assert "differs from its checkpoint" in report.problem


async def test_a_forged_checkpoint_is_reported(app: FastAPI, client: httpx.AsyncClient) -> None:
    runtime = await _entries(app, client, 1)
    path: Path = checkpoint_file(runtime.settings)
    forged = {"seq": 1, "hash": hashlib.sha256(b"x").hexdigest(), "at": "2026-01-01", "mac": "00"}
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(path.write_text, json.dumps(forged) + "\n")
    report = await _verify(runtime)
    assert report.problem is not None
    assert "not signed" in report.problem


@pytest.mark.postgres
async def test_the_replication_role_does_not_bypass_the_trigger(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    runtime = await _entries(app, client, 1)
    if runtime.engine.dialect.name != "postgresql":
        return  # SQLite has no replication role; its triggers always fire

    async def delete_as_replica() -> None:
        async with runtime.engine.begin() as conn:
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            await conn.execute(text("DELETE FROM audit_log"))

    with pytest.raises(DBAPIError, match="append-only"):
        await delete_as_replica()
    # Disabling the trigger is a superuser's act: verify reports it.
    async with runtime.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    report = await _verify(runtime)
    assert report.problem is not None
    assert "trigger" in report.problem
