"""Settings section of hospital intake: the orchestrator's retries, timeouts and breakers."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, Field, model_validator


class IntakeEngineSettings(BaseModel):
    """The intake orchestrator (intake.engine): retries, timeouts and breakers per agent."""

    attempts: int = Field(default=3, ge=1, le=20, description="tries of an intake step")
    backoff_seconds: float = Field(
        default=1.0, ge=0, description="wait before an intake step's second try"
    )
    backoff_rate: float = Field(
        default=2.0, ge=1, description="each further retry of a step waits this many times longer"
    )
    # Emergency first: a non-clinical step runs beside the clinical ones, so it can afford to
    # wait out a failing service longer without delaying care.
    beside_attempts: int = Field(
        default=6, ge=1, le=50, description="tries of a non-clinical step of an emergency workflow"
    )
    # A cap, not a pool: past it, more steps at once only queue for SQLite's single writer (or
    # the pool) while their timeouts run; measured in docs/intake.md.
    concurrency: int = Field(
        default=8, ge=1, le=1000, description="clinical steps one worker runs at once"
    )
    beside_concurrency: int = Field(
        default=2,
        ge=1,
        le=1000,
        description="non-clinical steps of emergency workflows one worker runs at once "
        "(they yield to the clinical ones)",
    )
    timeout_seconds: float = Field(default=15.0, gt=0, description="longest run of one agent")
    agent_timeouts: dict[str, float] = Field(
        default_factory=dict, description="timeout per agent name, overriding timeout_seconds"
    )
    agent_attempts: dict[str, int] = Field(
        default_factory=dict, description="tries per agent name, overriding attempts"
    )
    breaker_failures: int = Field(
        default=5, ge=1, description="consecutive failures of an agent that open its circuit"
    )
    breaker_reset_seconds: float = Field(
        default=30.0, gt=0, description="an open circuit lets one trial call through after this"
    )
    poll_seconds: float = Field(
        default=2.0, gt=0, description="how often a worker looks for sessions other processes began"
    )
    system_database_url: str | None = Field(
        default=None,
        description="DBOS system database (workflow checkpoints); unset: beside the app's "
        "database (a `-workflows` SQLite file, or the same PostgreSQL database, schema dbos)",
    )
    executor_id: str | None = Field(
        default=None,
        description="this worker's name for workflow recovery; unset: `<host name>:<port>`, "
        "stable across restarts of one worker and distinct between workers on one host",
    )
    # Several workers on one PostgreSQL database (intake.workers): each records a heartbeat, and
    # a live worker takes over the unfinished runs of one whose heartbeat is older than this.
    worker_heartbeat_seconds: float = Field(
        default=5.0, gt=0, description="how often an intake worker records that it is alive"
    )
    worker_dead_after_seconds: float = Field(
        default=30.0,
        gt=0,
        description="an intake worker silent this long is dead: a live one takes over its "
        "unfinished runs (at least twice worker_heartbeat_seconds; keep it above clock skew "
        "between hosts)",
    )

    @model_validator(mode="after")
    def _heartbeats_fit(self) -> Self:
        # A worker declared dead while alive would have its runs taken over and run twice in
        # DBOS (the effects stay once, by their keys): leave room for a late heartbeat.
        if self.worker_dead_after_seconds < 2 * self.worker_heartbeat_seconds:
            raise ValueError(
                "intake_engine.worker_dead_after_seconds must be at least twice "
                "worker_heartbeat_seconds"
            )
        return self
