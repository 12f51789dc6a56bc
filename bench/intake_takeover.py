"""Intake takeover benchmark (several workers on PostgreSQL): prints one JSON line.

    .venv/bin/python bench/intake_takeover.py [--sessions 20]

Worker A (`emsync serve --role worker`, its session polling off: whatever it runs, it took over)
and worker B on one fresh PostgreSQL database; B begins every `emergency` session and is killed
with SIGKILL at its first finished step, never to come back. A notices B's silence (heartbeat
0.3 s, dead after 3 s) and takes over its runs. Reported: seconds from the kill to the takeover
(A's log) and to every step done, and each step's effects counted once in the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.intake import database  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.intake_kill import (  # noqa: E402
    api_only,
    begin_sessions,
    kill_hard,
    scale_worker,
    start_worker,
    steps_done,
    stop,
    tally,
    wait_all_begun,
    wait_for_heartbeat,
    wait_until,
)


def takeovers(log: Path) -> list[dict[str, Any]]:
    lines = (json.loads(line) for line in log.read_text().splitlines() if line.startswith("{"))
    return [line for line in lines if line.get("event") == "intake worker taken over"]


async def run(folder: Path, n: int) -> dict[str, Any]:
    async with (
        database("postgres", folder) as url,
        api_only(make_settings(url, folder)) as (app, client),
    ):
        runtime = app.state.runtime
        (env_a, id_a), (env_b, _id_b) = (
            scale_worker(url, folder / "a", poll=False),
            scale_worker(url, folder / "b"),
        )
        log_a, log_b = folder / "a.log", folder / "b.log"
        worker_a = start_worker(env_a, log_a)
        worker_b: subprocess.Popen[bytes] | None = None
        try:
            await wait_for_heartbeat(runtime, id_a, worker_a, log_a)
            _ed, ids = await begin_sessions(app, client, n)
            worker_b = start_worker(env_b, log_b)
            await wait_until(runtime, worker_b, steps=1, log=log_b, within=600)
            await wait_all_begun(runtime, worker_b, log=log_b)
            kill_hard(worker_b)
            killed, at_kill = time.time(), await steps_done(runtime)
            await wait_until(runtime, worker_a, steps=8 * n, log=log_a, within=1800)
            done = time.time()
        finally:
            for worker in (worker_a, worker_b):
                if worker is not None and worker.poll() is None:
                    stop(worker)
        counted = await tally(runtime, ids)
    taken = takeovers(log_a)
    first = datetime.fromisoformat(taken[0]["timestamp"]).timestamp() if taken else None
    return {
        "bench": "intake.takeover",
        "database": "postgres",
        "steps_done_at_kill": at_kill,
        "runs_taken_over": sum(int(t["runs"]) for t in taken),
        "kill_to_takeover_s": None if first is None else round(first - killed, 2),
        "kill_to_all_done_s": round(done - killed, 2),
        **counted.as_dict(),
        "exactly_once": counted.exactly_once,
        "load_1min": round(os.getloadavg()[0], 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="emsync-bench-takeover-") as tmp:
        print(json.dumps(await run(Path(tmp), args.sessions)), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
