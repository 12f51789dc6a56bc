"""Per-test PostgreSQL databases, cloned ahead of time in a background thread.

Each storage test still gets its own fresh database cloned from the migrated template, but
`CREATE DATABASE ... TEMPLATE` takes 0.3-2.5 s (it writes the whole template through the WAL)
and `DROP DATABASE ... WITH (FORCE)` up to 3 s more (measured on this machine, loaded). Doing
both here, while the tests run, takes them off each test's setup and teardown: a test waits only
when it outpaces the clones.

The clones commit asynchronously (`synchronous_commit = off`): a test never crashes the server,
so the durability it gives up is never tested, and every commit stops waiting on a disk flush.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading

import asyncpg


class ClonePool:
    def __init__(self, admin_dsn: str, template: str, prefix: str, ahead: int = 2) -> None:
        self._dsn = admin_dsn
        self._template = template
        self._names = (f"{prefix}_{n}" for n in itertools.count())
        self._ahead = ahead
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        self._drops: queue.Queue[str] = queue.Queue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-clones", daemon=True)
        self._thread.start()

    def take(self) -> str:
        """A fresh database (blocks until one is ready); the next one starts cloning."""
        got = self._ready.get()
        if isinstance(got, BaseException):
            raise got
        self._wake.set()
        return got

    def give_back(self, name: str) -> None:
        """Drop it in the background."""
        self._drops.put(name)
        self._wake.set()

    def close(self) -> None:
        """Drop every clone made or returned, then stop."""
        self._stop.set()
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            conn = loop.run_until_complete(asyncpg.connect(self._dsn, timeout=10))
        except (OSError, asyncpg.PostgresError) as exc:
            self._ready.put(exc)
            loop.close()
            return
        try:
            self._serve(loop, conn)
            while not self._ready.empty():
                name = self._ready.get_nowait()
                if isinstance(name, str):
                    self._drops.put(name)
            self._drop_all(loop, conn)
        finally:
            loop.run_until_complete(conn.close())
            loop.close()

    def _serve(self, loop: asyncio.AbstractEventLoop, conn: asyncpg.Connection) -> None:
        # A waiting test first, then the drops (so clones do not pile up on disk), then ahead.
        while not self._stop.is_set():
            self._wake.clear()
            ready = self._ready.qsize()
            if ready == 0 or (self._drops.empty() and ready < self._ahead):
                self._clone(loop, conn)
            elif not self._drops.empty():
                self._drop(loop, conn, self._drops.get_nowait())
            else:
                self._wake.wait()

    def _clone(self, loop: asyncio.AbstractEventLoop, conn: asyncpg.Connection) -> None:
        name = next(self._names)
        try:
            loop.run_until_complete(
                conn.execute(f"CREATE DATABASE {name} TEMPLATE {self._template}")
            )
            loop.run_until_complete(
                conn.execute(f"ALTER DATABASE {name} SET synchronous_commit = off")
            )
        except (OSError, asyncpg.PostgresError) as exc:
            self._ready.put(exc)
            return
        self._ready.put(name)

    def _drop(self, loop: asyncio.AbstractEventLoop, conn: asyncpg.Connection, name: str) -> None:
        loop.run_until_complete(conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

    def _drop_all(self, loop: asyncio.AbstractEventLoop, conn: asyncpg.Connection) -> None:
        while not self._drops.empty():
            self._drop(loop, conn, self._drops.get_nowait())
