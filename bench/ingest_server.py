"""What bench/ingest.py reads off the server under test: its /metrics histograms (interpolated
quantiles between two scrapes), single samples and its CPU time (py-spy samples: bench/spy.py)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def buckets(port: int, name: str = "emsync_event_loop_lag_seconds") -> dict[float, float]:
    """Cumulative counts of one of the server's histograms (default: event-loop lag) by bound."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "_bucket{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            out[float(bound)] = float(line.rsplit(" ", 1)[1])
    return out


def quantiles(after: dict[float, float], before: dict[float, float]) -> tuple[Any, Any]:
    """p50 and p99 in ms of the observations between two scrapes, interpolated linearly within
    a bucket (as Prometheus' histogram_quantile does); None without observations."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    if not counts or counts[-1] <= 0:
        return None, None
    result = []
    for q in (0.5, 0.99):
        rank = q * counts[-1]
        lower, below = 0.0, 0.0
        for bound, count in zip(bounds, counts, strict=True):
            if count >= rank:
                if bound == float("inf"):
                    result.append(round(lower * 1000, 2))
                else:
                    share = (rank - below) / (count - below) if count > below else 1.0
                    result.append(round((lower + (bound - lower) * share) * 1000, 2))
                break
            lower, below = bound, count
    return result[0], result[1]


def metric(port: int, name: str) -> float | None:
    """One unlabelled sample of a process's /metrics, or None if it is not there (yet)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


async def connected(ports: list[int]) -> None:
    """Wait until every ingest process is connected to the broker (it subscribes right then)."""
    for port in ports:
        for _ in range(600):
            if metric(port, "emsync_telemetry_broker_connected") == 1:
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"ingest process on :{port} never connected")
    await asyncio.sleep(1)  # the subscription follows the connection
