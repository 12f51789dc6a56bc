"""What the composition root builds for intake: its metrics and the engine (worker role)."""

from __future__ import annotations

from emsync.core.background import BackgroundService, ProcessRole
from emsync.core.runtime import Runtime
from emsync.intake.agents import AGENTS
from emsync.intake.engine import IntakeEngine
from emsync.intake.metrics import IntakeMetrics


def provide(runtime: Runtime) -> None:
    runtime.provide(IntakeMetrics(runtime.metrics.registry))
    runtime.provide(IntakeEngine(runtime, AGENTS))


def background_services(runtime: Runtime) -> list[tuple[ProcessRole, BackgroundService]]:
    return [(ProcessRole.WORKER, runtime.get(IntakeEngine))]
