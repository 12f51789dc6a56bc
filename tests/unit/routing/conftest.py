"""Each test map is built once per session into a temporary cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from emsync.routing.map_store import RoadMap, default_map_path, load_road_map
from tests.shared_data import shared_data_dir

MAPS = ("monaco", "andorra", "heidelberg", "helsinki")


def map_path(name: str) -> Path:
    if name == "helsinki":
        return default_map_path()
    return shared_data_dir() / "osm" / f"{name}.osm.pbf"


@pytest.fixture(scope="session")
def map_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("map-cache")


@pytest.fixture(scope="session")
def road_maps(map_cache: Path) -> dict[str, RoadMap]:
    return {}


@pytest.fixture(params=MAPS)
def road_map(
    request: pytest.FixtureRequest, road_maps: dict[str, RoadMap], map_cache: Path
) -> RoadMap:
    name: str = request.param
    if name not in road_maps:
        road_maps[name] = load_road_map(map_path(name), map_cache)
    return road_maps[name]


@pytest.fixture
def monaco(road_maps: dict[str, RoadMap], map_cache: Path) -> RoadMap:
    if "monaco" not in road_maps:
        road_maps["monaco"] = load_road_map(map_path("monaco"), map_cache)
    return road_maps["monaco"]
