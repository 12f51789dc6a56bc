"""The process's basemap archive, built off the event loop from the loaded extract."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from emsync.basemap.store import Basemap, load_basemap
from emsync.core.settings import Settings
from emsync.routing import default_map_path

__all__ = ["BasemapService"]

log = structlog.get_logger("emsync.basemap")


class BasemapService:
    """Owns the basemap file; builds it on first use when `emsync map import` did not."""

    def __init__(self, *, pbf_path: Path | None, cache_dir: Path) -> None:
        self._pbf_path = pbf_path
        self._cache_dir = cache_dir
        self._basemap: Basemap | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> BasemapService:
        return cls(pbf_path=settings.map_pbf, cache_dir=settings.data_dir / "cache")

    async def switch(self, pbf_path: Path) -> None:
        """Build (or read from the cache) the tiles of another extract, then serve them."""
        basemap = await asyncio.to_thread(load_basemap, pbf_path, self._cache_dir)
        async with self._lock:
            self._pbf_path, self._basemap = pbf_path, basemap

    async def get(self) -> Basemap:
        if self._basemap is not None and self._basemap.path.is_file():
            return self._basemap
        async with self._lock:
            if self._basemap is None or not self._basemap.path.is_file():
                path = self._pbf_path
                if path is None:
                    path = await asyncio.to_thread(default_map_path)
                basemap = await asyncio.to_thread(load_basemap, path, self._cache_dir)
                log.info(
                    "basemap ready",
                    file=basemap.path.name,
                    from_cache=basemap.from_cache,
                    seconds=round(basemap.load_s, 3),
                )
                self._basemap = basemap
            return self._basemap
