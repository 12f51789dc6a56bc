"""Admission: a few API requests at a time, in turn; a long holder delays others boundedly; a
turn defers (for at most a lease) to work with precedence that is behind; fewer turns while that
work is active."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from emsync.core.admission import Admission, Precedence, Turns


class Held:
    """An ASGI app whose requests stay in it until released, noting who got in."""

    def __init__(self) -> None:
        self.entered: list[str] = []
        self.release = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.entered.append(scope["path"])
        if scope["path"].endswith("/slow"):
            await self.release.wait()


async def _call(app: Admission, path: str, kind: str = "http") -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(_message: Any) -> None:
        return None

    await app({"type": kind, "path": path}, receive, send)


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_an_api_request_waits_for_a_free_slot_and_others_pass_freely() -> None:
    inner = Held()
    app = Admission(inner, slots=1, lease=60)
    first = asyncio.create_task(_call(app, "/api/a/slow"))
    await _settle()
    second = asyncio.create_task(_call(app, "/api/b"))
    await _call(app, "/health")  # not an API request: not admitted by turn
    await _call(app, "/api/ws", kind="websocket")
    await _settle()
    assert inner.entered == ["/api/a/slow", "/health", "/api/ws"]
    inner.release.set()
    await asyncio.gather(first, second)
    assert inner.entered[-1] == "/api/b"


async def test_a_turn_passes_on_when_its_lease_is_over_and_is_never_given_back_twice() -> None:
    inner = Held()
    app = Admission(inner, slots=1, lease=0.01)
    first = asyncio.create_task(_call(app, "/api/a/slow"))
    await _settle()
    await _call(app, "/api/b")  # the first still runs; its lease ran out, the turn passed on
    assert inner.entered == ["/api/a/slow", "/api/b"]
    inner.release.set()
    await first  # finishing after its lease does not free a second turn
    assert app._slots is not None
    assert not app._slots.locked()
    await app._slots.acquire()
    assert app._slots.locked()  # one slot, as configured


async def test_no_limit_when_slots_is_zero() -> None:
    inner = Held()
    app = Admission(inner, slots=0, lease=60)
    held = [asyncio.create_task(_call(app, f"/api/{n}/slow")) for n in range(3)]
    await _settle()
    assert len(inner.entered) == 3
    inner.release.set()
    await asyncio.gather(*held)


class Lateness:
    """A source of precedence whose lateness the test sets."""

    def __init__(self) -> None:
        self.late = False

    def __call__(self) -> bool:
        return self.late


async def test_a_turn_waits_while_work_with_precedence_is_behind_and_runs_once_it_caught_up() -> (
    None
):
    inner = Held()
    precedence = Precedence()
    readings = Lateness()
    precedence.register(readings)
    app = Admission(inner, slots=2, lease=60, precedence=precedence)
    readings.late = True
    deferred = asyncio.create_task(_call(app, "/api/a"))
    await _call(app, "/health")  # not an API request: never deferred
    await _settle()
    assert inner.entered == ["/health"]
    precedence.caught_up()  # still behind: nobody is woken
    await _settle()
    assert inner.entered == ["/health"]
    readings.late = False
    precedence.caught_up()
    await deferred
    assert inner.entered == ["/health", "/api/a"]
    await _call(app, "/api/b")  # nothing behind: straight in
    assert inner.entered[-1] == "/api/b"


async def test_a_turn_defers_for_at_most_its_lease() -> None:
    inner = Held()
    precedence = Precedence()
    precedence.register(lambda: True)  # behind for good (e.g. storage down, retrying)
    app = Admission(inner, slots=1, lease=0.01, precedence=precedence)
    await _call(app, "/api/a")
    await _call(app, "/api/b")
    assert inner.entered == ["/api/a", "/api/b"]


async def test_a_request_cancelled_while_deferring_gives_its_turn_back() -> None:
    inner = Held()
    precedence = Precedence()
    readings = Lateness()
    readings.late = True
    precedence.register(readings)
    app = Admission(inner, slots=1, lease=60, precedence=precedence)
    deferred = asyncio.create_task(_call(app, "/api/a"))
    await _settle()
    deferred.cancel()
    with pytest.raises(asyncio.CancelledError):
        await deferred
    readings.late = False
    await _call(app, "/api/b")
    assert inner.entered == ["/api/b"]


class Activity:
    """A source of precedence whose activity the test sets (never behind)."""

    def __init__(self) -> None:
        self.on = False

    def __call__(self) -> bool:
        return self.on


async def test_fewer_turns_while_work_with_precedence_is_active() -> None:
    inner = Held()
    precedence = Precedence()
    readings = Activity()
    precedence.register(lambda: False, readings)
    app = Admission(inner, slots=3, lease=60, precedence=precedence, busy_slots=1)
    readings.on = True
    held = [asyncio.create_task(_call(app, f"/api/{n}/slow")) for n in range(3)]
    await _settle()
    assert inner.entered == ["/api/0/slow"]  # one at a time while active
    readings.on = False
    inner.release.set()  # the first ends; its turn and the two freed by idleness are handed on
    await asyncio.gather(*held)
    assert inner.entered == ["/api/0/slow", "/api/1/slow", "/api/2/slow"]
    inner.release.clear()
    idle = [asyncio.create_task(_call(app, f"/api/{n}/slow")) for n in range(3, 6)]
    await _settle()
    assert len(inner.entered) == 6  # idle: three at a time
    readings.on = True
    await _settle()
    late = asyncio.create_task(_call(app, "/api/6"))
    await _settle()
    assert len(inner.entered) == 6  # active again: waits until fewer than one are in
    inner.release.set()
    await asyncio.gather(*idle, late)
    assert inner.entered[-1] == "/api/6"


async def test_a_lower_limit_takes_effect_as_turns_are_given_back() -> None:
    limit = 2
    turns = Turns(lambda: limit)
    await turns.acquire()
    await turns.acquire()
    assert turns.locked()
    waiter = asyncio.create_task(turns.acquire())
    await _settle()
    limit = 1
    turns.release()  # two in use, one given back: one in use, the limit is one
    await _settle()
    assert not waiter.done()
    turns.release()
    await _settle()
    assert waiter.done()
    assert turns.locked()  # the waiter holds the one turn


async def test_a_waiter_cancelled_after_its_turn_was_handed_on_gives_it_back() -> None:
    turns = Turns(lambda: 1)
    await turns.acquire()
    first = asyncio.create_task(turns.acquire())
    second = asyncio.create_task(turns.acquire())
    await _settle()
    turns.release()  # handed to the first, which is cancelled before it runs
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await _settle()
    assert second.done()  # the turn went on to the next, not lost
    third = asyncio.create_task(turns.acquire())
    fourth = asyncio.create_task(turns.acquire())
    await _settle()
    fourth.cancel()  # cancelled while still waiting: simply dropped
    with pytest.raises(asyncio.CancelledError):
        await fourth
    turns.release()
    await third
    assert turns.locked()
    turns.release()
    assert not turns.locked()
