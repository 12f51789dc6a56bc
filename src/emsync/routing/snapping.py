"""Snapping coordinates onto the nearest road segment with a KD-tree (pure)."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from emsync.core.errors import NotFound, ValidationFailed
from emsync.routing.graph import EARTH_RADIUS_M, RoadGraph

__all__ = ["LatLon", "LocalProjection", "SnapIndex", "SnapPoint", "Snaps", "canonical_edges"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
SAMPLE_SPACING_M = 20.0  # a point lies within 10 m of a sample of its nearest segment
CANDIDATES = 8
RECENT_SNAPS = 8192


@dataclass(frozen=True, slots=True)
class LatLon:
    """A WGS84 position in degrees."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat) and math.isfinite(self.lon)):
            raise ValidationFailed("coordinates must be finite numbers")
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise ValidationFailed(
                f"coordinates out of range: lat {self.lat} (-90..90), lon {self.lon} (-180..180)"
            )


@dataclass(frozen=True, slots=True)
class SnapPoint:
    """A position on a road: `fraction` of the way along canonical edge `edge`."""

    edge: int
    fraction: float
    lat: float
    lon: float
    distance_m: float  # from the requested position


@dataclass(frozen=True, slots=True)
class Snaps:
    """Positions snapped in bulk, as arrays; where `found` is False no road is within range
    (edge -1, fraction and distance NaN there), so one far position does not fail the rest."""

    edge: I64
    fraction: F64
    distance_m: F64
    found: npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """Equirectangular metres around the map's mean latitude (errors < 0.1 % within 100 km)."""

    lat0: float

    def xy(self, lat: F64, lon: F64) -> tuple[F64, F64]:
        scale = math.cos(math.radians(self.lat0)) * EARTH_RADIUS_M
        x: F64 = np.radians(lon) * scale
        y: F64 = np.radians(lat) * EARTH_RADIUS_M
        return x, y


def canonical_edges(graph: RoadGraph) -> npt.NDArray[np.int64]:
    """One directed edge per road segment: the lower id of a two-way pair, every one-way edge."""
    ids = np.arange(graph.edge_count, dtype=np.int64)
    return ids[(graph.twin < 0) | (ids < graph.twin)]


