from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emsync.core.errors import ValidationFailed
from emsync.routing.cli import map_app
from emsync.routing.geojson import road_features
from emsync.routing.map_store import RoadMap
from tests.unit.routing.conftest import map_path


def test_viewport_roads_are_capped_keeping_main_roads(monaco: RoadMap) -> None:
    bbox = monaco.summary.bbox
    full = road_features(monaco.engine.graph, bbox, limit=5000)
    capped = road_features(monaco.engine.graph, bbox, limit=50)
    assert len(capped["features"]) == 50
    assert capped["truncated"]
    assert not full["truncated"] or len(full["features"]) == 5000
    classes = [f["properties"]["road_class"] for f in capped["features"]]
    assert "service" not in classes
    feature = capped["features"][0]
    assert feature["geometry"]["type"] == "LineString"
    west, south = bbox[0], bbox[1]
    tiny = road_features(monaco.engine.graph, (west, south, west + 0.001, south + 0.001))
    assert len(tiny["features"]) < len(full["features"])


def test_bad_viewport_is_rejected(monaco: RoadMap) -> None:
    with pytest.raises(ValidationFailed):
        road_features(monaco.engine.graph, (10.0, 50.0, 9.0, 51.0))
    with pytest.raises(ValidationFailed):
        road_features(monaco.engine.graph, (7.0, 43.0, 8.0, 44.0), limit=0)


def test_cli_imports_a_map_and_lists_it(tmp_path: Path) -> None:
    runner = CliRunner()
    path = map_path("andorra")
    result = runner.invoke(map_app, ["import", str(path), "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["nodes"] > 10_000
    assert summary["from_cache"] is False
    listed = runner.invoke(map_app, ["info", "--cache-dir", str(tmp_path)])
    assert listed.exit_code == 0
    assert json.loads(listed.stdout.splitlines()[0])["sha256"] == summary["sha256"]


def test_cli_reports_missing_file_and_empty_cache(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        map_app, ["import", str(tmp_path / "x.osm.pbf"), "--cache-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert runner.invoke(map_app, ["info", "--cache-dir", str(tmp_path)]).exit_code == 1


def test_cli_download_without_internet_fails_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A closed loopback port as proxy: no traffic leaves the machine.
    for var in ("https_proxy", "http_proxy", "HTTPS_PROXY", "HTTP_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    runner = CliRunner()
    unknown = runner.invoke(map_app, ["download", "atlantis-nowhere", "--dir", str(tmp_path)])
    assert unknown.exit_code == 1
    assert "unknown region" in unknown.output
    offline = runner.invoke(map_app, ["download", "monaco", "--dir", str(tmp_path)])
    assert offline.exit_code == 1
    assert "internet" in offline.output
    assert "Traceback" not in offline.output
