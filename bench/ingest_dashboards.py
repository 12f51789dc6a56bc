"""bench/ingest.py --api-load's dashboards: a child process that seeds incidents, then runs
bench/api.py's load (incident list and get, authenticated) against the server under test."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def dashboards(port: int, token: str, seed_count: int, clients: int, seconds: float) -> None:
    """Child process: seed incidents, say so, then on a line from stdin run bench/api.py's
    dashboard load (incident list and get, authenticated) for `seconds` and print its figures."""
    from bench.api import load, seed

    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    ids = asyncio.run(seed(base, headers, seed_count))
    print("ready", flush=True)
    sys.stdin.readline()
    paths = [
        "/api/incidents?limit=50",
        "/api/incidents?limit=20&q=breath&priority=2",
        *(f"/api/incidents/{i}" for i in ids),
    ]
    # As many list requests as gets, as a dashboard does: lists first, then the ones opened.
    paths = paths[:2] * (len(ids) // 2) + paths[2:]
    print(json.dumps(asyncio.run(load(base, paths, headers, clients, seconds))), flush=True)


def start(
    port: int, token: str, seed_count: int, clients: int, seconds: float
) -> subprocess.Popen[str]:
    """The dashboards' process, once it has seeded (it waits for a line on stdin to go)."""
    proc = subprocess.Popen(
        [sys.executable, __file__, *map(str, (port, token, seed_count, clients, seconds))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


if __name__ == "__main__":
    dashboards(
        int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    )
