"""Dispatch benchmark: a unit recommendation for an incident among 200 units, end to end in the
service (incident read, unit read, snapping, one many-to-one CCH query, ranking with reasons),
against the same recommendation with scipy Dijkstra for the road times, in the same run.

    .venv/bin/python bench/dispatch.py [--map PATH] [--units 200] [--repeats 300] [--seed 7]

Default map: ../shared/data/osm/monaco.osm.pbf. SQLite in a temporary folder. The reads use the
read-only session kind, as the route does. Prints ONE JSON line: p50/p99 of each, the ratio
Dijkstra/CCH, and whether both put the same unit first.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from scipy.sparse.csgraph import dijkstra  # noqa: E402

from emsync.bootstrap import build_runtime  # noqa: E402
from emsync.core import migrate  # noqa: E402
from emsync.core.settings import Settings  # noqa: E402
from emsync.core.uow import UnitOfWork  # noqa: E402
from emsync.dispatch import recommendation, service  # noqa: E402
from emsync.dispatch.ranking import UnitType, rank_rows  # noqa: E402
from emsync.dispatch.schemas import UnitCreate  # noqa: E402
from emsync.incidents import service as incidents_service  # noqa: E402
from emsync.incidents.schemas import IncidentCreate  # noqa: E402
from emsync.routing import RoutingEngine, load_road_map  # noqa: E402

DEFAULT_MAP = (
    Path(os.environ.get("EMSYNC_SHARED_DATA", ROOT.parent / "shared" / "data"))
    / "osm"
    / "monaco.osm.pbf"
)


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000.0, 3)  # ms


class DijkstraEngine:
    """The routing engine with its road-time query swapped for one scipy Dijkstra from the
    incident's nearest node on the reversed graph (units also start from their nearest node):
    the service runs exactly the same code around it, so the ratio is the road-time engine's."""

    def __init__(self, engine: RoutingEngine) -> None:
        self.engine = engine
        self.reverse = engine.graph.csr(engine.weights_ms).T.tocsr()
        self.snap = engine.snap
        self.locate = engine.locate
        self.off_map_reason = engine.off_map_reason

    def travel_times_to_snapped(self, origins: Any, destination: Any) -> Any:
        g = self.engine.graph
        target = int(
            g.head[destination.edge] if destination.fraction >= 0.5 else g.tail[destination.edge]
        )
        dist = dijkstra(self.reverse, directed=True, indices=target) / 1000.0
        out = np.full(origins.edge.shape[0], math.inf)
        ok = origins.found
        edge, frac = origins.edge[ok], origins.fraction[ok]
        out[ok] = dist[np.where(frac >= 0.5, g.head[edge], g.tail[edge])]
        return out


