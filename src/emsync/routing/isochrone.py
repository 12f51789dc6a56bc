"""Isochrone polygons as alpha shapes of reached road points (pure).

The area reachable within T is drawn from a Delaunay triangulation of every road node plus a
point every 100 m along longer segments: a triangle belongs to the area when its three corners
are reached within T and none of its sides is longer than `alpha_m` (default 300 m), so
unreachable valleys, water and road-less blocks between reached roads stay outside. The union of
kept triangles is traced into GeoJSON (Multi)Polygon rings, outer rings counter-clockwise and
holes clockwise (RFC 7946).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.spatial import Delaunay

__all__ = ["IsochroneMesh", "alpha_shape_rings"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class IsochroneMesh:
    """A triangulation of road points; `point_edge`/`point_fraction` place each on the graph.

    Road nodes have `point_edge == -1` and `point_node` set; samples have `point_node == -1`.
    """

    x: F64
    y: F64
    lat: F64
    lon: F64
    point_node: I64
    point_edge: I64
    point_fraction: F64
    triangles: I64  # (k, 3), counter-clockwise
    longest_side_m: F64  # (k,)


def build_mesh(
    x: F64,
    y: F64,
    lat: F64,
    lon: F64,
    point_node: I64,
    point_edge: I64,
    point_fraction: F64,
) -> IsochroneMesh:
    # Centred coordinates: Qhull is faster and more robust near the origin.
    tri = Delaunay(np.column_stack([x - x.mean(), y - y.mean()]))
    s = np.asarray(tri.simplices, dtype=np.int64)
    a, b, c = s[:, 0], s[:, 1], s[:, 2]
    cross = (x[b] - x[a]) * (y[c] - y[a]) - (y[b] - y[a]) * (x[c] - x[a])
    s = np.where((cross < 0)[:, None], s[:, [0, 2, 1]], s)
    sides = np.stack(
        [
            np.hypot(x[s[:, i]] - x[s[:, (i + 1) % 3]], y[s[:, i]] - y[s[:, (i + 1) % 3]])
            for i in range(3)
        ],
        axis=1,
    )
    return IsochroneMesh(
        x, y, lat, lon, point_node, point_edge, point_fraction, s, sides.max(axis=1)
    )


def _ring_area(xs: F64, ys: F64) -> float:
    return float(0.5 * np.sum(xs * np.roll(ys, -1) - np.roll(xs, -1) * ys))


def _inside(px: float, py: float, xs: F64, ys: F64) -> bool:
    x2, y2 = np.roll(xs, -1), np.roll(ys, -1)
    crosses = (ys > py) != (y2 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        at = xs + (py - ys) * (x2 - xs) / (y2 - ys)
    return bool(np.count_nonzero(crosses & (px < at)) % 2 == 1)


def alpha_shape_rings(mesh: IsochroneMesh, reached: npt.NDArray[np.bool_], alpha_m: float) -> Any:
    """GeoJSON MultiPolygon coordinates of the kept triangles' union."""
    s = mesh.triangles
    keep = reached[s].all(axis=1) & (mesh.longest_side_m <= alpha_m)
    s = s[keep]
    if s.shape[0] == 0:
        return []
    directed = np.concatenate([s[:, [0, 1]], s[:, [1, 2]], s[:, [2, 0]]])
    n = int(mesh.x.shape[0])
    key = directed[:, 0] * n + directed[:, 1]
    rev = directed[:, 1] * n + directed[:, 0]
    boundary = directed[~np.isin(key, rev)]
    outgoing: dict[int, list[int]] = {}
    for a, b in boundary.tolist():
        outgoing.setdefault(a, []).append(b)
    rings: list[list[int]] = []
    for start in list(outgoing):
        while outgoing.get(start):
            ring = [start]
            current = outgoing[start].pop()
            while current != start:
                ring.append(current)
                nxt = outgoing.get(current)
                if not nxt:
                    break
                current = nxt.pop()
            if current == start and len(ring) >= 3:
                rings.append(ring)
    outers: list[tuple[float, list[int]]] = []
    holes: list[list[int]] = []
    for ring in rings:
        idx = np.asarray(ring)
        area = _ring_area(mesh.x[idx], mesh.y[idx])
        if area > 0:
            outers.append((area, ring))
        else:
            holes.append(ring)
    outers.sort(key=lambda item: item[0])
    polygons: list[list[list[int]]] = [[ring] for _, ring in outers]
    for hole in holes:
        hx, hy = float(mesh.x[hole[0]]), float(mesh.y[hole[0]])
        for i, (_, ring) in enumerate(outers):
            idx = np.asarray(ring)
            if _inside(hx, hy, mesh.x[idx], mesh.y[idx]):
                polygons[i].append(hole)
                break

    def coords(ring: list[int]) -> list[list[float]]:
        pts = [[float(mesh.lon[i]), float(mesh.lat[i])] for i in ring]
        return [*pts, pts[0]]

    return [[coords(ring) for ring in polygon] for polygon in polygons]
