"""Any valid map (issue #16, item 3): an `.osm.pbf` whose objects are not in type-then-id order
is legal (the header's `Sort.Type_then_ID` is optional) and loads like its sorted twin: the same
road graph and the same hospitals. A corrupt file is still refused with one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import osmium
import pytest
from typer.testing import CliRunner

from emsync.core.errors import ValidationFailed
from emsync.core.osm_order import declares_order, is_in_order
from emsync.routing.cli import map_app
from emsync.routing.map_store import load_road_map
from emsync.routing.osm_file import read_hospital_elements
from tests.unit.routing.conftest import map_path


def write_unsorted(source: Path, target: Path) -> None:
    """`source`'s objects, relations first, then ways, then nodes (the reverse of the type
    order), within each type the odd ids before the even ones."""
    with osmium.SimpleWriter(str(target)) as writer:
        for entity, add in (
            (osmium.osm.RELATION, writer.add_relation),
            (osmium.osm.WAY, writer.add_way),
            (osmium.osm.NODE, writer.add_node),
        ):
            for parity in (1, 0):
                for obj in osmium.FileProcessor(str(source), entity):
                    if obj.id % 2 == parity:
                        add(obj)


@pytest.fixture(scope="module")
def unsorted_andorra(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("unsorted") / "andorra-unsorted.osm.pbf"
    write_unsorted(map_path("andorra"), target)
    return target


def test_an_unsorted_map_loads_as_its_sorted_twin(unsorted_andorra: Path, tmp_path: Path) -> None:
    assert not declares_order(unsorted_andorra)
    assert not is_in_order(unsorted_andorra)
    with pytest.raises(ValidationFailed, match="out of order"):  # what refused the map before
        read_hospital_elements(unsorted_andorra)

    sorted_map = load_road_map(map_path("andorra"), tmp_path / "sorted")
    unsorted_map = load_road_map(unsorted_andorra, tmp_path / "unsorted")

    graph, twin = unsorted_map.engine.graph.arrays(), sorted_map.engine.graph.arrays()
    assert graph.keys() == twin.keys()
    for name, array in twin.items():
        np.testing.assert_array_equal(graph[name], array, err_msg=name)
    assert unsorted_map.hospitals == sorted_map.hospitals
    assert len(unsorted_map.hospitals) >= 5
    assert unsorted_map.summary.nodes == sorted_map.summary.nodes
    assert unsorted_map.summary.sha256 != sorted_map.summary.sha256  # the file as given
    # The sorted copy is kept beside the compiled map and declares its order.
    copies = list((tmp_path / "unsorted").glob("sorted-*.osm.pbf"))
    assert len(copies) == 1
    assert declares_order(copies[0])
    assert is_in_order(copies[0])


def test_a_corrupt_map_is_refused_with_one_line(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.osm.pbf"
    truncated.write_bytes(map_path("andorra").read_bytes()[:200_000])
    with pytest.raises(ValidationFailed) as refused:
        load_road_map(truncated, tmp_path)
    assert "cannot read map file" in refused.value.detail
    assert "\n" not in refused.value.detail

    result = CliRunner().invoke(map_app, ["import", str(truncated), "--cache-dir", str(tmp_path)])
    assert result.exit_code == 1
    # One error line (beside the progress bar's), no traceback.
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert "cannot read map file" in errors[0]
    assert "Traceback" not in result.output
