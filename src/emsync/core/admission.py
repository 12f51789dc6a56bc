"""Admission: a few API requests at a time on the event loop, so that the telemetry pipeline
and the WebSocket pushes that share it get their turn.

Why. One process serves the dashboards and ingests the monitors (the embedded profile). The
event loop runs its ready callbacks in turn; with 50 dashboards polling, each turn ran ~50
request steps, and a reading needs about five turns from the broker to the WebSocket
(bench/ingest.py --latency-only --api-load at 2,000 readings/s: telemetry p50 6 s, loop lag p99
411 ms; with two API requests at a time p50 0.3 s, lag 80 ms, and more API requests/s, since
the CPU is the limit either way).

A turn is a lease: it is handed to the next request when this one finishes or after `lease`
seconds, whichever comes first; the request itself runs on. So a request that holds its turn
idle (a slow upload or reader, an external call) delays the others by at most the lease, never
starves them. Requests wait in arrival order. Only `/api/` HTTP requests take turns: health,
metrics, the dashboard's files and the WebSocket pass freely.

Fewer turns while work with precedence is active (`busy_slots`; the telemetry ingest of the same
process with readings coming in): every request in flight is CPU on the loop the readings wait
behind. When that work is idle, the usual number, so that requests waiting on the database
overlap.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

API_PREFIX = "/api/"


class Precedence:
    """Work that API requests defer to (see the module): each source says whether it is behind
    and calls `caught_up` when it may no longer be."""

    def __init__(self) -> None:
        self._sources: list[Callable[[], bool]] = []
        self._activity: list[Callable[[], bool]] = []
        self._waiters: list[asyncio.Future[None]] = []

    def register(
        self, behind: Callable[[], bool], active: Callable[[], bool] | None = None
    ) -> None:
        """A source: whether it is behind, and (optionally) whether it has work coming in."""
        self._sources.append(behind)
        if active is not None:
            self._activity.append(active)

    def behind(self) -> bool:
        return any(source() for source in self._sources)

    def active(self) -> bool:
        return any(source() for source in self._activity)

    def waiting(self) -> bool:
        """Whether any request is deferred now (a source on another thread asks before it
        hands `caught_up` to this loop)."""
        return bool(self._waiters)

    def caught_up(self) -> None:
        """Wake the deferred requests if no source is behind any more."""
        if self._waiters and not self.behind():
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def wait(self, at_most: float) -> None:
        """Until no source is behind, for at most `at_most` seconds."""
        if not self.behind():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(at_most):
                await waiter
        except TimeoutError:
            pass
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)


class Turns:
    """A semaphore whose size is read at each acquire and release (`limit`; 0: no limit).
    Waiters are served in arrival order; a lower limit takes effect as turns are given back."""

    def __init__(self, limit: Callable[[], int]) -> None:
        self._limit = limit
        self._in_use = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    def _free(self) -> bool:
        limit = self._limit()
        return limit <= 0 or self._in_use < limit

    async def acquire(self) -> None:
        if not self._waiters and self._free():
            self._in_use += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # the releaser counted this turn as in use before waking it
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a turn, but cancelled before taking it
            elif waiter in self._waiters:  # (a release may have dropped it, cancelled)
                self._waiters.remove(waiter)
            raise

    def locked(self) -> bool:
        """Whether an acquire now would wait."""
        return bool(self._waiters) or not self._free()

    def release(self) -> None:
        self._in_use -= 1
        self._hand_on()

    def _hand_on(self) -> None:
        waiters = self._waiters
        while waiters and self._free():
            waiter = waiters.popleft()
            if not waiter.done():
                self._in_use += 1
                waiter.set_result(None)


class Admission:
    def __init__(
        self,
        app: ASGIApp,
        *,
        slots: int,
        lease: float,
        precedence: Precedence | None = None,
        busy_slots: int | None = None,
    ) -> None:
        """`slots` API requests at a time (0: no limit); `busy_slots` instead while `precedence`
        is active (None: always `slots`)."""
        self._app = app
        self._lease = lease
        self._precedence = precedence
        self._slots: Turns | None = None
        if busy_slots is not None and precedence is not None and (slots > 0 or busy_slots > 0):
            active = precedence.active
            self._slots = Turns(lambda: busy_slots if active() else slots)
        elif slots > 0:
            self._slots = Turns(lambda: slots)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: Any = scope.get("path", "")
        slots = self._slots
        if slots is None or scope["type"] != "http" or not path.startswith(API_PREFIX):
            await self._app(scope, receive, send)
            return
        await slots.acquire()
        if self._precedence is not None:
            try:
                await self._precedence.wait(self._lease)
            except BaseException:  # cancelled while deferring: the turn goes to the next
                slots.release()
                raise
        held = True

        def hand_on() -> None:
            nonlocal held
            if held:
                held = False
                slots.release()

        expiry = asyncio.get_running_loop().call_later(self._lease, hand_on)
        try:
            await self._app(scope, receive, send)
        finally:
            expiry.cancel()
            hand_on()
