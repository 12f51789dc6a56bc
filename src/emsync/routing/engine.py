"""Road-time queries on a customizable contraction hierarchy (routingkit-cch).

No file or network I/O: the engine is built from a `RoadGraph` and a CCH node order (see
`cache.py` for loading both from disk). Positions are snapped onto road segments and queries
start and end part-way along them (the CCH's multi-source/target queries take the offsets), so
an ambulance in the middle of a long road is not moved to a node first.

One engine serves concurrent callers: queries and weight changes hold one lock, because CCH
query objects are stateful and routingkit refuses weight updates while a query object is alive.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import routingkit_cch as rk
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from emsync.core.errors import NotFound, ValidationFailed
from emsync.routing.graph import RoadGraph
from emsync.routing.isochrone import IsochroneMesh, alpha_shape_rings, build_mesh
from emsync.routing.profile import RoadClass
from emsync.routing.snapping import LatLon, SnapIndex, SnapPoint, Snaps, canonical_edges

__all__ = ["INF_WEIGHT", "Coverage", "Route", "RoutingEngine", "compute_order"]

INF_WEIGHT = 2_147_483_647  # routingkit's infinity: an arc with it is never used
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
ISOCHRONE_SAMPLE_M = 100.0
# Partial weight updates beat a full re-customization below about this many changed arcs.
PARTIAL_UPDATE_LIMIT = 5000


def compute_order(graph: RoadGraph) -> I32:
    """The CCH contraction order (nested dissection by inertial flow on node coordinates)."""
    order = rk.compute_order_inertial(
        graph.node_count,
        graph.tail.tolist(),
        graph.head.tolist(),
        graph.node_lat.tolist(),
        graph.node_lon.tolist(),
    )
    return np.asarray(order, dtype=np.int32)


@dataclass(frozen=True, slots=True)
class Route:
    """A road route: ETA, length, the line to draw, and the time spent on each road class."""

    eta_s: float
    distance_m: float
    coordinates: tuple[tuple[float, float], ...]  # (lon, lat), GeoJSON order
    class_seconds: Mapping[RoadClass, float]

    def geojson(self) -> dict[str, Any]:
        """A GeoJSON Feature with a LineString geometry."""
        return {
            "type": "Feature",
            "geometry": {
                "type": "LineString",
                "coordinates": [list(c) for c in self.coordinates],
            },
            "properties": {"eta_s": self.eta_s, "distance_m": self.distance_m},
        }


@dataclass(frozen=True, slots=True)
class Coverage:
    """Share of road length reachable within `minutes` of at least one position."""

    minutes: float
    covered_m: float
    total_m: float

    @property
    def share(self) -> float:
        return self.covered_m / self.total_m if self.total_m > 0 else 0.0


class RoutingEngine:
    """Travel-time queries on one road graph."""

    def __init__(
        self,
        graph: RoadGraph,
        order: I32,
        *,
        max_snap_m: float = 1000.0,
        isochrone_alpha_m: float = 300.0,
    ) -> None:
        self.graph = graph
        self.order = order
        self.isochrone_alpha_m = isochrone_alpha_m
        self._lock = threading.RLock()
        self._cch = rk.CCH(order.tolist(), graph.tail.tolist(), graph.head.tolist(), False)
        self._factors = np.ones(len(RoadClass), dtype=np.float64)
        self._closed = np.zeros(graph.edge_count, dtype=bool)
        self._open_ms = graph.time_ms.copy()
        self._weights = graph.time_ms.copy()
        self._metric = rk.CCHMetric(self._cch, self._weights.tolist())
        self._query: rk.CCHQuery | None = None
        # Reused query objects (repinning is cheaper than building); dropped on weight changes.
        self._one_to_many: rk.CCHOneToMany | None = None
        self._many_to_one: rk.CCHManyToOne | None = None
        self._csr: csr_array | None = None
        self._mesh: IsochroneMesh | None = None
        self._snapper = SnapIndex(graph, max_distance_m=max_snap_m)
        self._canonical = canonical_edges(graph)

    # ---- weights: speed factors and closures -------------------------------------------------

    @property
    def weights_ms(self) -> I64:
        """Current arc travel times in ms (INF_WEIGHT on closed roads); do not modify."""
        return self._weights

    @property
    def speed_factors(self) -> dict[RoadClass, float]:
        return {c: float(self._factors[c]) for c in RoadClass}

    def set_speed_factors(self, factors: Mapping[RoadClass, float]) -> None:
        """Scale speeds per road class (2.0 = twice the profile's speed), e.g. from calibration."""
        new = np.ones(len(RoadClass), dtype=np.float64)
        for road_class, factor in factors.items():
            if not (math.isfinite(factor) and 0.05 <= factor <= 20.0):
                raise ValidationFailed(f"speed factor for {road_class.label} must be 0.05..20")
            new[int(road_class)] = factor
        self._factors = new
        scale = new[self.graph.road_class]
        self._open_ms = np.maximum(1, np.rint(self.graph.time_ms / scale)).astype(np.int64)
        self._set_weights(np.where(self._closed, INF_WEIGHT, self._open_ms))

    def close_edges(self, edge_ids: Iterable[int]) -> int:
        """Close directed edges (road closures); returns how many were newly closed."""
        ids = np.unique(np.fromiter(edge_ids, dtype=np.int64))
        if ids.size and (ids.min() < 0 or ids.max() >= self.graph.edge_count):
            raise ValidationFailed("edge id out of range")
        ids = ids[~self._closed[ids]]
        self._closed[ids] = True
        weights = self._weights.copy()
        weights[ids] = INF_WEIGHT
        self._set_weights(weights)
        return int(ids.size)

    def close_ways(self, way_ids: Iterable[int]) -> int:
        """Close every edge of these OSM ways, both directions."""
        wanted = np.fromiter(way_ids, dtype=np.int64)
        return self.close_edges(np.flatnonzero(np.isin(self.graph.way_id, wanted)).tolist())

    def close_road_at(self, point: LatLon) -> int:
        """Close the road segment nearest to `point` in both directions."""
        snap = self._snapper.snap(point)
        twin = int(self.graph.twin[snap.edge])
        return self.close_edges([snap.edge] + ([twin] if twin >= 0 else []))

    def reopen_all(self) -> None:
        self._closed[:] = False
        self._set_weights(self._open_ms.copy())

    def _set_weights(self, weights: I64) -> None:
        with self._lock:
            changed = np.flatnonzero(weights != self._weights)
            if changed.size == 0:
                return
            # routingkit refuses updates while a query object is alive
            self._query = self._one_to_many = self._many_to_one = None
            if changed.size <= PARTIAL_UPDATE_LIMIT:
                updater = rk.CCHMetricPartialUpdater(self._cch)
                updater.apply(
                    self._metric,
                    dict(zip(changed.tolist(), weights[changed].tolist(), strict=True)),
                )
            else:
                self._metric.reset(weights.tolist())
            self._weights = weights
            self._csr = None

    # ---- node-level queries (tests, benchmarks) ------------------------------------------------

    def _q(self) -> rk.CCHQuery:
        if self._query is None:
            self._query = rk.CCHQuery(self._metric)
        return self._query

    def _pin_targets(self, targets: list[int]) -> rk.CCHOneToMany:
        """A one-to-many query pinned to `targets` (non-empty); call with the lock held."""
        if self._one_to_many is None:
            self._one_to_many = rk.CCHOneToMany(self._metric, targets)
        else:
            self._one_to_many.repin_targets(targets)
        return self._one_to_many

    def _pin_sources(self, sources: list[int]) -> rk.CCHManyToOne:
        """A many-to-one query pinned to `sources` (non-empty); call with the lock held."""
        if self._many_to_one is None:
            self._many_to_one = rk.CCHManyToOne(self._metric, sources)
        else:
            self._many_to_one.repin_sources(sources)
        return self._many_to_one

    def _check_nodes(self, nodes: Sequence[int]) -> None:
        # routingkit panics (a BaseException) on ids out of range: refuse them first.
        n = self.graph.node_count
        if min(nodes) < 0 or max(nodes) >= n:
            raise ValidationFailed(f"node id out of range 0..{n - 1}")

    def node_time_ms(self, source: int, target: int) -> int | None:
        """Shortest travel time between two graph nodes in ms, None when unreachable."""
        self._check_nodes((source, target))
        with self._lock:
            return self._q().run(source, target).distance

    def node_times_ms(self, source: int, targets: Sequence[int]) -> list[int | None]:
        """One source to many graph nodes, in ms (None when unreachable)."""
        if not targets:
            return []
        self._check_nodes([source, *targets])
        with self._lock:
            return self._pin_targets(list(targets)).distances_from(source)

    # ---- snapping ------------------------------------------------------------------------------

    def snap(self, point: LatLon) -> SnapPoint:
        """The nearest road position; NotFound when no road is within the snap distance."""
        return self._snapper.snap(point)

    def snap_many(self, points: Sequence[LatLon]) -> list[SnapPoint]:
        return self._snapper.snap_many(list(points))

    def locate(self, lat: F64, lon: F64) -> Snaps:
        """Snap many positions at once without raising (`found` is False where off the map);
        the result is reused by `travel_times_to_snapped`, so each position is snapped once."""
        return self._snapper.locate(np.asarray(lat, dtype=np.float64), np.asarray(lon, np.float64))

    def off_map_reason(self, lat: float, lon: float) -> str:
        """The NotFound detail for a position `locate` did not find."""
        return self._snapper.far_message(lat, lon)

    def _departures(self, p: SnapPoint) -> list[tuple[int, int]]:
        """(node, ms) pairs to leave a snapped position: ahead to the head, back to the tail."""
        e, f, g = p.edge, p.fraction, self.graph
        out = [(int(g.head[e]), round((1.0 - f) * self._open_ms[e]))]
        twin = int(g.twin[e])
        if twin >= 0:
            out.append((int(g.tail[e]), round(f * self._open_ms[twin])))
        return out

    def _arrivals(self, p: SnapPoint) -> list[tuple[int, int]]:
        """(node, ms) pairs to reach a snapped position: from the tail, or from the head."""
        e, f, g = p.edge, p.fraction, self.graph
        out = [(int(g.tail[e]), round(f * self._open_ms[e]))]
        twin = int(g.twin[e])
        if twin >= 0:
            out.append((int(g.head[e]), round((1.0 - f) * self._open_ms[twin])))
        return out

    def _same_edge_ms(self, a: SnapPoint, b: SnapPoint) -> float:
        """Driving straight along the shared segment, when both positions are on it."""
        if a.edge != b.edge:
            return math.inf
        e = a.edge
        if b.fraction >= a.fraction and not self._closed[e]:
            return (b.fraction - a.fraction) * float(self._open_ms[e])
        twin = int(self.graph.twin[e])
        if b.fraction <= a.fraction and twin >= 0 and not self._closed[twin]:
            return (a.fraction - b.fraction) * float(self._open_ms[twin])
        return math.inf

    # ---- position queries ----------------------------------------------------------------------

    def route(self, origin: LatLon, destination: LatLon) -> Route:
        """Fastest route by road; NotFound when either end is off the map or unreachable."""
        a, b = self._snapper.snap_many([origin, destination])
        direct = self._same_edge_ms(a, b)
        with self._lock:
            result = self._q().run_multi(self._departures(a), self._arrivals(b))
            total = result.distance
            nodes = list(result.node_path)
            arcs = list(result.arc_path)
        g = self.graph
        if direct <= (math.inf if total is None else total):
            seconds = dict.fromkeys(RoadClass, 0.0)
            seconds[RoadClass(int(g.road_class[a.edge]))] = direct / 1000.0
            length = abs(b.fraction - a.fraction) * float(g.length_m[a.edge])
            return Route(direct / 1000.0, length, ((a.lon, a.lat), (b.lon, b.lat)), seconds)
        if total is None:
            raise NotFound("no road route between these positions")
        arc_ids = np.asarray(arcs, dtype=np.int64)
        seconds_arr = np.zeros(len(RoadClass))
        np.add.at(seconds_arr, g.road_class[arc_ids], self._weights[arc_ids] / 1000.0)
        length = float(g.length_m[arc_ids].sum())
        # The partial segments at both ends: which end node the query chose says which way.
        ends = (
            (a, nodes[0] == int(g.head[a.edge])),  # left ahead along the edge
            (b, nodes[-1] == int(g.tail[b.edge])),  # arrived along the edge from its tail
        )
        for p, along in ends:
            first_part = p is b
            share = p.fraction if first_part == along else 1.0 - p.fraction
            edge = p.edge if along else int(g.twin[p.edge])
            seconds_arr[g.road_class[p.edge]] += share * float(self._open_ms[edge]) / 1000.0
            length += share * float(g.length_m[p.edge])
        coords = [(a.lon, a.lat)]
        coords += [(float(g.node_lon[n]), float(g.node_lat[n])) for n in nodes]
        coords.append((b.lon, b.lat))
        return Route(
            eta_s=total / 1000.0,
            distance_m=length,
            coordinates=tuple(coords),
            class_seconds={c: float(seconds_arr[c]) for c in RoadClass},
        )

    def _ends(
        self, points: Sequence[LatLon], leaving: bool
    ) -> tuple[list[int], I64, npt.NDArray[np.int64], F64]:
        """Two (node, ms) ends per snapped position, as pinned nodes and an offset matrix."""
        lat = np.array([p.lat for p in points])
        lon = np.array([p.lon for p in points])
        edge, frac, _ = self._snapper.snap_arrays(lat, lon)
        nodes, offsets = self._snapped_ends(edge, frac, leaving)
        return nodes, offsets, edge, frac

    def _snapped_ends(
        self, edge: npt.NDArray[np.int64], frac: F64, leaving: bool
    ) -> tuple[list[int], I64]:
        """Leaving: ahead to the edge's head, or back to its tail along the twin. Arriving: from
        the tail along the edge, or from the head along the twin. Without a twin the second
        end repeats the first node with an infinite offset.
        """
        g = self.graph
        twin = g.twin[edge]
        has_twin = twin >= 0
        along = (1.0 - frac) if leaving else frac
        back = frac if leaving else (1.0 - frac)
        first_node = g.head[edge] if leaving else g.tail[edge]
        second_node = np.where(has_twin, g.tail[edge] if leaving else g.head[edge], first_node)
        offsets = np.empty((edge.shape[0], 2), dtype=np.int64)
        offsets[:, 0] = np.rint(along * self._open_ms[edge])
        offsets[:, 1] = np.where(
            has_twin, np.rint(back * self._open_ms[np.maximum(twin, 0)]), INF_WEIGHT
        )
        nodes = np.column_stack([first_node, second_node]).ravel().tolist()
        return nodes, offsets

    def _direct_ms(
        self, src_edge: npt.NDArray[np.int64], src_frac: F64, dst_edge: int, dst_frac: float
    ) -> F64:
        """Driving straight along a shared segment (inf where the positions do not share one)."""
        out = np.full(src_edge.shape[0], np.inf)
        same = np.flatnonzero(src_edge == dst_edge)
        for i in same.tolist():
            a = SnapPoint(int(src_edge[i]), float(src_frac[i]), 0.0, 0.0, 0.0)
            b = SnapPoint(dst_edge, dst_frac, 0.0, 0.0, 0.0)
            out[i] = self._same_edge_ms(a, b)
        return out

    def travel_times_from(self, origin: LatLon, destinations: Sequence[LatLon]) -> F64:
        """Seconds from one position to each destination (inf when unreachable)."""
        row: F64 = self.travel_times([origin], destinations)[0]
        return row

    def travel_times_to(self, origins: Sequence[LatLon], destination: LatLon) -> F64:
        """Seconds from each origin (e.g. every available unit) to one destination."""
        if not origins:
            return np.zeros(0)
        lat = np.array([p.lat for p in origins])
        lon = np.array([p.lon for p in origins])
        edge, frac, _ = self._snapper.snap_arrays(lat, lon)
        return self._times_to(edge, frac, self._snapper.snap(destination))

    def travel_times_to_snapped(self, origins: Snaps, destination: SnapPoint) -> F64:
        """Seconds from each `locate`d origin to a snapped destination (one many-to-one query);
        inf where the origin was not found or cannot reach."""
        out = np.full(origins.edge.shape[0], math.inf)
        ok = np.flatnonzero(origins.found)
        if ok.size:
            out[ok] = self._times_to(origins.edge[ok], origins.fraction[ok], destination)
        return out

    def _times_to(self, edges: npt.NDArray[np.int64], fracs: F64, dst: SnapPoint) -> F64:
        pinned, offsets = self._snapped_ends(edges, fracs, leaving=True)
        arrivals = self._arrivals(dst)
        with self._lock:
            raw = self._pin_sources(pinned).distances_to_multi(arrivals)
        out = self._combine(raw, offsets, edges.shape[0])
        direct = self._direct_ms(edges, fracs, dst.edge, dst.fraction)
        seconds: F64 = np.minimum(out, direct) / 1000.0
        return seconds

    def travel_times(self, origins: Sequence[LatLon], destinations: Sequence[LatLon]) -> F64:
        """Seconds from each origin (rows) to each destination (columns); inf when unreachable."""
        if not origins or not destinations:
            return np.zeros((len(origins), len(destinations)))
        srcs = self._snapper.snap_many(list(origins))
        pinned, offsets, dst_edges, dst_fracs = self._ends(destinations, leaving=False)
        table = np.empty((len(srcs), len(destinations)))
        with self._lock:
            one_to_many = self._pin_targets(pinned)
            for i, s in enumerate(srcs):
                raw = one_to_many.distances_from_multi(self._departures(s))
                table[i] = self._combine(raw, offsets, len(destinations))
        for i, s in enumerate(srcs):
            for j in np.flatnonzero(dst_edges == s.edge).tolist():
                d = SnapPoint(int(dst_edges[j]), float(dst_fracs[j]), 0.0, 0.0, 0.0)
                table[i, j] = min(table[i, j], self._same_edge_ms(s, d))
        return table / 1000.0

    @staticmethod
    def _combine(raw: list[int | None], offsets: I64, count: int) -> F64:
        dist = np.array(raw, dtype=np.float64)  # None (unreachable) becomes NaN
        dist[np.isnan(dist)] = math.inf
        return np.asarray((dist.reshape(count, 2) + offsets).min(axis=1), dtype=np.float64)

    # ---- reach: isochrones and coverage ----------------------------------------------------------

    def _reach_ms(self, sources: Sequence[SnapPoint], limit_ms: float) -> F64:
        """Milliseconds from the nearest source to every node (inf beyond `limit_ms`)."""
        g, n = self.graph, self.graph.node_count
        with self._lock:
            if self._csr is None:
                base = g.csr(self._weights)
                self._csr = csr_array(
                    (base.data, base.indices, np.append(base.indptr, base.indptr[-1])),
                    shape=(n + 1, n + 1),
                )
            base = self._csr
        best: dict[int, int] = {}
        for s in sources:
            for node, ms in self._departures(s):
                best[node] = min(ms, best.get(node, INF_WEIGHT))
        nodes = np.fromiter(best, dtype=np.int32)
        # The +1 keeps zero offsets as edges of the virtual source; subtracted below.
        offs = np.fromiter(best.values(), dtype=np.float64) + 1.0
        indptr = base.indptr.copy()
        indptr[-1] += nodes.size
        graph = csr_array(
            (
                np.concatenate([base.data, offs]),
                np.concatenate([base.indices, nodes]),
                indptr,
            ),
            shape=(n + 1, n + 1),
        )
        dist = dijkstra(graph, directed=True, indices=n, limit=limit_ms + 1.0)
        out: F64 = np.asarray(dist[:n], dtype=np.float64) - 1.0
        return out

    def coverage(self, positions: Sequence[LatLon], minutes: float = 8.0) -> Coverage:
        """Share of road length reachable within `minutes` from at least one position.

        A segment counts in part: from each end, the share an ambulance reaching that end in
        time can still drive along it before `minutes` are up.
        """
        if not (math.isfinite(minutes) and minutes >= 0):
            raise ValidationFailed("minutes must be a non-negative number")
        g, e = self.graph, self._canonical
        total = float(g.length_m[e].sum())
        if not positions:
            return Coverage(minutes, 0.0, total)
        limit = minutes * 60_000.0
        reach = self._reach_ms(self.snap_many(positions), limit)
        w = self._weights.astype(np.float64)
        from_tail = np.clip((limit - reach[g.tail[e]]) / w[e], 0.0, 1.0)
        twin = g.twin[e]
        has_twin = twin >= 0
        from_head = np.zeros_like(from_tail)
        from_head[has_twin] = np.clip(
            (limit - reach[g.head[e][has_twin]]) / w[twin[has_twin]], 0.0, 1.0
        )
        share = np.nan_to_num(np.minimum(1.0, from_tail + from_head), nan=0.0)
        return Coverage(minutes, float((share * g.length_m[e]).sum()), total)

    def _isochrone_mesh(self) -> IsochroneMesh:
        with self._lock:
            if self._mesh is None:
                g = self.graph
                e = self._canonical
                pieces = np.floor(g.length_m[e] / ISOCHRONE_SAMPLE_M).astype(np.int64)
                sample_edge = np.repeat(e, pieces)
                starts = np.repeat(np.cumsum(pieces) - pieces, pieces)
                step = np.arange(sample_edge.shape[0]) - starts + 1
                frac = step / (np.repeat(pieces, pieces) + 1.0)
                t, h = g.tail[sample_edge], g.head[sample_edge]
                lat = np.concatenate(
                    [g.node_lat, g.node_lat[t] + frac * (g.node_lat[h] - g.node_lat[t])]
                )
                lon = np.concatenate(
                    [g.node_lon, g.node_lon[t] + frac * (g.node_lon[h] - g.node_lon[t])]
                )
                x, y = self._snapper.projection.xy(lat, lon)
                n = g.node_count
                self._mesh = build_mesh(
                    x,
                    y,
                    lat,
                    lon,
                    np.concatenate([np.arange(n), np.full(sample_edge.shape[0], -1)]),
                    np.concatenate([np.full(n, -1), sample_edge]),
                    np.concatenate([np.zeros(n), frac]),
                )
            return self._mesh

    def prepare_isochrones(self) -> None:
        """Build the isochrone mesh now (a Delaunay triangulation: seconds on a 60k-node map)
        instead of on the first isochrone request."""
        self._isochrone_mesh()

    def isochrone(self, origin: LatLon, minutes: float) -> dict[str, Any]:
        """GeoJSON Feature (MultiPolygon) of the area reachable from `origin` within `minutes`."""
        if not (math.isfinite(minutes) and 0 < minutes <= 240):
            raise ValidationFailed("minutes must be in (0, 240]")
        limit = minutes * 60_000.0
        reach = self._reach_ms([self._snapper.snap(origin)], limit)
        mesh = self._isochrone_mesh()
        g = self.graph
        t_point = np.full(mesh.x.shape[0], np.inf)
        is_node = mesh.point_node >= 0
        t_point[is_node] = reach[mesh.point_node[is_node]]
        e = mesh.point_edge[~is_node]
        f = mesh.point_fraction[~is_node]
        w = self._weights.astype(np.float64)
        via_tail = reach[g.tail[e]] + f * w[e]
        twin = g.twin[e]
        via_head = np.where(
            twin >= 0, reach[g.head[e]] + (1.0 - f) * w[np.maximum(twin, 0)], np.inf
        )
        t_point[~is_node] = np.minimum(via_tail, via_head)
        polygons = alpha_shape_rings(mesh, t_point <= limit, self.isochrone_alpha_m)
        return {
            "type": "Feature",
            "geometry": {"type": "MultiPolygon", "coordinates": polygons},
            "properties": {
                "minutes": minutes,
                "reached_nodes": int(np.count_nonzero(reach <= limit)),
                "method": f"alpha shape, alpha {self.isochrone_alpha_m:.0f} m",
            },
        }
