"""Isochrone polygons as alpha shapes of reached road points (pure).

The area reachable within T is drawn from a Delaunay triangulation of every road node plus a
point every 100 m along longer segments: a triangle belongs to the area when its three corners
are reached within T and none of its sides is longer than `alpha_m` (default 300 m), so
unreachable valleys, water and road-less blocks between reached roads stay outside. The union of
kept triangles is traced into GeoJSON (Multi)Polygon rings, outer rings counter-clockwise and
holes clockwise (RFC 7946).
"""

from __future__ import annotations

import math
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
    # Centred, and jittered by millimetres (seeded): samples lie exactly on their segments, and
    # collinear points would give Qhull flat triangles with no consistent orientation.
    jitter = np.random.default_rng(0).uniform(-0.005, 0.005, (x.shape[0], 2))
    tri = Delaunay(np.column_stack([x - x.mean(), y - y.mean()]) + jitter)
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


def _split_at_repeats(ring: list[int]) -> list[list[int]]:
    """Simple rings from a ring that passes a vertex twice (where a gap in the area pinches
    shut): the loop between the two visits becomes its own ring, a hole by orientation."""
    out: list[list[int]] = []
    stack: list[int] = []
    position: dict[int, int] = {}
    for v in ring:
        if v in position:
            i = position[v]
            out.append(stack[i:])
            for u in stack[i + 1 :]:
                del position[u]
            del stack[i + 1 :]
        else:
            position[v] = len(stack)
            stack.append(v)
    out.append(stack)
    return [r for r in out if len(r) >= 3]


def _polygons(mesh: IsochroneMesh, rings: list[list[int]]) -> list[list[list[int]]]:
    """Rings grouped as polygons: a ring of positive area is an outer ring, one of negative area
    a hole in the smallest outer ring that holds it."""
    x, y = mesh.x, mesh.y
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
    outer_xy = [(x[np.asarray(ring)], y[np.asarray(ring)]) for _, ring in outers]
    boxes = np.array([(rx.min(), ry.min(), rx.max(), ry.max()) for rx, ry in outer_xy])
    for hole in holes:
        # A point just left of the hole's first edge lies in the area, so in its outer ring
        # (a hole's vertex may touch that ring).
        a, b = hole[0], hole[1]
        dx, dy = float(x[b] - x[a]), float(y[b] - y[a])
        norm = math.hypot(dx, dy) or 1.0
        hx = float(x[a] + x[b]) / 2 - dy / norm * 0.01
        hy = float(y[a] + y[b]) / 2 + dx / norm * 0.01
        in_box = (
            (boxes[:, 0] <= hx) & (hx <= boxes[:, 2]) & (boxes[:, 1] <= hy) & (hy <= boxes[:, 3])
        )
        for i in np.flatnonzero(in_box).tolist():  # smallest outer ring first
            if _inside(hx, hy, *outer_xy[i]):
                polygons[i].append(hole)
                break
    return polygons


def alpha_shape_rings(mesh: IsochroneMesh, reached: npt.NDArray[np.bool_], alpha_m: float) -> Any:
    """GeoJSON MultiPolygon coordinates of the kept triangles' union."""
    s = mesh.triangles
    keep = reached[s].all(axis=1) & (mesh.longest_side_m <= alpha_m)
    s = s[keep]
    if s.shape[0] == 0:
        return []
    n = int(mesh.x.shape[0])
    # Every directed edge of a kept triangle, with the triangle's third corner (left of it).
    directed = np.concatenate([s[:, [0, 1]], s[:, [1, 2]], s[:, [2, 0]]])
    corners = np.concatenate([s[:, 2], s[:, 0], s[:, 1]])
    keys = directed[:, 0] * n + directed[:, 1]
    order = np.argsort(keys)
    sorted_keys, sorted_corners = keys[order], corners[order]
    reverse = directed[:, 1] * n + directed[:, 0]
    pos = np.minimum(np.searchsorted(sorted_keys, reverse), sorted_keys.shape[0] - 1)
    boundary = directed[sorted_keys[pos] != reverse]
    unused = {(int(a), int(b)) for a, b in boundary.tolist()}

    def third(a: int, b: int) -> int:
        """The third corner of the kept triangle left of a -> b, or -1 when there is none."""
        k = a * n + b
        i = int(np.searchsorted(sorted_keys, k))
        return int(sorted_corners[i]) if i < sorted_keys.shape[0] and sorted_keys[i] == k else -1

    def next_boundary(prev: int, at: int) -> int:
        """After boundary edge prev -> at, the boundary edge leaving `at` around the same wedge.

        Turning through the kept triangles fanned around `at` (never across a gap) keeps each
        ring simple where two parts of the area touch at one vertex.
        """
        corner = third(prev, at)
        while (beyond := third(corner, at)) >= 0:
            corner = beyond
        return corner

    rings: list[list[int]] = []
    while unused:
        first = unused.pop()
        ring: list[int] = []
        edge = first
        while len(ring) <= len(boundary):  # bounded: a ring uses each boundary edge once
            ring.append(edge[0])
            edge = (edge[1], next_boundary(*edge))
            if edge == first:
                break
            unused.discard(edge)
        rings += _split_at_repeats(ring)
    polygons = _polygons(mesh, rings)

    def coords(ring: list[int]) -> list[list[float]]:
        pts = [[float(mesh.lon[i]), float(mesh.lat[i])] for i in ring]
        return [*pts, pts[0]]

    return [[coords(ring) for ring in polygon] for polygon in polygons]
