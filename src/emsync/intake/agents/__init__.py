"""The eight intake agents, by name (`AGENTS`), and their contract (`base`).

Each agent module has a pure core (rules as data, decisions with their inputs) and an `Agent`
class whose `run` reads and writes through `AgentDeps`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from emsync.intake.agents.base import (
    Agent,
    AgentDeps,
    Decision,
    StepInput,
    StepOutput,
)

# Filled as each agent lands; the orchestrator looks agents up here by name.
_AGENTS: dict[str, Agent] = {}

AGENTS: Mapping[str, Agent] = MappingProxyType(_AGENTS)

__all__ = ["AGENTS", "Agent", "AgentDeps", "Decision", "StepInput", "StepOutput"]
