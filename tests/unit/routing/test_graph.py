from __future__ import annotations

import numpy as np
import pytest

from emsync.routing.graph import RoadWays, build_road_graph


def ways(
    *paths: tuple[list[int], float, float], coords: dict[int, tuple[float, float]]
) -> RoadWays:
    """Ways from (node ids, forward km/h, backward km/h); coordinates by node id."""
    refs = [r for path, _, _ in paths for r in path]
    return RoadWays(
        way_id=np.arange(1, len(paths) + 1, dtype=np.int64),
        road_class=np.full(len(paths), 5, dtype=np.uint8),
        forward_kmh=np.array([f for _, f, _ in paths]),
        backward_kmh=np.array([b for _, _, b in paths]),
        offsets=np.cumsum([0] + [len(p) for p, _, _ in paths]).astype(np.int64),
        refs=np.array(refs, dtype=np.int64),
        lat=np.array([coords[r][0] for r in refs]),
        lon=np.array([coords[r][1] for r in refs]),
    )


COORDS = {i: (60.0, 25.0 + 0.001 * i) for i in range(1, 10)}


def test_two_way_road_makes_twin_edges_with_time_from_speed() -> None:
    graph = build_road_graph(ways(([1, 2, 3], 36.0, 36.0), coords=COORDS))
    assert graph.node_count == 3
    assert graph.edge_count == 4
    assert (graph.twin >= 0).all()
    assert (graph.tail[graph.twin] == graph.head).all()
    # 36 km/h = 10 m/s
    assert graph.time_ms == pytest.approx(graph.length_m * 100, abs=1)
    assert graph.length_m[0] == pytest.approx(55.6, abs=0.5)  # 0.001° of longitude at 60°N


def test_dead_end_one_way_is_cut_by_the_strong_component() -> None:
    # 1-2-3 is two-way; 3->4 is one-way into a dead end, so 4 is dropped.
    graph = build_road_graph(ways(([1, 2, 3], 30.0, 30.0), ([3, 4], 30.0, 0.0), coords=COORDS))
    assert sorted(graph.node_osm_id.tolist()) == [1, 2, 3]
    assert graph.edge_count == 4


def test_one_way_loop_is_kept_without_twins() -> None:
    graph = build_road_graph(ways(([1, 2, 3, 1], 30.0, 0.0), coords=COORDS))
    assert graph.node_count == 3
    assert graph.edge_count == 3
    assert (graph.twin == -1).all()


def test_nodes_missing_from_the_extract_are_skipped() -> None:
    coords = dict(COORDS)
    coords[3] = (float("nan"), float("nan"))
    graph = build_road_graph(ways(([1, 2, 3, 4], 30.0, 30.0), coords=coords))
    assert sorted(graph.node_osm_id.tolist()) == [1, 2]


def test_csr_keeps_the_faster_of_parallel_edges() -> None:
    graph = build_road_graph(ways(([1, 2], 30.0, 30.0), ([1, 2], 60.0, 60.0), coords=COORDS))
    csr = graph.csr()
    assert csr.nnz == 2
    assert csr[0, 1] == graph.time_ms.min()
