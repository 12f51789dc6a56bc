"""Durable events (docs/durable-events.md): a process killed between an incident's commit and its
reactions, or after a reaction's transaction and before the event was acknowledged, runs each
reaction exactly once after a restart; a reaction that fails every attempt is kept as a dead
letter that a person lists and retries with `emsync events dead-letters`.

SQLite runs the embedded profile's in-process transport, PostgreSQL the scale profile's RabbitMQ
(127.0.0.1:5672, guest/guest; a queue and exchange of its own per test).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner, Result

from emsync import cli
from emsync.bootstrap import create_app
from emsync.core.events import DeadLetter
from emsync.core.outbox import SealedEvent
from emsync.core.runtime import Runtime
from emsync.core.transport import Relay
from emsync.incidents.events import IncidentCreated
from tests.conftest import TEST_MASTER_KEYS, TEST_SECRET, _require_service, make_settings
from tests.integration.core.durable_child import MARKER, MARKS, commit_incident, install_marker

ROOT = Path(__file__).resolve().parents[3]
AMQP_URL = os.environ.get("EMSYNC_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


async def _rabbitmq_names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:12]
    try:
        connection = await aio_pika.connect(AMQP_URL, timeout=5)
    except (OSError, aio_pika.exceptions.AMQPError) as exc:
        _require_service("RabbitMQ", exc)
    await connection.close()
    return f"emsync.test.{suffix}", f"emsync.test.{suffix}"


async def _delete_rabbitmq(exchange: str, queue: str) -> None:
    connection = await aio_pika.connect(AMQP_URL, timeout=5)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(queue)
        await channel.exchange_delete(exchange)


@pytest.fixture
async def events(database_url: str) -> AsyncIterator[dict[str, Any]]:
    """settings.events for the backend: in-process on SQLite, RabbitMQ on PostgreSQL."""
    base: dict[str, Any] = {"handler_backoff_seconds": 0}
    if database_url.startswith("sqlite"):
        yield {**base, "transport": "inprocess"}
        return
    exchange, queue = await _rabbitmq_names()
    yield {
        **base,
        "transport": "rabbitmq",
        "amqp_url": AMQP_URL,
        "amqp_exchange": exchange,
        "amqp_queue": queue,
    }
    await _delete_rabbitmq(exchange, queue)


async def _sql(database_url: str, statement: str) -> Any:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


async def _marks(database_url: str) -> int:
    return int(await _sql(database_url, f"SELECT count(*) FROM {MARKS}"))  # noqa: S608


def _run_child(database_url: str, data_dir: Path, events: dict[str, Any], kill: str) -> int:
    spec = {"database_url": database_url, "data_dir": str(data_dir), "events": events, "kill": kill}
    child = subprocess.run(
        [sys.executable, "-m", "tests.integration.core.durable_child", json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert child.returncode == -9, child.stderr[-3000:]
    return child.returncode


def _restarted(database_url: str, data_dir: Path, events: dict[str, Any]) -> FastAPI:
    # Grace 0: the restarted relay takes what the killed process left in the outbox at once.
    settings = make_settings(database_url, data_dir, events={**events, "relay_grace_seconds": 0})
    app = create_app(settings)
    install_marker(app.state.runtime)
    return app


def _deliveries(runtime: Runtime) -> asyncio.Queue[str]:
    """Event ids as the restarted process finishes delivering them (by whichever transport)."""
    durability = runtime.get(Relay).durability
    original = durability.deliver
    done: asyncio.Queue[str] = asyncio.Queue()

    async def observed(sealed: SealedEvent, *, redelivery: bool) -> None:
        await original(sealed, redelivery=redelivery)
        done.put_nowait(sealed.event_id)

    durability.deliver = observed  # type: ignore[method-assign]
    return done


async def _outbox_event_id(database_url: str) -> str:
    return str(await _sql(database_url, "SELECT event_id FROM event_outbox"))


@pytest.mark.parametrize("kill", ["before-relay", "after-handler"])
async def test_a_killed_process_runs_each_reaction_exactly_once_after_restart(
    database_url: str, tmp_path: Path, events: dict[str, Any], kill: str
) -> None:
    await _sql(database_url, f"CREATE TABLE {MARKS} (incident_id VARCHAR(36) NOT NULL)")
    await asyncio.to_thread(_run_child, database_url, tmp_path, events, kill)

    event_id = await _outbox_event_id(database_url)  # the incident's commit kept its event
    delivered = f"SELECT count(*) FROM event_deliveries WHERE handler = '{MARKER}'"  # noqa: S608
    if kill == "before-relay":
        assert await _marks(database_url) == 0
        assert await _sql(database_url, delivered) == 0
    else:  # the reaction's row and its delivery record committed together
        assert await _marks(database_url) == 1
        assert await _sql(database_url, delivered) == 1

    app = _restarted(database_url, tmp_path, events)
    done = _deliveries(app.state.runtime)
    async with LifespanManager(app, startup_timeout=60):
        assert await asyncio.wait_for(done.get(), timeout=60) == event_id
        await app.state.runtime.get(Relay).flush()

    assert await _marks(database_url) == 1
    assert await _sql(database_url, delivered) == 1
    # Every durable reaction to the incident is recorded, and the outbox row is relayed.
    reactions = await _sql(
        database_url,
        f"SELECT count(*) FROM event_deliveries WHERE event_id = '{event_id}'",  # noqa: S608
    )
    assert reactions == len(app.state.runtime.bus.durable(IncidentCreated))
    assert (
        await _sql(database_url, "SELECT count(*) FROM event_outbox WHERE relayed_at IS NULL") == 0
    )


def _cli(settings_env: dict[str, str], *args: str) -> Result:
    # In a thread (the command runs its own event loop); the app keeps running meanwhile.
    return CliRunner().invoke(cli.app, ["events", "dead-letters", *args], env=settings_env)


async def test_a_dead_letter_is_listed_and_retried_by_a_person(
    database_url: str, tmp_path: Path, events: dict[str, Any]
) -> None:
    # The test runs the relay's rounds itself (relay.tick()): with its own 1 s round the relay
    # took a retry request before the test's next `list` could show it, in a run at load 11-16
    # where each CLI call took seconds.
    settings = make_settings(database_url, tmp_path, events={**events, "relay_poll_seconds": 3600})
    app = create_app(settings)
    runtime: Runtime = app.state.runtime
    outage = {"on": True}
    runs: list[str] = []

    async def bed_board(event: IncidentCreated) -> None:
        runs.append(event.incident_id)
        if outage["on"]:
            raise RuntimeError(f"bed board down for {event.incident_id}")

    runtime.bus.subscribe(IncidentCreated, bed_board, durable=True, name="test.bed_board")
    relay = runtime.get(Relay)
    # Signalled once a dead letter is stored, and once a retry has run (either transport).
    letters: asyncio.Queue[str] = asyncio.Queue()
    retried: asyncio.Queue[str] = asyncio.Queue()
    dead_lettered, retry = runtime.bus.dead_lettered, relay.durability.retry

    async def on_letter(letter: DeadLetter) -> None:
        await dead_lettered(letter)
        letters.put_nowait(letter.handler)

    async def on_retry(sealed: SealedEvent, handler: str) -> None:
        await retry(sealed, handler)
        retried.put_nowait(handler)

    runtime.bus.dead_lettered = on_letter  # type: ignore[method-assign]
    relay.durability.retry = on_retry  # type: ignore[method-assign]
    env = {
        "EMSYNC_ENV": "test",
        "EMSYNC_DATABASE__URL": database_url,
        "EMSYNC_DATA_DIR": str(tmp_path),
        "EMSYNC_AUTH__SECRET_KEY": TEST_SECRET,
        "EMSYNC_SECURITY__MASTER_KEYS": TEST_MASTER_KEYS,
    }

    async def dead_letters(*args: str) -> Result:
        return await asyncio.to_thread(_cli, env, *args)

    async with LifespanManager(app, startup_timeout=60):
        incident_id = await commit_incident(runtime)
        assert await asyncio.wait_for(letters.get(), timeout=60) == "test.bed_board"
        assert runs == [incident_id] * 3  # the bus's three attempts

        shown = (await dead_letters("list")).output
        assert "test.bed_board" in shown
        assert "incident.created" in shown
        assert "RuntimeError at" in shown
        assert incident_id not in shown  # neither message nor payload: nothing of the event
        assert "no dead letters" in (await dead_letters("list", "--handler", "x.y")).output
        assert (
            "test.bed_board" in (await dead_letters("list", "--handler", "test.bed_board")).output
        )

        refused = await dead_letters("retry", "999999")
        assert refused.exit_code == 1
        assert "no unresolved dead letter with id 999999" in refused.output
        assert (await dead_letters("retry")).exit_code == 2  # ids or --all

        # Retried while the outage lasts: it fails again and stays listed, its attempts added.
        queued = await dead_letters("retry", "--all")
        assert "1 dead letter(s) queued for retry" in queued.output
        assert "[retry requested]" in (await dead_letters("list")).output
        await relay.tick()
        assert await asyncio.wait_for(retried.get(), timeout=60) == "test.bed_board"
        assert letters.get_nowait() == "test.bed_board"
        shown = (await dead_letters("list")).output
        assert "test.bed_board" in shown
        assert "[retry requested]" not in shown
        assert "6 attempts" in shown, shown[-400:]

        outage["on"] = False
        await dead_letters("retry", "--all")
        await relay.tick()
        assert await asyncio.wait_for(retried.get(), timeout=60) == "test.bed_board"
        assert "no dead letters" in (await dead_letters("list")).output
        await relay.tick()
        gauge = runtime.metrics.registry.get_sample_value("emsync_event_dead_letters_unresolved")
        assert gauge == 0
    assert runs == [incident_id] * 7
    assert letters.empty()


async def test_two_deliveries_of_one_event_at_once_commit_the_reaction_once(
    database_url: str, tmp_path: Path
) -> None:
    """The race the delivery record closes: a redelivery that starts before the first delivery
    committed finds no record, runs, and its commit must fail on the record, not write twice."""
    await _sql(database_url, f"CREATE TABLE {MARKS} (incident_id VARCHAR(36) NOT NULL)")
    app = create_app(make_settings(database_url, tmp_path))
    runtime: Runtime = app.state.runtime
    install_marker(runtime)
    durability = runtime.get(Relay).durability
    event = IncidentCreated(incident_id="inc-1", priority=1, lat=None, lon=None)
    sealed = durability.seal(event)
    (marker,) = [s for s in runtime.bus.durable(IncidentCreated) if s.name == MARKER]
    async with LifespanManager(app, startup_timeout=60):
        assert await durability.run(sealed, event, marker)
        assert await durability.run(sealed, event, marker)  # ran already: done, not failed
    assert await _marks(database_url) == 1
    assert runtime.bus.dead_letters == []
