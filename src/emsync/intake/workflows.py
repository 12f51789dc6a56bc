"""The four intake workflows and the rules of a run, as pure data and functions (no I/O).

The engine asks `next_step` what to do with a session's steps as they stand, and the override
rules here decide what a clinician may change; both are tested without a database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from emsync.core.errors import Conflict, ValidationFailed

# Exactly the seed's workflows, in the seed's order.
WORKFLOWS: Mapping[str, tuple[str, ...]] = {
    "emergency": (
        "triage",
        "admission",
        "legal",
        "medical_records",
        "smart_health_device",
        "billing",
        "communication",
        "scheduling",
    ),
    "regular": (
        "admission",
        "triage",
        "medical_records",
        "smart_health_device",
        "billing",
        "scheduling",
        "communication",
    ),
    "device_scan": ("smart_health_device", "medical_records", "communication"),
    "emergency_device": ("smart_health_device", "triage", "communication", "admission"),
}

# Where a non-clinical agent must never hold up the clinical ones.
EMERGENCY_FIRST = frozenset({"emergency", "emergency_device"})
NON_CLINICAL = frozenset({"legal", "billing", "scheduling", "communication"})
# The clinical steps whose completion the benchmark and the board time ("clinical done").
CLINICAL_PATH = frozenset({"triage", "admission", "medical_records"})


class StepStatus(StrEnum):
    PENDING = "pending"
    # Handed to its own durable run beside the session's (emergency-first, or forced).
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    NEEDS_REVIEW = "needs_review"
    DEAD_LETTER = "dead_letter"
    SKIPPED = "skipped"


S = StepStatus
FINISHED = frozenset({S.DONE, S.NEEDS_REVIEW, S.DEAD_LETTER, S.SKIPPED})
# What a clinician may do to a step in each state (a table, not a tangle of ifs).
OVERRIDABLE: Mapping[str, frozenset[StepStatus]] = {
    "skip": frozenset({S.PENDING, S.QUEUED, S.DEAD_LETTER}),
    # Forcing a step that asked for review runs it again (its effects are keyed: none doubles).
    "force": frozenset({S.PENDING, S.QUEUED, S.DEAD_LETTER, S.SKIPPED, S.NEEDS_REVIEW}),
}


class SessionStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    # Every step finished, but one dead-lettered or waits for a person's review.
    ATTENTION = "attention"


@dataclass(frozen=True, slots=True)
class StepState:
    agent: str
    position: int
    clinical: bool
    status: StepStatus


class Move(StrEnum):
    INLINE = "inline"  # run now, in the session's own run
    BESIDE = "beside"  # start its own run and go on without waiting
    FINISH = "finish"  # nothing left for the session's run to start


@dataclass(frozen=True, slots=True)
class NextStep:
    move: Move
    agent: str | None = None


def unknown_workflow(workflow: str) -> ValidationFailed:
    known = ", ".join(sorted(WORKFLOWS))
    return ValidationFailed(f"unknown workflow {workflow!r}; known workflows: {known}")


def plan(workflow: str, *, clinical: Mapping[str, bool]) -> list[StepState]:
    """The steps of a new session of `workflow`; `clinical` says which agents are clinical."""
    if workflow not in WORKFLOWS:
        raise unknown_workflow(workflow)
    return [
        StepState(agent, position, clinical.get(agent, agent not in NON_CLINICAL), S.PENDING)
        for position, agent in enumerate(WORKFLOWS[workflow])
    ]


def runs_beside(workflow: str, step: StepState) -> bool:
    """Emergency first: a non-clinical step of an emergency workflow never blocks the run."""
    return workflow in EMERGENCY_FIRST and not step.clinical


def next_step(workflow: str, steps: Sequence[StepState]) -> NextStep:
    """The session's run takes pending steps in order; a non-clinical one of an emergency
    workflow goes beside it. Queued or running steps belong to another run."""
    for step in sorted(steps, key=lambda s: s.position):
        if step.status is not S.PENDING:
            continue
        move = Move.BESIDE if runs_beside(workflow, step) else Move.INLINE
        return NextStep(move, step.agent)
    return NextStep(Move.FINISH)


def session_status(steps: Sequence[StepState]) -> SessionStatus:
    if any(step.status not in FINISHED for step in steps):
        return SessionStatus.RUNNING
    if any(step.status in {S.DEAD_LETTER, S.NEEDS_REVIEW} for step in steps):
        return SessionStatus.ATTENTION
    return SessionStatus.COMPLETED


def clinical_done(steps: Sequence[StepState]) -> bool:
    return all(step.status in FINISHED for step in steps if step.clinical)


def check_override(action: str, step: StepState) -> None:
    """Skip or force `step`, or say why not (Conflict)."""
    allowed = OVERRIDABLE[action]
    if step.status not in allowed:
        states = ", ".join(sorted(allowed))
        raise Conflict(
            f"cannot {action} the {step.agent} step while it is {step.status}; "
            f"it can be {'skipped' if action == 'skip' else 'forced'} when {states}"
        )


def reorder(steps: Sequence[StepState], order: Sequence[str]) -> list[StepState]:
    """Put the pending steps in `order` (exactly the pending steps, each once); the others
    keep their places. Positions of pending steps are reused, so finished ones stay put."""
    pending = sorted((s for s in steps if s.status is S.PENDING), key=lambda s: s.position)
    names = [s.agent for s in pending]
    if sorted(order) != sorted(names) or len(set(order)) != len(order):
        raise ValidationFailed(
            "order must list each pending step exactly once",
            pending=names,
        )
    slots = [s.position for s in pending]
    by_name = {s.agent: s for s in pending}
    moved = {agent: replace(by_name[agent], position=slots[i]) for i, agent in enumerate(order)}
    return [moved.get(s.agent, s) for s in steps]
