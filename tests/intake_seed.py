"""Run intake agents against a running server's database from outside it (the e2e walks start
the server as a subprocess): `python -m tests.intake_seed '<payload json>' agent ...` with the
server's environment prints each agent's output as one JSON line."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any
from uuid import uuid4

from emsync.bootstrap import build_runtime
from emsync.core.settings import Settings
from emsync.intake.agents import AGENTS, AgentDeps, StepInput


async def run(payload: dict[str, Any], agents: list[str]) -> dict[str, Any]:
    runtime = build_runtime(Settings())
    deps = AgentDeps.from_runtime(runtime)
    sid = uuid4()
    done: dict[str, Any] = {}
    try:
        for name in agents:
            step = StepInput(
                sid, "emergency", name, payload, dict(done), StepInput.key_for(sid, name)
            )
            done[name] = (await AGENTS[name].run(step, deps)).output
    finally:
        await runtime.engine.dispose()
    return done


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(json.loads(sys.argv[1]), sys.argv[2:])), default=str))
