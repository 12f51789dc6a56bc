"""Prometheus metrics of the intake agents, on the app's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Circuit state as a number a dashboard can plot: closed 0, half-open 1, open 2.
CIRCUIT_LEVEL = {"closed": 0, "half-open": 1, "open": 2}


class IntakeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = Counter(
            "emsync_intake_agent_runs_total",
            "Attempts of each intake agent by outcome: done, needs_review, failed, timeout, "
            "circuit_open.",
            ["agent", "outcome"],
            registry=registry,
        )
        self.failures = Counter(
            "emsync_intake_agent_failures_total",
            "Failed attempts of each intake agent (errors, timeouts, open circuit).",
            ["agent"],
            registry=registry,
        )
        self.latency = Histogram(
            "emsync_intake_agent_seconds",
            "Time of one attempt of each intake agent.",
            ["agent"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.circuit = Gauge(
            "emsync_intake_agent_circuit_state",
            "Circuit breaker of each intake agent: 0 closed, 1 half-open, 2 open.",
            ["agent"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "emsync_intake_dead_letters_total",
            "Intake steps that exhausted their tries (a person can force them again).",
            ["agent"],
            registry=registry,
        )
        self.takeovers = Counter(
            "emsync_intake_worker_takeovers_total",
            "Dead intake workers (silent past worker_dead_after_seconds) whose unfinished runs "
            "this worker took over.",
            registry=registry,
        )
        self.runs_taken_over = Counter(
            "emsync_intake_runs_taken_over_total",
            "Unfinished intake runs of dead workers (or of an older version) this worker "
            "queued again.",
            registry=registry,
        )
