"""A try of an intake step is not a DBOS step of its own: when its run is replayed after a
crash, the step row alone says whether that try was made (and failed), is to be taken again
(it was running when the process died), or is someone else's."""

from __future__ import annotations

import pytest

from emsync.intake.models import IntakeStep
from emsync.intake.steps import already_tried
from emsync.intake.workflows import StepStatus

S = StepStatus
RUN = "intake:s1:billing:a0"


def step(status: StepStatus, claimed_by: str | None) -> IntakeStep:
    return IntakeStep(
        session_id="s1", agent="billing", position=5, clinical=False, status=status,
        attempts=1, claimed_by=claimed_by,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("status", "claimed_by", "run", "tried"),
    [
        # The try failed and its step waits again: a replay must not run it a second time.
        (S.QUEUED, f"{RUN}#0", f"{RUN}#0", True),
        (S.PENDING, "intake:s1#0", "intake:s1#0", True),
        # A later try of the same run was made (or is running): this one is long done.
        (S.QUEUED, f"{RUN}#2", f"{RUN}#1", True),
        (S.RUNNING, f"{RUN}#1", f"{RUN}#0", True),
        # The process died during this very try: it is taken again (its effects are keyed).
        (S.RUNNING, f"{RUN}#0", f"{RUN}#0", False),
        # The next try of the run, after a failed one.
        (S.QUEUED, f"{RUN}#0", f"{RUN}#1", False),
        # Never tried, or forced by a clinician (the claim is cleared), or another run's.
        (S.QUEUED, None, f"{RUN}#0", False),
        (S.QUEUED, "intake:s1:billing:a2#0", f"{RUN}#0", False),
        (S.PENDING, "intake:s1#3", "intake:s1:billing:a0#1", False),
    ],
)
def test_a_replayed_try_is_known_from_the_step_row(
    status: StepStatus, claimed_by: str | None, run: str, tried: bool
) -> None:
    assert already_tried(step(status, claimed_by), run) is tried