class SnapIndex:
    """KD-tree over points every 20 m along every segment; exact projection on candidates."""

    def __init__(self, graph: RoadGraph, max_distance_m: float = 1000.0) -> None:
        self._graph = graph
        self.max_distance_m = max_distance_m
        self.projection = LocalProjection(float(np.mean(graph.node_lat)))
        self._x, self._y = self.projection.xy(graph.node_lat, graph.node_lon)
        edges = canonical_edges(graph)
        pieces = np.maximum(1, np.ceil(graph.length_m[edges] / SAMPLE_SPACING_M)).astype(np.int64)
        sample_edge = np.repeat(edges, pieces + 1)
        starts = np.repeat(np.cumsum(pieces + 1) - (pieces + 1), pieces + 1)
        step = np.arange(sample_edge.shape[0]) - starts
        frac = step / np.repeat(pieces, pieces + 1)
        t, h = graph.tail[sample_edge], graph.head[sample_edge]
        sx = self._x[t] + frac * (self._x[h] - self._x[t])
        sy = self._y[t] + frac * (self._y[h] - self._y[t])
        self._sample_edge = sample_edge
        self._tree = cKDTree(np.column_stack([sx, sy]))
        self._recent: dict[tuple[float, float], tuple[int, float, float]] = {}
        self._recent_lock = threading.Lock()

    def far_message(self, lat: float, lon: float) -> str:
        """Why a position could not be snapped (the NotFound detail)."""
        return f"no road within {self.max_distance_m:.0f} m of ({lat:.6f}, {lon:.6f})"

    def locate(self, lat: F64, lon: F64) -> Snaps:
        """Each position's nearest road point, never raising: see `Snaps.found`.

        Recent answers are remembered: units mostly stand still (at stations, on scene), so
        the same positions are snapped again and again.
        """
        count = lat.shape[0]
        edge = np.full(count, -1, dtype=np.int64)
        frac = np.full(count, np.nan)
        dist = np.full(count, np.nan)
        keys = list(zip(lat.tolist(), lon.tolist(), strict=True))
        recent = self._recent
        hits = [recent.get(key) for key in keys]
        missing = [i for i, hit in enumerate(hits) if hit is None]
        if len(missing) < count:
            found_rows = [i for i, hit in enumerate(hits) if hit is not None]
            cached = np.array([hits[i] for i in found_rows])
            edge[found_rows] = cached[:, 0].astype(np.int64)
            frac[found_rows], dist[found_rows] = cached[:, 1], cached[:, 2]
        if missing:
            rows = np.asarray(missing)
            e, f, d = self._snap_new(lat[rows], lon[rows])
            near = d <= self.max_distance_m
            edge[rows[near]], frac[rows[near]], dist[rows[near]] = e[near], f[near], d[near]
            with self._recent_lock:
                for i, values in zip(
                    rows[near].tolist(),
                    zip(e[near].tolist(), f[near].tolist(), d[near].tolist(), strict=True),
                    strict=True,
                ):
                    recent[keys[i]] = values
                while len(recent) > RECENT_SNAPS:
                    del recent[next(iter(recent))]
        return Snaps(edge, frac, dist, edge >= 0)

    def snap_arrays(self, lat: F64, lon: F64) -> tuple[I64, F64, F64]:
        """(canonical edge, fraction along it, distance in m) per position; NotFound when far."""
        snaps = self.locate(lat, lon)
        far = np.flatnonzero(~snaps.found)
        if far.size:
            i = int(far[0])
            raise NotFound(self.far_message(float(lat[i]), float(lon[i])))
        return snaps.edge, snaps.fraction, snaps.distance_m

    def _snap_new(self, lat: F64, lon: F64) -> tuple[I64, F64, F64]:
        """Nearest road point per position, however far (the caller applies the limit)."""
        g = self._graph
        px, py = self.projection.xy(lat, lon)
        k = min(CANDIDATES, self._sample_edge.shape[0])
        _, idx = self._tree.query(np.column_stack([px, py]), k=k)
        cand = self._sample_edge[np.asarray(idx).reshape(lat.shape[0], k)]
        t, h = g.tail[cand], g.head[cand]
        ax, ay = self._x[t], self._y[t]
        dx, dy = self._x[h] - ax, self._y[h] - ay
        seg2 = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.where(seg2 > 0, ((px[:, None] - ax) * dx + (py[:, None] - ay) * dy) / seg2, 0.0)
        f = np.clip(f, 0.0, 1.0)
        dist = np.hypot(ax + f * dx - px[:, None], ay + f * dy - py[:, None])
        best = np.argmin(dist, axis=1)
        rows = np.arange(lat.shape[0])
        return cand[rows, best].astype(np.int64), f[rows, best], dist[rows, best]

    def snap_many(self, points: list[LatLon]) -> list[SnapPoint]:
        """Each point's nearest position on a road; NotFound when none is within range."""
        if not points:
            return []
        g = self._graph
        edge, frac, dist = self.snap_arrays(
            np.array([p.lat for p in points]), np.array([p.lon for p in points])
        )
        a, b = g.tail[edge], g.head[edge]
        lat = g.node_lat[a] + frac * (g.node_lat[b] - g.node_lat[a])
        lon = g.node_lon[a] + frac * (g.node_lon[b] - g.node_lon[a])
        return [
            SnapPoint(e, f, la, lo, d)
            for e, f, la, lo, d in zip(
                edge.tolist(), frac.tolist(), lat.tolist(), lon.tolist(), dist.tolist(), strict=True
            )
        ]

    def snap(self, point: LatLon) -> SnapPoint:
        return self.snap_many([point])[0]
