"""Vector tiles of a real extract: street names, water, green areas, buildings by zoom, and the
PMTiles archive they are stored in."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from pmtiles.reader import MmapSource, Reader
from pmtiles.tile import Compression, TileType

from emsync.basemap import load_basemap
from emsync.basemap.osm_layers import MapLayers, read_map_layers
from emsync.basemap.tiles import EXTENT, tile_range, vector_tiles
from tests.shared_data import shared_data_dir

# Monaco's harbour and Monte-Carlo.
MONACO = (7.415, 43.730, 7.432, 43.742)


@pytest.fixture(scope="module")
def monaco_layers() -> MapLayers:
    return read_map_layers(shared_data_dir() / "osm" / "monaco.osm.pbf")


def _decode(data: bytes) -> dict[str, list[dict[str, Any]]]:
    decoded = mapbox_vector_tile.decode(
        gzip.decompress(data), default_options={"y_coord_down": True}
    )
    return {name: layer["features"] for name, layer in decoded.items()}


def test_the_extract_gives_every_layer(monaco_layers: MapLayers) -> None:
    named = {f.properties.get("name") for f in monaco_layers.roads}
    assert "Boulevard Albert 1er" in named
    assert monaco_layers.water
    assert monaco_layers.green
    assert len(monaco_layers.buildings) > 1000
    assert {f.properties["kind"] for f in monaco_layers.places} <= {
        "city",
        "town",
        "village",
        "suburb",
        "quarter",
        "neighbourhood",
        "hamlet",
    }


def test_tiles_carry_street_names_and_buildings_only_when_near(monaco_layers: MapLayers) -> None:
    by_zoom: dict[int, list[dict[str, list[dict[str, Any]]]]] = {}
    for tile in vector_tiles(monaco_layers, MONACO, min_zoom=12, max_zoom=15):
        by_zoom.setdefault(tile.z, []).append(_decode(tile.data))
    assert set(by_zoom) == {12, 13, 14, 15}
    names = {f["properties"].get("name") for t in by_zoom[15] for f in t.get("roads", [])}
    assert "Boulevard Albert 1er" in names
    assert any("buildings" in t for t in by_zoom[15])
    assert not any("buildings" in t for t in by_zoom[14])
    # Geometry stays on the tile grid (plus the clipping buffer).
    for t in by_zoom[15]:
        for feature in t.get("roads", []):
            coords = feature["geometry"]["coordinates"]
            flat = (
                coords
                if isinstance(coords[0][0], int | float)
                else [p for part in coords for p in part]
            )
            assert all(-128 <= x <= EXTENT + 128 for x, _ in flat)


def test_tile_range_covers_the_bbox() -> None:
    # At zoom 15 the bbox spans x 17058.9-17060.5 and y 11947.7-11949.2 (Web Mercator tiles).
    assert tile_range(MONACO, 15) == (17058, 11947, 17060, 11949)
    assert tile_range(MONACO, 12)[0] == tile_range(MONACO, 12)[2]


def test_the_archive_is_built_once_and_read_back(tmp_path: Path) -> None:
    pbf = shared_data_dir() / "osm" / "monaco.osm.pbf"
    built = load_basemap(pbf, tmp_path)
    assert not built.from_cache
    assert built.tiles > 10
    again = load_basemap(pbf, tmp_path)
    assert again.from_cache
    assert again.path == built.path
    header, metadata, tile = _read_archive(built.path, 15, *tile_range(MONACO, 15)[:2])
    assert header["tile_type"] == TileType.MVT
    assert header["tile_compression"] == Compression.GZIP
    assert (header["min_zoom"], header["max_zoom"]) == (10, 15)
    assert metadata["attribution"] == "© OpenStreetMap contributors"
    assert "roads" in _decode(tile)


def _read_archive(
    path: Path, z: int, x: int, y: int
) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """The archive's header, metadata and one tile, read back with the pmtiles reader."""
    with path.open("rb") as handle:
        reader = Reader(MmapSource(handle))  # type: ignore[no-untyped-call]
        header = reader.header()  # type: ignore[no-untyped-call]
        metadata = reader.metadata()  # type: ignore[no-untyped-call]
        tile = reader.get(z, x, y)  # type: ignore[no-untyped-call]
    return dict(header), dict(metadata), bytes(tile)
