"""An agent's retry policy and its circuit breaker's state, as the intake engine runs them
(intake.engine) and the health view shows them (intake.api)."""

from __future__ import annotations

from typing import Any

from aiobreaker import CircuitBreaker, CircuitBreakerListener

from emsync.intake.metrics import CIRCUIT_LEVEL, IntakeMetrics


class Policy:
    def __init__(self, tries: int, first: float, rate: float, timeout: float) -> None:
        self.tries, self.first, self.rate, self.timeout = tries, first, rate, timeout

    def backoff(self, attempt: int) -> float:
        return float(self.first * self.rate**attempt)


class BreakerGauge(CircuitBreakerListener):  # type: ignore[misc]
    def __init__(self, metrics: IntakeMetrics, agent: str) -> None:
        self._gauge = metrics.circuit.labels(agent=agent)
        self._gauge.set(0)

    def state_change(self, breaker: Any, old: Any, new: Any) -> None:
        self._gauge.set(CIRCUIT_LEVEL.get(state_name(getattr(new, "state", new)), 0))


def state_name(state: Any) -> str:
    """closed, open or half-open, from aiobreaker's CircuitBreakerState."""
    return str(state.name).lower().replace("_", "-")


def circuit_of(breaker: CircuitBreaker) -> str:
    return state_name(breaker.current_state)
