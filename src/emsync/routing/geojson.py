"""GeoJSON for the dashboard's map: the road network inside a viewport (pure)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from emsync.core.errors import ValidationFailed
from emsync.routing.graph import RoadGraph
from emsync.routing.profile import RoadClass
from emsync.routing.snapping import canonical_edges

__all__ = ["MAX_ROAD_FEATURES", "road_features"]

MAX_ROAD_FEATURES = 5000


def road_features(
    graph: RoadGraph,
    bbox: tuple[float, float, float, float],
    *,
    limit: int = 2000,
    weights_ms: np.ndarray | None = None,
) -> dict[str, Any]:
    """Road segments touching `bbox` (min lon, min lat, max lon, max lat) as a FeatureCollection.

    At most `limit` features: when a viewport holds more, the most important roads (by class,
    then length) are kept and `truncated` says so, so a zoomed-out map shows the arteries.
    """
    west, south, east, north = bbox
    if not all(math.isfinite(v) for v in bbox) or west > east or south > north:
        raise ValidationFailed("bbox must be finite: min lon, min lat, max lon, max lat")
    if not -90 <= south <= north <= 90 or not -180 <= west <= east <= 180:
        raise ValidationFailed("bbox out of range")
    if not 1 <= limit <= MAX_ROAD_FEATURES:
        raise ValidationFailed(f"limit must be 1..{MAX_ROAD_FEATURES}")
    e = canonical_edges(graph)
    t, h = graph.tail[e], graph.head[e]
    lon_lo = np.minimum(graph.node_lon[t], graph.node_lon[h])
    lon_hi = np.maximum(graph.node_lon[t], graph.node_lon[h])
    lat_lo = np.minimum(graph.node_lat[t], graph.node_lat[h])
    lat_hi = np.maximum(graph.node_lat[t], graph.node_lat[h])
    inside = (lon_hi >= west) & (lon_lo <= east) & (lat_hi >= south) & (lat_lo <= north)
    e = e[inside]
    truncated = e.shape[0] > limit
    if truncated:
        rank = np.lexsort((-graph.length_m[e], graph.road_class[e]))
        e = e[rank[:limit]]
    weights = graph.time_ms if weights_ms is None else weights_ms
    features: list[dict[str, Any]] = []
    for edge in e.tolist():
        a, b = int(graph.tail[edge]), int(graph.head[edge])
        twin = int(graph.twin[edge])
        ms = int(weights[edge])
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "LineString",
                    "coordinates": [
                        [float(graph.node_lon[a]), float(graph.node_lat[a])],
                        [float(graph.node_lon[b]), float(graph.node_lat[b])],
                    ],
                },
                "properties": {
                    "edge": edge,
                    "way_id": int(graph.way_id[edge]),
                    "road_class": RoadClass(int(graph.road_class[edge])).label,
                    "oneway": twin < 0,
                    "speed_kmh": round(float(graph.length_m[edge]) / ms * 3600.0, 1)
                    if ms < 2**31 - 1
                    else 0.0,
                    "closed": ms >= 2**31 - 1,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features, "truncated": truncated}
