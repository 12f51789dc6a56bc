"""The ingest's device views (telemetry.directory): read ahead of their expiry in the background,
never used past it, and read afresh when the device changed while being read."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from emsync.auth.permissions import Role
from emsync.core.db import sqlite_writer
from emsync.core.runtime import Runtime
from emsync.telemetry.directory import REFRESH_AFTER, DeviceDirectory
from emsync.telemetry.pipeline import Pipeline
from tests.builders import auth_headers
from tests.telemetry_support import provision

TTL = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def statements(app: FastAPI) -> Iterator[list[str]]:
    """Every statement the app's engine executes from here on."""
    runtime: Runtime = app.state.runtime
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    yield seen
    event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)


def _revoked(directory: DeviceDirectory) -> bool:
    view = directory.get("mon-d")
    assert view is not None
    return view.revoked


async def _revoked_after_read(
    app: FastAPI, client: httpx.AsyncClient
) -> tuple[DeviceDirectory, Clock]:
    """A directory that has read device `mon-d` (not revoked), then `mon-d` revoked."""
    runtime: Runtime = app.state.runtime
    admin = await auth_headers(app, client, Role.ADMIN)
    await provision(client, admin, "mon-d", patient_id=None)
    clock = Clock()
    directory = DeviceDirectory(runtime.read_sessions, runtime.keyring, TTL, clock=clock)
    await directory.ensure(["mon-d"])
    assert not _revoked(directory)
    revoked = await client.post("/api/telemetry/devices/mon-d/revoke", headers=admin)
    assert revoked.status_code == 200, revoked.text
    return directory, clock


async def test_a_view_past_half_its_life_is_read_again_without_the_batch_waiting(
    app: FastAPI, client: httpx.AsyncClient, statements: list[str]
) -> None:
    directory, clock = await _revoked_after_read(app, client)
    clock.now += TTL * REFRESH_AFTER + 0.1
    statements.clear()
    await directory.ensure(["mon-d"])
    # The batch goes on at once with the view it has, still within its time to live.
    assert statements == []
    assert not _revoked(directory)
    await directory.settled()
    assert statements, "the view was not read again"
    assert _revoked(directory)
    # Read again as of the ensure that asked for it, and aged from then.
    clock.now += TTL * REFRESH_AFTER - 0.5
    statements.clear()
    await directory.ensure(["mon-d"])
    await directory.settled()
    assert statements == []


async def test_an_expired_view_is_read_before_the_batch_uses_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    directory, clock = await _revoked_after_read(app, client)
    clock.now += TTL + 0.1
    await directory.ensure(["mon-d"])
    assert _revoked(directory)


async def test_a_device_changed_while_read_ahead_is_read_afresh_by_the_next_batch(
    app: FastAPI, client: httpx.AsyncClient, statements: list[str]
) -> None:
    directory, clock = await _revoked_after_read(app, client)
    clock.now += TTL * REFRESH_AFTER + 0.1
    await directory.ensure(["mon-d"])  # the read ahead starts...
    directory.invalidate("mon-d")  # ...and the device changes (events.DeviceChanged) meanwhile
    await directory.settled()
    statements.clear()
    await directory.ensure(["mon-d"])
    assert statements, "a view read across a change was kept as fresh"
    assert _revoked(directory)


async def test_stopping_cancels_a_read_ahead(app: FastAPI, client: httpx.AsyncClient) -> None:
    directory, clock = await _revoked_after_read(app, client)
    clock.now += TTL * REFRESH_AFTER + 0.1
    await directory.ensure(["mon-d"])
    await directory.stop()
    await directory.settled()
    assert not _revoked(directory)  # never read: cancelled before it ran


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_pipelines_device_read_does_not_queue_for_the_sqlite_write_lock(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """A read that queued behind the writers held the batch it was for back, and a read ahead
    held the next batch's store (which takes the same write turn) back."""
    runtime: Runtime = app.state.runtime
    admin = await auth_headers(app, client, Role.ADMIN)
    await provision(client, admin, "mon-w", patient_id=None)
    writer = sqlite_writer(runtime.engine)
    assert writer is not None
    directory = runtime.get(Pipeline).devices
    async with writer.gate.held():
        read = asyncio.create_task(directory.ensure(["mon-w"]))
        # A guard against a hang only (the read waiting for the lock held here), not a timing.
        done, _ = await asyncio.wait([read], timeout=30)
        assert read in done, "the device read waited for the write lock"
    await read  # and did not fail waiting for it
    assert directory.get("mon-w") is not None
