"""The eight intake agents, by name (`AGENTS`), and their contract (`base`).

Each agent module has a pure core (rules as data, decisions with their inputs) and an `Agent`
class whose `run` reads and writes through `AgentDeps`; every outbound effect is keyed by the
step's idempotency key.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from emsync.intake.agents.admission import AdmissionAgent
from emsync.intake.agents.base import (
    Agent,
    AgentDeps,
    Decision,
    StepInput,
    StepOutput,
)
from emsync.intake.agents.billing import BillingAgent
from emsync.intake.agents.communication import CommunicationAgent
from emsync.intake.agents.legal import LegalAgent
from emsync.intake.agents.medical_records import MedicalRecordsAgent
from emsync.intake.agents.scheduling import SchedulingAgent
from emsync.intake.agents.smart_health_device import SmartHealthDeviceAgent, emergency_check
from emsync.intake.agents.triage import TriageAgent

_ALL: tuple[Agent, ...] = (
    TriageAgent(),
    AdmissionAgent(),
    LegalAgent(),
    MedicalRecordsAgent(),
    SmartHealthDeviceAgent(),
    BillingAgent(),
    CommunicationAgent(),
    SchedulingAgent(),
)

AGENTS: Mapping[str, Agent] = MappingProxyType({a.name: a for a in _ALL})

__all__ = [
    "AGENTS",
    "Agent",
    "AgentDeps",
    "Decision",
    "StepInput",
    "StepOutput",
    "emergency_check",
]
