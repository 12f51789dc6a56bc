"""Dispatch and hospital API tests run on real maps, each compiled once per session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from emsync.bootstrap import create_app
from emsync.core.clock import Clock, utcnow
from emsync.core.settings import Settings
from emsync.maps import RoadMapService
from emsync.routing import RoadMap, default_map_path, load_road_map
from tests.shared_data import shared_data_dir


def map_path(name: str) -> Path:
    if name == "helsinki":
        return default_map_path()
    return shared_data_dir() / "osm" / f"{name}.osm.pbf"


@pytest.fixture(scope="session")
def dispatch_maps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RoadMap]:
    """Loaded lazily, once each (the routing engine is read-only in these tests)."""
    return {}


def _road_map(name: str, cache: dict[str, RoadMap], factory: pytest.TempPathFactory) -> RoadMap:
    if name not in cache:
        cache[name] = load_road_map(map_path(name), factory.mktemp(f"map-{name}"))
    return cache[name]


@pytest.fixture(params=["helsinki", "monaco"])
def road_map(
    request: pytest.FixtureRequest,
    dispatch_maps: dict[str, RoadMap],
    tmp_path_factory: pytest.TempPathFactory,
) -> RoadMap:
    return _road_map(request.param, dispatch_maps, tmp_path_factory)


@pytest.fixture
def monaco(dispatch_maps: dict[str, RoadMap], tmp_path_factory: pytest.TempPathFactory) -> RoadMap:
    return _road_map("monaco", dispatch_maps, tmp_path_factory)


class ManualClock:
    """A clock the test moves by hand (trip times come from status timestamps)."""

    def __init__(self) -> None:
        # Starts at the wall clock: access tokens are checked against it.
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def _app_with(
    settings: Settings, road_map: RoadMap, clock: Clock = utcnow
) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=clock)
    application.state.runtime.get(RoadMapService).use(road_map)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


@pytest.fixture
async def map_app(settings: Settings, road_map: RoadMap) -> AsyncIterator[FastAPI]:
    """The app serving `road_map` (parametrized over Helsinki and Monaco)."""
    async for application in _app_with(settings, road_map):
        yield application


@pytest.fixture
async def monaco_app(
    settings: Settings, monaco: RoadMap, clock: ManualClock
) -> AsyncIterator[FastAPI]:
    """Monaco, on a clock the test moves."""
    async for application in _app_with(settings, monaco, clock):
        yield application


@pytest.fixture
async def map_client(map_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=map_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def monaco_client(monaco_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=monaco_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
