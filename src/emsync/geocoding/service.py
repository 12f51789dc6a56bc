"""The process's geocoder, loaded off the event loop from the same extract as the road map."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from emsync.core.extract import ExtractLoader
from emsync.geocoding.index import Geocoder
from emsync.geocoding.store import load_geocoder
from emsync.routing import default_map_path

__all__ = ["GeocoderService"]

log = structlog.get_logger("emsync.geocoding")


class GeocoderService(ExtractLoader[Geocoder]):
    """A BackgroundService that owns the loaded geocoder (loads on first use under tests)."""

    name = "geocoder"
    label = "geocoder"
    log = log

    def build(self, pbf_path: Path | None) -> Geocoder:
        loaded = load_geocoder(pbf_path or default_map_path(), self._cache_dir)
        log.info(
            "geocoder loaded",
            source=loaded.source,
            entries=loaded.geocoder.g.size,
            from_cache=loaded.from_cache,
            seconds=round(loaded.load_s, 3),
        )
        return loaded.geocoder

    async def switch(self, pbf_path: Path) -> None:
        """Build (or read from the cache) the index of another extract, then serve it."""
        loaded = await asyncio.to_thread(load_geocoder, pbf_path, self._cache_dir)
        await self.serve(loaded.geocoder, pbf_path)
