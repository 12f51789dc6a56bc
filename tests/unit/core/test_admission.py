"""Admission: a few API requests at a time, in turn; a long holder delays others boundedly."""

from __future__ import annotations

import asyncio
from typing import Any

from emsync.core.admission import Admission


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
