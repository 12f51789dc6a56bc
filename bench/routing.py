"""Routing benchmark: CCH (routingkit-cch) against scipy Dijkstra on the same graph, same run.

    .venv/bin/python bench/routing.py [--map PATH ...] [--queries 1000] [--seed 42]

Without --map, every `*.osm.pbf` in ../shared/data/osm/ is measured. Each map runs in its own
child process (so peak memory is that map's) and prints ONE JSON line: nodes/edges, build time
(parse + graph + order + contraction + customization), cache load time, peak RSS, p50/p99 of
point-to-point and one-to-50 queries over `--queries` seeded random queries, scipy Dijkstra's
p50/p99 on the same queries, the speed-up ratios, and whether every distance matched.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from scipy.sparse.csgraph import dijkstra  # noqa: E402

from emsync.routing.map_store import load_road_map  # noqa: E402
from emsync.routing.snapping import LatLon  # noqa: E402

DEFAULT_DIR = Path(os.environ.get("EMSYNC_SHARED_DATA", ROOT.parent / "shared" / "data")) / "osm"


def _pct(values_ns: list[int], q: float) -> float:
    return float(np.percentile(np.asarray(values_ns, dtype=np.float64), q))


def measure(path: Path, queries: int, seed: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as cache:
        built = load_road_map(path, Path(cache))
        started = time.perf_counter()
        loaded = load_road_map(path, Path(cache))
        cache_load_s = time.perf_counter() - started
    assert loaded.from_cache
    engine = built.engine
    g = engine.graph
    rng = np.random.default_rng(seed)
    sources = rng.integers(0, g.node_count, queries)
    targets = rng.integers(0, g.node_count, queries)
    many = rng.integers(0, g.node_count, (queries, 50))

    p2p_ns: list[int] = []
    p2p: list[int | None] = []
    for s, t in zip(sources.tolist(), targets.tolist(), strict=True):
        t0 = time.perf_counter_ns()
        d = engine.node_time_ms(s, t)
        p2p_ns.append(time.perf_counter_ns() - t0)
        p2p.append(d)

    otm_ns: list[int] = []
    otm: list[list[int | None]] = []
    for s, ts in zip(sources.tolist(), many.tolist(), strict=True):
        t0 = time.perf_counter_ns()
        row = engine.node_times_ms(s, ts)
        otm_ns.append(time.perf_counter_ns() - t0)
        otm.append(row)

    csr = g.csr(engine.weights_ms)
    dij_ns: list[int] = []
    mismatches = 0
    for i, s in enumerate(sources.tolist()):
        t0 = time.perf_counter_ns()
        dist = dijkstra(csr, directed=True, indices=s)
        dij_ns.append(time.perf_counter_ns() - t0)
        mismatches += int(p2p[i] != dist[targets[i]])
        mismatches += int(otm[i] != [int(v) for v in dist[many[i]]])

    # Dispatch-shaped query: 200 unit positions (part-way along roads) to one incident; cold =
    # positions never seen before, warm = the same units again (snaps remembered).
    def positions(count: int) -> list[LatLon]:
        return [
            LatLon(float(g.node_lat[n]) + 1e-4, float(g.node_lon[n]) + 1e-4)
            for n in rng.integers(0, g.node_count, count).tolist()
        ]

    cold_ns: list[int] = []
    for _ in range(100):
        points = positions(201)
        t0 = time.perf_counter_ns()
        engine.travel_times_to(points[:200], points[200])
        cold_ns.append(time.perf_counter_ns() - t0)
    warm_ns: list[int] = []
    for _ in range(100):
        t0 = time.perf_counter_ns()
        engine.travel_times_to(points[:200], points[200])
        warm_ns.append(time.perf_counter_ns() - t0)

    # Road closures: close the segment nearest a random point, then reopen (partial updates).
    close_ns: list[int] = []
    for point in positions(100):
        t0 = time.perf_counter_ns()
        engine.close_road_at(point)
        close_ns.append(time.perf_counter_ns() - t0)
        engine.reopen_all()

    p50_p2p, p50_otm, p50_dij = _pct(p2p_ns, 50), _pct(otm_ns, 50), _pct(dij_ns, 50)
    return {
        "map": path.name,
        "nodes": g.node_count,
        "edges": g.edge_count,
        "build_s": round(built.load_s, 3),
        "cache_load_s": round(cache_load_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "queries": queries,
        "seed": seed,
        "p2p_us": {"p50": round(p50_p2p / 1e3, 1), "p99": round(_pct(p2p_ns, 99) / 1e3, 1)},
        "one_to_50_us": {"p50": round(p50_otm / 1e3, 1), "p99": round(_pct(otm_ns, 99) / 1e3, 1)},
        "dijkstra_us": {"p50": round(p50_dij / 1e3, 1), "p99": round(_pct(dij_ns, 99) / 1e3, 1)},
        "ratio_p2p": round(p50_dij / p50_p2p, 1),
        "ratio_one_to_50": round(p50_dij / p50_otm, 1),
        "units200_to_incident_ms": {
            "cold_p50": round(_pct(cold_ns, 50) / 1e6, 3),
            "cold_p99": round(_pct(cold_ns, 99) / 1e6, 3),
            "warm_p50": round(_pct(warm_ns, 50) / 1e6, 3),
            "warm_p99": round(_pct(warm_ns, 99) / 1e6, 3),
        },
        "closure_ms": {
            "p50": round(_pct(close_ns, 50) / 1e6, 3),
            "p99": round(_pct(close_ns, 99) / 1e6, 3),
        },
        "mismatches": mismatches,
        # Shared 2-core machines: wall-clock figures stretch with the load of other jobs.
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "targets": {"p2p_p50_us": 50, "one_to_50_p50_us": 500, "ratio": 100},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--map", type=Path, action="append", help="an .osm.pbf (repeatable)")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    maps: list[Path] = args.map or sorted(DEFAULT_DIR.glob("*.osm.pbf"))
    if not maps:
        print(f"no maps given and none in {DEFAULT_DIR}", file=sys.stderr)
        return 2
    if args.single:
        print(json.dumps(measure(maps[0], args.queries, args.seed)), flush=True)
        return 0
    status = 0
    for path in maps:
        cmd = [sys.executable, __file__, "--single", "--map", str(path)]
        cmd += ["--queries", str(args.queries), "--seed", str(args.seed)]
        status |= subprocess.run(cmd, check=False).returncode
    return status


if __name__ == "__main__":
    raise SystemExit(main())
