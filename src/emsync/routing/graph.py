"""The directed road graph: every OSM node of a drivable way is a graph node (pure)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components

__all__ = ["EARTH_RADIUS_M", "RoadGraph", "RoadWays", "build_road_graph", "haversine_m"]

EARTH_RADIUS_M = 6_371_008.8
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class RoadWays:
    """Drivable ways as flat arrays; way i's nodes are refs[offsets[i]:offsets[i + 1]]."""

    way_id: npt.NDArray[np.int64]
    road_class: npt.NDArray[np.uint8]
    forward_kmh: npt.NDArray[np.float64]
    backward_kmh: npt.NDArray[np.float64]
    offsets: npt.NDArray[np.int64]
    refs: npt.NDArray[np.int64]
    lat: npt.NDArray[np.float64]  # NaN where the extract lacks the node
    lon: npt.NDArray[np.float64]


def haversine_m(lat1: F64, lon1: F64, lat2: F64, lon2: F64) -> F64:
    """Great-circle distances in metres, elementwise."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2 - lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    out: F64 = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return out


@dataclass(frozen=True, slots=True, eq=False)
class RoadGraph:
    """Nodes and directed edges as arrays; edge weights are travel times in milliseconds."""

    node_lat: F64
    node_lon: F64
    node_osm_id: I64
    tail: I32
    head: I32
    length_m: F64
    time_ms: I64
    road_class: npt.NDArray[np.uint8]
    way_id: I64
    twin: I32  # the reverse edge of the same segment, or -1 on one-way roads

    @property
    def node_count(self) -> int:
        return int(self.node_lat.shape[0])

    @property
    def edge_count(self) -> int:
        return int(self.tail.shape[0])

    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def csr(self, weights: I64 | None = None) -> csr_array:
        """Adjacency matrix for scipy.csgraph; parallel edges keep their minimum weight."""
        w = self.time_ms if weights is None else weights
        keep = w < np.iinfo(np.int32).max  # closed roads are absent
        t, h, w = self.tail[keep], self.head[keep], w[keep]
        order = np.lexsort((w, h, t))
        t, h, w = t[order], h[order], w[order]
        first = np.ones(t.shape[0], dtype=bool)
        first[1:] = (t[1:] != t[:-1]) | (h[1:] != h[:-1])
        n = self.node_count
        return csr_array((w[first].astype(np.float64), (t[first], h[first])), shape=(n, n))


def _twins(tail: I32, head: I32, n: int) -> I32:
    key = tail.astype(np.int64) * n + head
    reverse = head.astype(np.int64) * n + tail
    order = np.argsort(key, kind="stable")
    pos = np.searchsorted(key[order], reverse)
    pos = np.minimum(pos, key.shape[0] - 1)
    found = key[order][pos] == reverse
    twin = np.where(found, order[pos], -1).astype(np.int32)
    twin[tail == head] = -1
    return twin


def build_road_graph(ways: RoadWays) -> RoadGraph:
    """Segments of the drivable ways, restricted to the largest strongly connected component."""
    counts = np.diff(ways.offsets)
    way_of = np.repeat(np.arange(counts.shape[0]), counts)
    if ways.refs.shape[0] < 2:
        raise ValueError("the map has no drivable road")
    k = np.arange(ways.refs.shape[0] - 1)
    same_way = way_of[k] == way_of[k + 1]
    k = k[same_way]
    a, b = k, k + 1
    ok = np.isfinite(ways.lat[a]) & np.isfinite(ways.lat[b]) & (ways.refs[a] != ways.refs[b])
    a, b = a[ok], b[ok]
    seg_way = way_of[a]
    length = haversine_m(ways.lat[a], ways.lon[a], ways.lat[b], ways.lon[b])

    fwd = ways.forward_kmh[seg_way] > 0
    bwd = ways.backward_kmh[seg_way] > 0
    src = np.concatenate([a[fwd], b[bwd]])
    dst = np.concatenate([b[fwd], a[bwd]])
    e_way = np.concatenate([seg_way[fwd], seg_way[bwd]])
    e_len = np.concatenate([length[fwd], length[bwd]])
    e_kmh = np.concatenate([ways.forward_kmh[seg_way[fwd]], ways.backward_kmh[seg_way[bwd]]])
    if src.shape[0] == 0:
        raise ValueError("the map has no drivable road")
    e_ms = np.maximum(1, np.rint(e_len / (e_kmh / 3.6) * 1000.0)).astype(np.int64)

    osm_ids, first_pos, inverse = np.unique(
        ways.refs[np.concatenate([src, dst])], return_index=True, return_inverse=True
    )
    ref_pos = np.concatenate([src, dst])[first_pos]
    m = src.shape[0]
    tail, head = inverse[:m], inverse[m:]
    n = osm_ids.shape[0]

    adjacency = csr_array((np.ones(m), (tail, head)), shape=(n, n))
    _, labels = connected_components(adjacency, directed=True, connection="strong")
    largest = np.bincount(labels).argmax()
    keep_node = labels == largest
    new_index = np.cumsum(keep_node) - 1
    keep_edge = keep_node[tail] & keep_node[head]
    tail = new_index[tail[keep_edge]].astype(np.int32)
    head = new_index[head[keep_edge]].astype(np.int32)
    n = int(keep_node.sum())
    return RoadGraph(
        node_lat=ways.lat[ref_pos][keep_node],
        node_lon=ways.lon[ref_pos][keep_node],
        node_osm_id=osm_ids[keep_node],
        tail=tail,
        head=head,
        length_m=e_len[keep_edge],
        time_ms=e_ms[keep_edge],
        road_class=ways.road_class[e_way[keep_edge]],
        way_id=ways.way_id[e_way[keep_edge]],
        twin=_twins(tail, head, n),
    )
