"""The intake orchestrator's tables: sessions (one workflow run), their steps, the agent log
(one row per attempt) and overrides. Whatever may identify or describe the patient (the
session's input, a step's output and decisions, an override's reason) is sealed with the
master keyring; status, timing, agent names and rule versions stay in the clear for queries
and metrics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from emsync.core.db import Base


class IntakeSession(Base):
    __tablename__ = "intake_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workflow: Mapped[str] = mapped_column(String(30))
    # pending → running → completed | attention (a step dead-lettered or waits for review)
    status: Mapped[str] = mapped_column(String(20), index=True)
    # What started it, unique: "handoff:<id>" for an arrival, so a redelivered event starts
    # one session; None for a person's request.
    source_key: Mapped[str | None] = mapped_column(String(100), unique=True, default=None)
    hospital_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    actor: Mapped[str | None] = mapped_column(String(100), default=None)
    payload_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    # When the last clinical step finished (the emergency-first promise, measured per session).
    clinical_done_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime]


class IntakeStep(Base):
    __tablename__ = "intake_steps"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("intake_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    agent: Mapped[str] = mapped_column(String(30), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    clinical: Mapped[bool] = mapped_column(Boolean)
    # workflows.StepStatus
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The durable run and attempt holding the step ("<workflow id>#<n>"): after a crash the
    # same run takes it again; any other run leaves it alone.
    claimed_by: Mapped[str | None] = mapped_column(String(160), default=None)
    # Sealed JSON: {"output": ..., "decisions": [...]}.
    result_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    # The exception's class name only: a message may carry patient data.
    error: Mapped[str | None] = mapped_column(String(200), default=None)
    # Forced by a clinician: runs even after a dead letter or out of order.
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    duration_ms: Mapped[float | None] = mapped_column(default=None)
    updated_at: Mapped[datetime]


class IntakeAgentLog(Base):
    """One attempt of one agent on one session: inputs (sealed), output, rule versions,
    duration and outcome (the seed's `agent_logs`)."""

    __tablename__ = "intake_agent_logs"
    __table_args__ = (Index("ix_intake_agent_logs_agent", "agent", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("intake_sessions.id", ondelete="CASCADE"), index=True
    )
    agent: Mapped[str] = mapped_column(String(30))
    agent_version: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer)
    # done, needs_review, failed, timeout, circuit_open
    outcome: Mapped[str] = mapped_column(String(20))
    # "rule@version" of each decision: not personal, queryable.
    rules: Mapped[list[str]] = mapped_column(JSON, default=list)
    inputs_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    result_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    error: Mapped[str | None] = mapped_column(String(200), default=None)
    started_at: Mapped[datetime]
    duration_ms: Mapped[float]


class IntakeOverride(Base):
    """A clinician's skip, force or re-order of a running session's steps, with the reason."""

    __tablename__ = "intake_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("intake_sessions.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(10))  # skip, force, reorder
    agent: Mapped[str | None] = mapped_column(String(30), default=None)
    order: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    reason_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class IntakeWorker(Base):
    """A worker process that runs intake sessions (its DBOS executor id), with its heartbeat:
    a live worker takes over the unfinished runs of one silent past
    `intake_engine.worker_dead_after_seconds` (intake.workers)."""

    __tablename__ = "intake_workers"

    executor_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    # The live worker that last took over its runs, when, and how many runs in all.
    taken_over_by: Mapped[str | None] = mapped_column(String(200), default=None)
    taken_over_at: Mapped[datetime | None] = mapped_column(default=None)
    runs_taken_over: Mapped[int] = mapped_column(Integer, default=0)
    # Its unfinished durable runs (PENDING in DBOS) at its last heartbeat; 0 once taken over.
    runs_in_flight: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
