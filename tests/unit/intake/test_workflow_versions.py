"""Which half-done DBOS runs an intake worker adopts after an upgrade (intake.workers): only the
versions it replays; and a guard that the durable workflow functions do not change without a
decision about WORKFLOW_VERSION."""

from __future__ import annotations

import hashlib
import inspect

import sqlalchemy as sa

from emsync.intake import engine
from emsync.intake.workers import REPLAYS, WORKFLOW_VERSION, _replayable

# The workflow functions' source for each version. When this test fails you changed them:
# if a run begun before your change takes other DBOS steps than after it (order, names, a
# DBOS.sleep more or less), bump WORKFLOW_VERSION and keep REPLAYS to it; if it replays fine,
# only record the new fingerprint under the same version.
FINGERPRINTS = {"intake-3": "67c46f1b2812b9d8"}


def fingerprint() -> str:
    durable = (
        engine.run_session,
        engine.run_beside,
        engine._drive,
    )
    sources = "\n".join(inspect.getsource(function) for function in durable)
    return hashlib.sha256(sources.encode()).hexdigest()[:16]


def adopted(*versions: str | None) -> list[str | None]:
    metadata = sa.MetaData()
    runs = sa.Table("runs", metadata, sa.Column("version", sa.Text, nullable=True))
    engine_ = sa.create_engine("sqlite://")
    with engine_.begin() as connection:
        metadata.create_all(connection)
        connection.execute(runs.insert(), [{"version": v} for v in versions])
        return list(
            connection.execute(
                sa.select(runs.c.version).where(_replayable(runs.c.version))
            ).scalars()
        )


def test_the_workflows_did_not_change_without_a_version_decision() -> None:
    assert fingerprint() == FINGERPRINTS[WORKFLOW_VERSION]


def test_the_current_version_and_intake_2_are_adopted() -> None:
    # intake-3 takes no DBOS step, so it meets none of an intake-2 run's checkpoints.
    assert REPLAYS == (WORKFLOW_VERSION, "intake-2")
    assert adopted(WORKFLOW_VERSION, "intake-2") == [WORKFLOW_VERSION, "intake-2"]


def test_older_runs_are_left_to_workers_of_their_version() -> None:
    # intake-1 and DBOS's hash versions took a DBOS step per try: this code cannot replay them.
    assert adopted("intake-1", "0c4b2f6a9d1e8f7a", None, "intake-4") == []
