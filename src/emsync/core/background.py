"""Long-running parts of a process role (MQTT ingest, delivery retries, scheduled checks)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Protocol

import structlog
from prometheus_client import Histogram

log = structlog.get_logger("emsync.background")


class ProcessRole(StrEnum):
    API = "api"
    INGEST = "ingest"
    WORKER = "worker"


class BackgroundService(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Periodic:
    """Runs `tick` every `interval` seconds until stopped.

    Stopping waits for the round in progress instead of cancelling it: a database call
    cancelled mid-flight finishes in its driver thread after the event loop is gone.
    """

    def __init__(
        self,
        name: str,
        interval: Callable[[], float],
        tick: Callable[[], Awaitable[object]],
        *,
        first_round_now: bool = False,
    ) -> None:
        self.name = name
        self._interval = interval
        self._tick = tick
        self._first_round_now = first_round_now
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stopping.set()
        await self._task
        self._task = None

    async def _wait(self) -> bool:
        """Sleep one interval; True when asked to stop meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=self._interval())
        return self._stopping.is_set()

    async def _run(self) -> None:
        if not self._first_round_now and await self._wait():
            return
        while not self._stopping.is_set():
            try:
                await self._tick()
            except Exception as exc:  # noqa: BLE001 - a failed round is logged; the next one runs
                log.error("periodic round failed", task=self.name, error=type(exc).__name__)
            if await self._wait():
                return


class LoopLag:
    """Event-loop lag: how late a timer due every `interval` seconds runs, into `histogram`.

    A stalled loop (a long synchronous step, a garbage collection, the GIL held by a thread, the
    process off the CPU) delays everything on it at once, so this is the tail every push and
    request shares. Sampled, not traced: one timer wake-up per interval (~20 us each) sees a
    stall when it overlaps one, so short stalls are caught in proportion to how often they occur.
    """

    name = "event-loop-lag"

    def __init__(self, histogram: Histogram, interval: float = 0.025) -> None:
        self._histogram = histogram
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()  # nothing in flight: it only sleeps and observes
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        observe = self._histogram.observe
        while True:
            due = loop.time() + self._interval
            await asyncio.sleep(self._interval)
            observe(max(0.0, loop.time() - due))
