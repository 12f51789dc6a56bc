"""A LoopThread runs coroutines on its own thread and loop and ends cleanly; an OrderedHandoff
runs what other threads hand it on its loop, one piece at a time, in the order handed over."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from emsync.core.loop_thread import LoopThread, OrderedHandoff


async def test_a_coroutine_runs_on_the_threads_own_loop_and_its_result_comes_back() -> None:
    here = asyncio.get_running_loop()
    thread = LoopThread("test-loop")
    thread.start()
    try:

        async def where() -> tuple[str, bool]:
            return threading.current_thread().name, asyncio.get_running_loop() is here

        assert await thread.run(where()) == ("test-loop", False)
    finally:
        await thread.stop()


async def test_a_failure_on_the_thread_is_raised_to_the_caller() -> None:
    thread = LoopThread("test-loop")
    thread.start()
    try:

        async def fail() -> None:
            raise ValueError("on the thread")

        with pytest.raises(ValueError, match="on the thread"):
            await thread.run(fail())
    finally:
        await thread.stop()


async def test_stop_cancels_what_is_left_on_the_loop_and_ends_the_thread() -> None:
    thread = LoopThread("test-loop")
    thread.start()
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    # Held here: a pending task that nothing references is garbage (its future and its frame
    # refer only to each other), and a collection between spawn and stop destroyed it uncancelled
    # once (a fresh clone's run: "Task was destroyed but it is pending!").
    spawned: list[asyncio.Task[None]] = []

    async def spawn() -> None:
        spawned.append(asyncio.get_running_loop().create_task(forever()))
        await asyncio.sleep(0)

    await thread.run(spawn())
    await thread.stop()
    assert cancelled.is_set()
    assert not thread.started()
    assert not any(t.name == "test-loop" for t in threading.enumerate())


Piece = Callable[[], Awaitable[Any]]


async def _submit_from_another_thread(
    handoff: OrderedHandoff, pieces: list[Piece]
) -> list[concurrent.futures.Future[Any]]:
    return await asyncio.to_thread(lambda: [handoff.submit(p) for p in pieces])


async def test_pieces_run_on_the_target_loop_in_order_each_after_the_one_before_ended() -> None:
    handoff = OrderedHandoff(asyncio.get_running_loop())
    await handoff.start()
    log: list[str] = []

    def piece(name: str, turns: int) -> Piece:
        async def run() -> str:
            log.append(f"{name} start")
            for _ in range(turns):  # yields to the loop: the next piece must still wait
                await asyncio.sleep(0)
            log.append(f"{name} end")
            return name

        return run

    futures = await _submit_from_another_thread(
        handoff, [piece("a", 5), piece("b", 0), piece("c", 3)]
    )
    results = [await asyncio.wrap_future(f) for f in futures]
    await handoff.stop()
    assert results == ["a", "b", "c"]
    assert log == ["a start", "a end", "b start", "b end", "c start", "c end"]


async def test_a_failing_piece_fails_its_own_future_and_the_next_still_runs() -> None:
    handoff = OrderedHandoff(asyncio.get_running_loop())
    await handoff.start()

    async def fail() -> None:
        raise RuntimeError("alert not written")

    async def fine() -> str:
        return "ok"

    failed, after = await _submit_from_another_thread(handoff, [fail, fine])
    with pytest.raises(RuntimeError, match="alert not written"):
        await asyncio.wrap_future(failed)
    assert await asyncio.wrap_future(after) == "ok"
    await handoff.stop()


async def test_stop_runs_every_piece_handed_over_before_it() -> None:
    handoff = OrderedHandoff(asyncio.get_running_loop())
    await handoff.start()
    done: list[int] = []

    def piece(n: int) -> Piece:
        async def run() -> None:
            await asyncio.sleep(0)
            done.append(n)

        return run

    await _submit_from_another_thread(handoff, [piece(n) for n in range(10)])
    await handoff.stop()
    assert done == list(range(10))
