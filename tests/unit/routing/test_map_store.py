from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emsync.core.errors import NotFound, ValidationFailed
from emsync.routing.map_store import RoadMap, cached_maps, load_road_map
from tests.unit.routing.conftest import map_path


def test_restart_loads_the_same_map_from_cache(monaco: RoadMap, map_cache: Path) -> None:
    again = load_road_map(map_path("monaco"), map_cache)
    assert again.from_cache
    for name, array in monaco.engine.graph.arrays().items():
        np.testing.assert_array_equal(array, again.engine.graph.arrays()[name])
    assert again.hospitals == monaco.hospitals
    assert again.summary == monaco.summary
    assert again.engine.node_time_ms(0, 100) == monaco.engine.node_time_ms(0, 100)
    assert any(s.sha256 == monaco.summary.sha256 for s in cached_maps(map_cache))


def test_monaco_hospitals_come_from_the_map(monaco: RoadMap) -> None:
    names = {h.name: h for h in monaco.hospitals}
    cardio = names["Centre Cardio Thoracique de Monaco"]
    assert cardio.emergency is True
    assert 43.72 < cardio.lat < 43.76
    assert 7.40 < cardio.lon < 7.44


def test_missing_and_broken_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_road_map(tmp_path / "nope.osm.pbf", tmp_path)
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"not a pbf file at all")
    with pytest.raises(ValidationFailed):
        load_road_map(broken, tmp_path)
