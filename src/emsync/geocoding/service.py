"""The process's geocoder, loaded off the event loop from the same extract as the road map."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import structlog

from emsync.core.errors import DomainError
from emsync.core.settings import Settings
from emsync.geocoding.index import Geocoder
from emsync.geocoding.store import load_geocoder
from emsync.routing import default_map_path

__all__ = ["GeocoderService"]

log = structlog.get_logger("emsync.geocoding")


class GeocoderService:
    """A BackgroundService that owns the loaded geocoder (loads on first use under tests)."""

    name = "geocoder"

    def __init__(self, *, pbf_path: Path | None, cache_dir: Path, preload: bool) -> None:
        self._pbf_path = pbf_path
        self._cache_dir = cache_dir
        self._preload = preload
        self._geocoder: Geocoder | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[Geocoder] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> GeocoderService:
        return cls(
            pbf_path=settings.map_pbf,
            cache_dir=settings.data_dir / "cache",
            preload=settings.env != "test",
        )

    def use(self, geocoder: Geocoder) -> None:
        """Serve an already built geocoder (tests share one per session)."""
        self._geocoder = geocoder

    async def switch(self, pbf_path: Path) -> None:
        """Build (or read from the cache) the index of another extract, then serve it."""
        loaded = await asyncio.to_thread(load_geocoder, pbf_path, self._cache_dir)
        async with self._lock:
            self._pbf_path, self._geocoder = pbf_path, loaded.geocoder

    async def get(self) -> Geocoder:
        if self._geocoder is not None:
            return self._geocoder
        async with self._lock:
            if self._geocoder is None:
                path = self._pbf_path
                if path is None:
                    path = await asyncio.to_thread(default_map_path)
                loaded = await asyncio.to_thread(load_geocoder, path, self._cache_dir)
                log.info(
                    "geocoder loaded",
                    source=loaded.source,
                    entries=loaded.geocoder.g.size,
                    from_cache=loaded.from_cache,
                    seconds=round(loaded.load_s, 3),
                )
                self._geocoder = loaded.geocoder
            return self._geocoder

    async def start(self) -> None:
        if self._preload and self._geocoder is None:
            self._task = asyncio.create_task(self._warm())

    async def _warm(self) -> Geocoder:
        try:
            return await self.get()
        except DomainError as error:
            log.error("geocoder could not be loaded", error=error.detail)
            raise

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            with contextlib.suppress(Exception):
                await self._task
        self._task = None
