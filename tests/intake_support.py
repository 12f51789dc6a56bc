"""Agents for testing the intake orchestrator on its own (the real agents have their own
tests): each records its runs, and can fail, hang or wait for a signal."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from emsync.intake.agents.base import AgentDeps, Decision, StepInput, StepOutput
from emsync.intake.workflows import NON_CLINICAL, WORKFLOWS


class AgentBroke(RuntimeError):
    """A poison agent's failure."""


@dataclass
class RecordingAgent:
    name: str
    clinical: bool
    version: str = "test-1"
    runs: Counter[str] = field(default_factory=Counter)
    # None: succeed. Set per test: raise, hang, or wait on an event first.
    behaviour: Callable[[StepInput], Awaitable[None]] | None = None

    async def run(self, step: StepInput, deps: AgentDeps) -> StepOutput:
        self.runs[str(step.session_id)] += 1
        if self.behaviour is not None:
            await self.behaviour(step)
        return StepOutput(
            outcome="done",
            output={"agent": self.name, "saw": sorted(step.previous)},
            decisions=[Decision(rule=f"{self.name}-rule", version="1", inputs={}, result="ok")],
        )


def recording_agents() -> dict[str, RecordingAgent]:
    names = {agent for steps in WORKFLOWS.values() for agent in steps}
    return {n: RecordingAgent(n, clinical=n not in NON_CLINICAL) for n in sorted(names)}


async def always_fail(_step: StepInput) -> None:
    raise AgentBroke("poison")


async def wait_for_session(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    session_id: str,
    until: Callable[[dict[str, Any]], bool],
    *,
    within: float = 60.0,
) -> dict[str, Any]:
    """Poll the session until `until` holds (waiting on a condition, not a fixed time)."""
    deadline = time.monotonic() + within
    while True:
        response = await client.get(f"/api/intake/workflow/{session_id}", headers=headers)
        body: dict[str, Any] = response.json()
        if until(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"session never reached the condition: {body}")
        await asyncio.sleep(0.02)


def statuses(body: dict[str, Any]) -> dict[str, str]:
    return {step["agent"]: step["status"] for step in body["steps"]}