async def run(args: argparse.Namespace, tmp: Path, url: str) -> dict[str, Any]:
    road_map = load_road_map(args.map, tmp / "cache")
    engine = road_map.engine
    settings = Settings.model_validate(
        {
            "env": "test",
            "data_dir": tmp,
            "log_level": "WARNING",
            "database": {"url": url},
            "auth": {"secret_key": "x" * 48},
            "security": {"master_keys": json.dumps({"1": base64.b64encode(b"b" * 32).decode()})},
        }
    )
    runtime = build_runtime(settings)
    rng = np.random.default_rng(args.seed)
    g = engine.graph
    picks = rng.choice(g.node_count, size=args.units + 1, replace=False)
    now = runtime.clock()
    async with runtime.sessions() as session:
        uow = UnitOfWork(session, runtime.bus)
        for n, node in enumerate(picks[1:]):
            await service.create_unit(
                uow=uow,
                data=UnitCreate(
                    call_sign=f"U{n:03d}",
                    unit_type=UnitType.ALS if n % 3 else UnitType.BLS,
                    station_lat=float(g.node_lat[node]),
                    station_lon=float(g.node_lon[node]),
                ),
                actor="bench",
                now=now,
            )
        incident = await incidents_service.create_incident(
            uow=uow,
            keyring=runtime.keyring,
            data=IncidentCreate(
                chief_complaint="cardiac arrest",
                priority=1,
                lat=float(g.node_lat[picks[0]]),
                lon=float(g.node_lon[picks[0]]),
                callback_number=None,
            ),
            actor="bench",
            now=now,
        )
    baseline = DijkstraEngine(engine)

    async def cch_once() -> Any:
        async with runtime.read_sessions() as session:
            return await recommendation.recommend(
                session=session, keyring=runtime.keyring, engine=engine, incident_id=incident.id
            )

    async def dijkstra_once() -> Any:
        async with runtime.read_sessions() as session:
            return await recommendation.recommend(
                session=session, keyring=runtime.keyring, engine=baseline, incident_id=incident.id
            )

    async def parts_once() -> tuple[float, ...]:
        """The service's steps, timed one by one: the database read (session included), road
        times (one snap per position, one many-to-one query), the ranking rules, the response."""
        async with runtime.read_sessions() as session:
            ranking = await recommendation.rank_incident(
                session=session, engine=engine, incident_id=incident.id
            )
        t0 = time.perf_counter()
        async with runtime.read_sessions() as session:
            rows = (
                await session.execute(recommendation._SITE_AND_UNITS, {"incident_id": incident.id})
            ).all()
        t_db = time.perf_counter() - t0
        del rows
        units = ranking.units
        available = np.flatnonzero(np.array(units.status, dtype=object) == "available")
        lat = np.array([g.node_lat[n] for n in picks[1:]])[available]
        lon = np.array([g.node_lon[n] for n in picks[1:]])[available]
        t0 = time.perf_counter()
        destination = engine.snap(ranking.site.position)
        engine.travel_times_to_snapped(engine.locate(lat, lon), destination)
        t_road = time.perf_counter() - t0
        t0 = time.perf_counter()
        rank_rows(units, urgency=ranking.site.urgency)
        t_rank = time.perf_counter() - t0
        t0 = time.perf_counter()
        recommendation.recommendation_read(ranking)
        t_response = time.perf_counter() - t0
        return t_db, t_road, t_rank, t_response

    for _ in range(20):  # warm the connection pool, the engine's query objects, imports
        await cch_once()
        await dijkstra_once()
    cch_s: list[float] = []
    cch_cpu: list[float] = []
    dij_s: list[float] = []
    parts: list[tuple[float, ...]] = []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        cch = await cch_once()
        cch_s.append(time.perf_counter() - t0)
        cch_cpu.append(time.process_time() - c0)
        t0 = time.perf_counter()
        dij = await dijkstra_once()
        dij_s.append(time.perf_counter() - t0)
        parts.append(await parts_once())
    await runtime.engine.dispose()
    p50, dp50 = _pct(cch_s, 50), _pct(dij_s, 50)
    best_dij = dij.ranked[0].call_sign if dij.ranked else None
    return {
        "bench": "dispatch_recommendation",
        "map": Path(args.map).name,
        "nodes": g.node_count,
        "units": args.units,
        "repeats": args.repeats,
        "database": "sqlite",
        "ranked": len(cch.ranked),
        "excluded": len(cch.excluded),
        "p50_ms": p50,
        "p99_ms": _pct(cch_s, 99),
        # This process's CPU (all threads) per recommendation: what other work on a shared
        # machine moves much less than the latencies.
        "cpu_ms_per_recommendation": round(sum(cch_cpu) * 1000 / len(cch_cpu), 3),
        "parts_p50_ms": {
            name: _pct([p[k] for p in parts], 50)
            for k, name in enumerate(("database", "road_times_cch", "ranking", "response"))
        },
        "load_average_1min": round(os.getloadavg()[0], 2),
        "baseline": "same service call; road times: scipy Dijkstra, reversed graph, nearest node",
        "baseline_p50_ms": dp50,
        "baseline_p99_ms": _pct(dij_s, 99),
        "ratio_p50": round(dp50 / p50, 2) if p50 > 0 else math.inf,
        "same_first_unit": (cch.ranked[0].call_sign if cch.ranked else None) == best_dij,
        "target_p50_ms": 5.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--map", type=Path, default=DEFAULT_MAP)
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="emsync-bench-dispatch-"))
    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    migrate.upgrade(url)
    print(json.dumps(asyncio.run(run(args, tmp, url))))


if __name__ == "__main__":
    main()
