"""Queries on real maps (monaco, andorra and the default Helsinki extract)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import Point, shape

from emsync.core.errors import NotFound, ValidationFailed
from emsync.routing.engine import INF_WEIGHT, RoutingEngine
from emsync.routing.map_store import RoadMap
from emsync.routing.snapping import LatLon


def random_points(engine: RoutingEngine, count: int, seed: int) -> list[LatLon]:
    """Node positions nudged by ~20 m, so they snap part-way along segments."""
    rng = np.random.default_rng(seed)
    g = engine.graph
    nodes = rng.integers(0, g.node_count, count)
    jitter = rng.normal(0, 0.0002, (count, 2))
    return [
        LatLon(float(g.node_lat[n] + dy), float(g.node_lon[n] + dx))
        for n, (dy, dx) in zip(nodes, jitter, strict=True)
    ]


def reference_ms(engine: RoutingEngine, sources: np.ndarray) -> np.ndarray:
    return np.asarray(dijkstra(engine.graph.csr(engine.weights_ms), indices=sources))


def test_cch_matches_dijkstra_on_1000_random_pairs(road_map: RoadMap) -> None:
    engine = road_map.engine
    rng = np.random.default_rng(7)
    sources = rng.integers(0, engine.graph.node_count, 100)
    targets = rng.integers(0, engine.graph.node_count, (100, 10))
    reference = reference_ms(engine, sources)
    for i, s in enumerate(sources):
        got = [engine.node_time_ms(int(s), int(t)) for t in targets[i]]
        assert got == [int(v) for v in reference[i, targets[i]]]
        assert engine.node_times_ms(int(s), targets[i].tolist()) == got


def test_whole_graph_is_strongly_connected(road_map: RoadMap) -> None:
    reference = reference_ms(road_map.engine, np.array([0]))
    assert np.isfinite(reference).all()


def test_route_eta_matches_the_table_and_its_line_joins_the_positions(road_map: RoadMap) -> None:
    engine = road_map.engine
    points = random_points(engine, 12, seed=3)
    origins, destinations = points[:6], points[6:]
    table = engine.travel_times(origins, destinations)
    for i, o in enumerate(origins):
        assert engine.travel_times_from(o, destinations) == pytest.approx(table[i])
        for j, d in enumerate(destinations):
            route = engine.route(o, d)
            assert route.eta_s == pytest.approx(table[i, j], abs=1e-3)
            assert sum(route.class_seconds.values()) == pytest.approx(route.eta_s, abs=0.01)
            a, b = engine.snap(o), engine.snap(d)
            assert route.coordinates[0] == (a.lon, a.lat)
            assert route.coordinates[-1] == (b.lon, b.lat)
            straight = math.dist(
                (a.lat * 111_000, a.lon * 111_000 * math.cos(math.radians(a.lat))),
                (b.lat * 111_000, b.lon * 111_000 * math.cos(math.radians(a.lat))),
            )
            assert route.distance_m >= straight * 0.99
            assert route.geojson()["geometry"]["type"] == "LineString"
    for j, d in enumerate(destinations):
        assert engine.travel_times_to(origins, d) == pytest.approx(table[:, j])


def test_position_etas_match_dijkstra_with_the_same_road_offsets(road_map: RoadMap) -> None:
    engine = road_map.engine
    origin, *destinations = random_points(engine, 41, seed=13)
    got = engine.travel_times_from(origin, destinations)
    # Reference: scipy Dijkstra from the origin's snapped position over every node.
    reach = engine._reach_ms([engine.snap(origin)], math.inf)
    start = engine.snap(origin)
    for j, d in enumerate(engine.snap_many(destinations)):
        want = min(reach[node] + ms for node, ms in engine._arrivals(d))
        if d.edge == start.edge:
            want = min(want, engine._same_edge_ms(start, d))
        assert got[j] * 1000.0 == pytest.approx(want, abs=1.0)


def test_positions_between_nodes_are_routed_from_the_road_not_a_node(monaco: RoadMap) -> None:
    engine = monaco.engine
    g = engine.graph
    edge = int(np.argmax(g.length_m * (g.twin >= 0)))
    a, b = int(g.tail[edge]), int(g.head[edge])

    def at(f: float) -> LatLon:
        return LatLon(
            float(g.node_lat[a] + f * (g.node_lat[b] - g.node_lat[a])),
            float(g.node_lon[a] + f * (g.node_lon[b] - g.node_lon[a])),
        )

    quarter = engine.route(at(0.25), at(0.75))
    assert quarter.eta_s == pytest.approx(0.5 * g.time_ms[edge] / 1000.0, rel=0.02)
    assert quarter.distance_m == pytest.approx(0.5 * g.length_m[edge], rel=0.02)


def test_road_closure_reroutes_and_reopening_restores(monaco: RoadMap) -> None:
    engine = monaco.engine
    o, d = random_points(engine, 2, seed=11)
    before = engine.route(o, d)
    g = engine.graph
    # Close a segment in the middle of the route (both directions).
    mid = before.coordinates[len(before.coordinates) // 2]
    closed = engine.close_road_at(LatLon(mid[1], mid[0]))
    try:
        assert closed >= 1
        assert (engine.weights_ms == INF_WEIGHT).sum() == closed
        after = engine.route(o, d)
        assert after.eta_s >= before.eta_s
        # CCH after a partial update still agrees with Dijkstra on the closed graph.
        rng = np.random.default_rng(5)
        sources = rng.integers(0, g.node_count, 20)
        reference = reference_ms(engine, sources)
        for i, s in enumerate(sources):
            for t in rng.integers(0, g.node_count, 10):
                got = engine.node_time_ms(int(s), int(t))
                want = reference[i, t]
                assert (got is None and np.isinf(want)) or got == want
    finally:
        engine.reopen_all()
    assert engine.route(o, d).eta_s == pytest.approx(before.eta_s)


def test_faster_road_classes_shorten_etas(monaco: RoadMap) -> None:
    engine = monaco.engine
    o, d = random_points(engine, 2, seed=2)
    before = engine.route(o, d).eta_s
    engine.set_speed_factors(dict.fromkeys(engine.speed_factors, 2.0))
    try:
        assert engine.route(o, d).eta_s == pytest.approx(before / 2, rel=0.01)
    finally:
        engine.set_speed_factors({})
    assert engine.route(o, d).eta_s == pytest.approx(before)


def test_coverage_grows_with_time_and_units(road_map: RoadMap) -> None:
    engine = road_map.engine
    units = random_points(engine, 3, seed=4)
    none = engine.coverage([], 8)
    assert none.share == 0.0
    one = engine.coverage(units[:1], 2)
    more_time = engine.coverage(units[:1], 8)
    more_units = engine.coverage(units, 8)
    assert 0 < one.share <= more_time.share <= more_units.share <= 1.0
    assert more_units.total_m == pytest.approx(none.total_m)


def test_isochrone_is_a_valid_polygon_around_its_origin(road_map: RoadMap) -> None:
    engine = road_map.engine
    origin = random_points(engine, 1, seed=9)[0]
    small = engine.isochrone(origin, 1)
    large = engine.isochrone(origin, 5)
    for feature in (small, large):
        geometry = shape(feature["geometry"])
        assert geometry.is_valid, shapely.is_valid_reason(geometry)
    assert shape(large["geometry"]).buffer(1e-4).contains(Point(origin.lon, origin.lat))
    assert large["geometry"]["type"] == "MultiPolygon"
    assert small["properties"]["reached_nodes"] < large["properties"]["reached_nodes"]
    rings = [poly[0] for poly in large["geometry"]["coordinates"]]
    assert rings
    for ring in rings:
        assert ring[0] == ring[-1]
        assert len(ring) >= 4
    lons = [c[0] for ring in rings for c in ring]
    lats = [c[1] for ring in rings for c in ring]
    assert min(lons) <= origin.lon <= max(lons)
    assert min(lats) <= origin.lat <= max(lats)


def test_positions_off_the_map_are_not_found(monaco: RoadMap) -> None:
    with pytest.raises(NotFound):
        monaco.engine.route(LatLon(0.0, 0.0), LatLon(43.73, 7.42))


@pytest.mark.parametrize(("lat", "lon"), [(91.0, 7.0), (43.0, 181.0), (float("nan"), 7.0)])
def test_bad_coordinates_are_rejected(lat: float, lon: float) -> None:
    with pytest.raises(ValidationFailed):
        LatLon(lat, lon)


def test_bad_isochrone_and_coverage_minutes_are_rejected(monaco: RoadMap) -> None:
    origin = LatLon(43.73, 7.42)
    with pytest.raises(ValidationFailed):
        monaco.engine.isochrone(origin, 0)
    with pytest.raises(ValidationFailed):
        monaco.engine.coverage([origin], -1)


def test_node_ids_out_of_range_are_rejected_not_panicking(monaco: RoadMap) -> None:
    engine = monaco.engine
    with pytest.raises(ValidationFailed):
        engine.node_time_ms(0, engine.graph.node_count)
    with pytest.raises(ValidationFailed):
        engine.node_times_ms(-1, [0])
    assert engine.node_times_ms(0, []) == []


def test_located_positions_route_like_coordinates_and_far_ones_are_marked(monaco: RoadMap) -> None:
    engine = monaco.engine
    points = random_points(engine, 40, seed=11)
    far = LatLon(0.0, 0.0)
    lat = np.array([p.lat for p in points] + [far.lat])
    lon = np.array([p.lon for p in points] + [far.lon])
    destination = points[0]
    for _ in range(2):  # the second pass answers from the recent-snap memory
        snaps = engine.locate(lat, lon)
        assert snaps.found.tolist() == [True] * len(points) + [False]
        seconds = engine.travel_times_to_snapped(snaps, engine.snap(destination))
        assert seconds[:-1].tolist() == engine.travel_times_to(points, destination).tolist()
        assert seconds[-1] == math.inf
    with pytest.raises(NotFound) as error:
        engine.travel_times_to([*points, far], destination)
    assert error.value.detail == engine.off_map_reason(far.lat, far.lon)
