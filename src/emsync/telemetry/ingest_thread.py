"""The MQTT ingest on an event loop and thread of its own (`mqtt.ingest_thread`).

Why. In `emsync serve` the API, the WebSocket pushes and the ingest shared one event loop, which
50 dashboards kept busy: a reading took some six turns of it from the broker to the WebSocket
(woken, lingered, opened and sealed, handed to the writer and back, published, pushed), each
behind whatever the loop had queued, and an API request's synchronous step (a list rendered, a
collection) could last tens of milliseconds (issue #16). Here the ingest takes its messages,
opens, scores, seals and stores them on its own loop, with database connections of its own,
waiting for the GIL (handed over at least every switch interval, 5 ms) rather than for the API's
turns. What follows a stored batch runs on the server's loop, in order, through one hand-off:
its events (the WebSocket pushes, the local reactions) and its alerts.

Guarantees as before: a batch is acknowledged only once stored; one that may raise or resolve an
alert (`Pipeline.raises_alerts`) only once its alerts are written too, on the server's loop.
The events of a stored batch are published in the order the batches were stored; they are not
waited for (their reactions are local and were never a condition of the acknowledgement), but at
most `MAX_UNANNOUNCED` batches wait to be announced: beyond that the ingest waits, and its
queue's back-pressure reaches the broker as before.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from emsync.core.admission import Precedence
from emsync.core.db import create_engine, session_factory, sqlite_file
from emsync.core.loop_thread import LoopThread, OrderedHandoff
from emsync.core.settings import Settings
from emsync.telemetry.ingest import MqttIngest
from emsync.telemetry.metrics import TelemetryMetrics
from emsync.telemetry.pipeline import Pipeline, PreparedBatch

log = structlog.get_logger("emsync.telemetry.ingest")

# Stored batches whose events may wait for the server's loop before the ingest waits too.
MAX_UNANNOUNCED = 64


def threadable(settings: Settings) -> bool:
    """Whether the ingest may run on a thread of its own: asked for, and storage another set of
    connections can reach (an in-memory SQLite database is one connection's own)."""
    url = settings.database_url
    in_memory = url.startswith("sqlite") and sqlite_file(url) is None
    return settings.mqtt.ingest_thread and not in_memory


class Announcer:
    """`Pipeline.announce` of each stored batch, run on the server's loop in order; awaited only
    when the batch may raise an alert, or when too many are still waiting."""

    def __init__(self, pipeline: Pipeline, handoff: OrderedHandoff) -> None:
        self._pipeline = pipeline
        self._handoff = handoff
        self._pending: collections.deque[concurrent.futures.Future[None]] = collections.deque()

    async def announce(self, prepared: PreparedBatch) -> None:
        pending = self._pending
        while pending and pending[0].done():
            _report(pending.popleft())
        future = self._handoff.submit(functools.partial(self._pipeline.announce, prepared))
        if self._pipeline.raises_alerts(prepared):
            await asyncio.wrap_future(future)  # raises: the ingest retries, acknowledges nothing
            return
        pending.append(future)
        while len(pending) > MAX_UNANNOUNCED:
            oldest = pending.popleft()
            await asyncio.wait([asyncio.wrap_future(oldest)])
            _report(oldest)


def _report(announced: concurrent.futures.Future[None]) -> None:
    """A batch announced without being waited for. Its announce writes nothing (no alert), and
    its reactions dead-letter their own failures: an exception here is a defect, logged, and
    not the next batch's to retry."""
    exc = announced.exception()
    if exc is not None:
        log.error("stored telemetry batch not announced", error=type(exc).__name__)


class ThreadedIngest:
    """BackgroundService: starts and stops an `MqttIngest` (made with `Announcer.announce`) on a
    LoopThread, with an engine of that loop for the pipeline's storage."""

    name = "telemetry.ingest"

    def __init__(
        self,
        *,
        settings: Settings,
        pipeline: Pipeline,
        metrics: TelemetryMetrics,
        precedence: Precedence,
    ) -> None:
        self._settings = settings
        self._pipeline = pipeline
        self._thread = LoopThread("emsync-ingest")
        self._handoff: OrderedHandoff | None = None
        self._engine: AsyncEngine | None = None
        self._server_loop: asyncio.AbstractEventLoop | None = None
        self._precedence = precedence
        self._announcer: Announcer | None = None
        self.ingest = MqttIngest(
            settings=settings.mqtt,
            pipeline=pipeline,
            metrics=metrics,
            caught_up=self._caught_up,
            announce=self._announce,
        )

    def _caught_up(self) -> None:
        # On the ingest's thread; the deferred requests wait on the server's loop.
        loop = self._server_loop
        if loop is not None and self._precedence.waiting():
            loop.call_soon_threadsafe(self._precedence.caught_up)

    async def _announce(self, prepared: PreparedBatch) -> None:
        assert self._announcer is not None
        await self._announcer.announce(prepared)

    async def start(self) -> None:
        self._server_loop = asyncio.get_running_loop()
        self._handoff = OrderedHandoff(self._server_loop)
        await self._handoff.start()
        self._announcer = Announcer(self._pipeline, self._handoff)
        self._thread.start()
        try:
            await self._thread.run(self._start_inside())
        except BaseException:
            await self.stop()  # a service that failed to start is not stopped by its caller
            raise

    async def _start_inside(self) -> None:
        self._engine = create_engine(self._settings)
        self._pipeline.use_storage(self._engine, session_factory(self._engine))
        await self.ingest.start()

    async def stop(self) -> None:
        if self._thread.started():
            await self._thread.run(self._stop_inside())
            await self._thread.stop()
        if self._handoff is not None:
            await self._handoff.stop()  # the stored batches' events are published

    async def _stop_inside(self) -> None:
        try:
            await self.ingest.stop()
        finally:
            if self._engine is not None:
                await self._engine.dispose()
