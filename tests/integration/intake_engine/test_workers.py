"""Intake workers' heartbeats and claims (intake.workers), on SQLite and PostgreSQL: a dead
worker is claimed by one survivor however many look at once, a live one by none, and a claim
whose taker died too is taken again."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from emsync.core.runtime import Runtime
from emsync.core.settings import Settings
from emsync.intake.models import IntakeWorker
from emsync.intake.workers import Workers
from tests.conftest import make_settings
from tests.intake_kill import api_only


async def _no_launch() -> None:
    raise AssertionError("a claim alone launches nothing")


async def put_worker(
    runtime: Runtime,
    executor_id: str,
    *,
    silent_for: timedelta,
    taken_over_ago: timedelta | None = None,
) -> None:
    now = runtime.clock()
    async with runtime.sessions() as session, session.begin():
        session.add(
            IntakeWorker(
                executor_id=executor_id,
                host="ed-1",
                pid=1,
                started_at=now - silent_for,
                heartbeat_at=now - silent_for,
                taken_over_by=None if taken_over_ago is None else "someone",
                taken_over_at=None if taken_over_ago is None else now - taken_over_ago,
                runs_taken_over=0,
            )
        )


async def row(runtime: Runtime, executor_id: str) -> IntakeWorker:
    async with runtime.sessions() as session:
        found = await session.get(IntakeWorker, executor_id)
        assert found is not None
        return found


async def test_a_dead_worker_is_claimed_by_exactly_one_of_several_survivors(
    settings: Settings,
) -> None:
    async with api_only(settings) as (app, _client):
        runtime = app.state.runtime
        survivors = [Workers(runtime, f"live-{n}", _no_launch) for n in range(3)]
        for survivor in survivors:
            await survivor.beat(starting=True)
        await put_worker(runtime, "dead", silent_for=timedelta(hours=1))

        claims = await asyncio.gather(*(survivor.claim_dead() for survivor in survivors))

        assert sorted(claim for claim in claims if claim) == [[("dead", True)]]
        winner = survivors[[bool(claim) for claim in claims].index(True)]
        assert (await row(runtime, "dead")).taken_over_by == winner.executor_id
        # Claimed just now: nobody takes it again before worker_dead_after_seconds.
        assert [await survivor.claim_dead() for survivor in survivors] == [[], [], []]


async def test_a_worker_that_beats_is_never_claimed(settings: Settings) -> None:
    async with api_only(settings) as (app, _client):
        runtime = app.state.runtime
        live, other = Workers(runtime, "live", _no_launch), Workers(runtime, "other", _no_launch)
        await live.beat(starting=True)
        await other.beat(starting=True)

        assert await other.claim_dead() == []
        assert (await row(runtime, "live")).taken_over_by is None


async def test_a_claim_whose_taker_died_too_is_taken_again_as_a_repeat(
    settings: Settings,
) -> None:
    async with api_only(settings) as (app, _client):
        runtime = app.state.runtime
        await put_worker(
            runtime, "dead", silent_for=timedelta(hours=2), taken_over_ago=timedelta(hours=1)
        )
        survivor = Workers(runtime, "live", _no_launch)
        await survivor.beat(starting=True)

        assert await survivor.claim_dead() == [("dead", False)]
        assert (await row(runtime, "dead")).taken_over_by == "live"


async def test_a_worker_back_after_a_takeover_beats_again_and_is_left_alone(
    settings: Settings,
) -> None:
    async with api_only(settings) as (app, _client):
        runtime = app.state.runtime
        await put_worker(
            runtime, "back", silent_for=timedelta(hours=2), taken_over_ago=timedelta(hours=1)
        )
        await Workers(runtime, "back", _no_launch).beat(starting=True)

        assert await Workers(runtime, "live", _no_launch).claim_dead() == []


def test_a_worker_is_not_declared_dead_between_two_heartbeats(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="worker_dead_after_seconds"):
        make_settings(
            "sqlite+aiosqlite:///:memory:",
            tmp_path,
            intake_engine={"worker_heartbeat_seconds": 5, "worker_dead_after_seconds": 9},
        )
