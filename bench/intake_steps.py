"""Process CPU of the intake runs' step transactions, alone: prints a JSON line.

    .venv/bin/python bench/intake_steps.py [--database sqlite|postgres] [--pairs 200] [--rounds 3]

One pair is what a failed try costs the app's database: `steps.advance` (the session locked, its
steps read, the next step claimed) and `steps.record_failure` (the same lock and read, the step
handed back, its agent-log row). No agent and no DBOS: the figure is the orchestrator's own
per-step transaction, which bench/intake.py's end-to-end CPU hides in the agents' work and
the machine's noise. Compare two versions by running each in turn.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from asgi_lifespan import LifespanManager
from tests.conftest import make_settings

from emsync.bootstrap import create_app
from emsync.core.runtime import Runtime
from emsync.intake import service, steps
from emsync.intake.workflows import StepStatus
from intake import database  # bench/intake.py: a fresh, migrated database


async def measure(kind: str, pairs: int, rounds: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="emsync-bench-intake-steps-") as tmp:
        folder = Path(tmp)
        async with database(kind, folder) as url:
            settings = make_settings(
                url, folder, notifications={"poll_seconds": 3600, "wake_on_page": False}
            )
            app = create_app(settings)
            async with LifespanManager(app):
                runtime = app.state.runtime
                async with runtime.sessions() as session:
                    row = (
                        await service.start_claimed(
                            session=session,
                            keyring=runtime.keyring,
                            workflow="emergency",
                            payload={"note": "bench"},
                            clinical={},
                            actor="bench",
                            hospital_id=None,
                            now=runtime.clock(),
                        )
                    ).row
                cpu = [await _round(runtime, row.id, pairs) for _ in range(rounds)]
    return {
        "bench": "intake.step_transactions",
        "database": kind,
        "pairs": pairs,
        "cpu_ms_per_pair": [round(c * 1000, 2) for c in cpu],
        "load_1min": round(os.getloadavg()[0], 2),
    }


async def _round(runtime: Runtime, session_id: str, pairs: int) -> float:
    sessions, keyring, clock = runtime.sessions, runtime.keyring, runtime.clock
    cpu0 = time.process_time()
    for n in range(pairs):
        # A run of its own per pair: the same run's next `advance` would find its failed try
        # and go to its retries (steps._in_retries), claiming nothing.
        run = f"b{n}#0"
        step = await steps.advance(sessions, keyring, session_id=session_id, run=run, now=clock())
        assert step.claim is not None
        await steps.record_failure(
            sessions,
            keyring,
            claim_=step.claim,
            agent_version="bench",
            outcome="failed",
            error="Bench",
            back_to=StepStatus.PENDING,
            started_at=clock(),
            duration_ms=1.0,
            now=clock(),
        )
    return (time.process_time() - cpu0) / pairs


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(await measure(args.database, args.pairs, args.rounds)))


if __name__ == "__main__":
    asyncio.run(main())
