"""One lifecycle for what a process derives from the map extract (road graph, geocoder,
basemap): built in a worker thread off the event loop, once, under a lock; outside tests it
starts building when the process starts, under `env=test` on first use (a test may hand in a
shared one with `use`); `switch` serves another extract's from then on."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Generic, Self, TypeVar

import structlog

from emsync.core.errors import DomainError
from emsync.core.settings import Settings

T = TypeVar("T")


class ExtractLoader(Generic[T]):
    """A BackgroundService owning one value built from the extract. Subclasses say how to build
    it (`build`, in a worker thread; `pbf_path` None: the default extract) and may react once it
    is served (`on_served`) or refuse a stale one (`still_valid`)."""

    name = "extract"
    label = "extract"  # for the log: "<label> could not be loaded"
    log = structlog.get_logger("emsync")

    def __init__(self, *, pbf_path: Path | None, cache_dir: Path, preload: bool) -> None:
        self._pbf_path = pbf_path
        self._cache_dir = cache_dir
        self._preload = preload
        self._value: T | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[T] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(
            pbf_path=settings.map_pbf,
            cache_dir=settings.data_dir / "cache",
            preload=settings.env != "test",
        )

    def build(self, pbf_path: Path | None) -> T:
        raise NotImplementedError

    async def on_served(self, value: T) -> None:
        """After a value is loaded or switched to (in the event loop)."""

    def still_valid(self, value: T) -> bool:
        return True

    def use(self, value: T) -> None:
        """Serve an already built value (tests share one per session)."""
        self._value = value

    @property
    def loaded(self) -> T | None:
        return self._value

    async def serve(self, value: T, pbf_path: Path) -> None:
        """Serve `value`, built from `pbf_path`, from now on."""
        async with self._lock:
            self._value, self._pbf_path = value, pbf_path
        await self.on_served(value)

    async def get(self) -> T:
        """The value, building it in a worker thread on first use."""
        if self._value is not None and self.still_valid(self._value):
            return self._value
        async with self._lock:
            if self._value is None or not self.still_valid(self._value):
                self._value = await asyncio.to_thread(self.build, self._pbf_path)
                await self.on_served(self._value)
            return self._value

    async def start(self) -> None:
        if self._preload and self._value is None:
            self._task = asyncio.create_task(self._warm())

    async def _warm(self) -> T:
        try:
            return await self.get()
        except DomainError as error:
            self.log.error(f"{self.label} could not be loaded", error=error.detail)
            raise

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            # The build runs in a thread that cannot be interrupted: let it finish.
            with contextlib.suppress(Exception):
                await self._task
        self._task = None
