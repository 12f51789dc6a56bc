"""The process's basemap archive, built off the event loop from the loaded extract."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from emsync.basemap.store import Basemap, load_basemap
from emsync.core.extract import ExtractLoader
from emsync.routing import default_map_path

__all__ = ["BasemapService"]

log = structlog.get_logger("emsync.basemap")


class BasemapService(ExtractLoader[Basemap]):
    """Owns the basemap file; builds it on first use when `emsync map import` did not."""

    name = "basemap"
    label = "basemap"
    log = log

    def build(self, pbf_path: Path | None) -> Basemap:
        basemap = load_basemap(pbf_path or default_map_path(), self._cache_dir)
        log.info(
            "basemap ready",
            file=basemap.path.name,
            from_cache=basemap.from_cache,
            seconds=round(basemap.load_s, 3),
        )
        return basemap

    def still_valid(self, value: Basemap) -> bool:
        return value.path.is_file()  # a cache cleared under a running process is rebuilt

    async def switch(self, pbf_path: Path) -> None:
        """Build (or read from the cache) the tiles of another extract, then serve them."""
        basemap = await asyncio.to_thread(load_basemap, pbf_path, self._cache_dir)
        await self.serve(basemap, pbf_path)
