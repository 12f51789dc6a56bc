"""An event loop on a thread of its own, and an ordered hand-off of work back to another loop.

Why. In one process, work on a shared event loop runs in turns: a reading waits for every
callback ahead of it, and one API request's synchronous step (rendering a list, a collection)
can take tens of milliseconds. Work on a loop of its own, on its own thread, waits instead for
the GIL, which the interpreter hands over at least every switch interval (5 ms): its waits are
bounded by that, not by what the other loop has queued (the telemetry ingest, issue #16).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """A daemon thread running an event loop until `stop`; `run` awaits a coroutine on it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError(f"{self.name}: not started")
        return self._loop

    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        # The loop of the running policy (uvloop's when the server runs on it).
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name=self.name, daemon=True)
        self._thread.start()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """`coro`'s result, run to its end on this thread's loop (cancelling the caller does
        not cancel it: a half-started or half-stopped service is worse than a late one)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.shield(asyncio.wrap_future(future))

    async def stop(self) -> None:
        """End the loop (after the tasks still on it are cancelled) and its thread."""
        if self._loop is None or self._thread is None:
            return
        loop, thread = self._loop, self._thread
        await self.run(_cancel_others())
        await self.run(loop.shutdown_asyncgens())
        await self.run(loop.shutdown_default_executor())
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join)
        loop.close()
        self._loop = self._thread = None


async def _cancel_others() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class OrderedHandoff:
    """Work handed from other threads to one event loop (`target`), run there one piece at a
    time in the order handed over: a piece is a coroutine function, and the next starts only
    when the one before it has ended (pushes of consecutive batches stay in order).

    `submit` never blocks; it returns a concurrent future of the piece's result. `stop` (on
    the target loop) runs everything submitted so far, then ends the runner.
    """

    def __init__(self, target: asyncio.AbstractEventLoop) -> None:
        self._target = target
        self._queue: asyncio.Queue[tuple[Callable[[], Awaitable[Any]], Any]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """On the target loop."""
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="ordered-handoff")

    def submit(self, work: Callable[[], Awaitable[T]]) -> concurrent.futures.Future[T]:
        queue = self._queue
        if queue is None:
            raise RuntimeError("OrderedHandoff not started")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._target.call_soon_threadsafe(queue.put_nowait, (work, future))
        return future

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            work, future = await queue.get()
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(await work())
                    except asyncio.CancelledError:
                        future.cancel()
                        raise
                    except BaseException as exc:  # noqa: BLE001 - handed to the submitter
                        future.set_exception(exc)
            finally:
                queue.task_done()

    async def stop(self) -> None:
        """On the target loop: the pieces already submitted run, then the runner ends."""
        if self._queue is None or self._task is None:
            return
        await asyncio.sleep(0)  # hand-overs scheduled before this call are queued first
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
