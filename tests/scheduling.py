"""The order the two xdist workers take test files in (`make test-only`: `--dist loadfile`).

xdist hands out files most tests first, so the files of a few long tests (the schemathesis run,
the intake takeover and kill tests, the e2e walks) started last, where one worker left alone with
a long file is the suite's tail. Here the files go longest first by their measured wall time
(tests/durations.json), so the short files fill in at the end, and the tests of a few long files
are each a unit of their own, so both workers can take them (each sets up the file's module
fixtures).

The table is a measurement, not state the tests depend on: a stale or missing entry changes
only the order (a file not in it counts DEFAULT_TEST_SECONDS per test). Refresh it with a whole run:
`pytest -n 2 --dist loadfile --record-durations` (a partial run updates its own entries).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadFileScheduling
from xdist.workermanage import WorkerController

DURATIONS = Path(__file__).with_name("durations.json")

# Files whose tests are long and few: each test is its own unit, so the two workers share them.
SPREAD = frozenset(
    {
        "tests/api/core/test_schemathesis.py",
    }
)

# Most files not in the table are unit tests (milliseconds each); a long new file is measured
# at the next refresh.
DEFAULT_TEST_SECONDS = 0.5


def unit_of(nodeid: str) -> str:
    """The unit a test is handed out in: its file, or the test itself in a SPREAD file."""
    path = nodeid.split("::", 1)[0]
    return nodeid if path in SPREAD else path


def longest_first(
    units: Mapping[str, dict[str, bool]], seconds: Mapping[str, float]
) -> OrderedDict[str, dict[str, bool]]:
    """The units (each its tests) by expected seconds, longest first; ties keep their order."""
    return OrderedDict(
        sorted(
            units.items(),
            key=lambda unit: -seconds.get(unit[0], len(unit[1]) * DEFAULT_TEST_SECONDS),
        )
    )


class LongestFirst(LoadFileScheduling):  # type: ignore[misc]  # xdist ships no type hints
    """`--dist loadfile`, with the units ordered by their expected wall time, longest first."""

    workqueue: OrderedDict[str, dict[str, bool]]

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        super().__init__(config, log)
        self._seconds: dict[str, float] = (
            json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
        )
        self._ordered = False

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)

    def _assign_work_unit(self, node: WorkerController) -> None:
        # The first assignment comes after xdist has built the whole queue (in its own order).
        if not self._ordered:
            self.workqueue = longest_first(self.workqueue, self._seconds)
            self._ordered = True
        super()._assign_work_unit(node)


def make_scheduler(config: pytest.Config, log: Producer) -> LongestFirst | None:
    """The scheduler for `--dist loadfile`; xdist's own for any other mode."""
    return LongestFirst(config, log) if config.getvalue("dist") == "loadfile" else None


class DurationRecorder:
    """`--record-durations`: each unit's seconds (set-up, call and teardown of its tests, as the
    workers report them) merged into tests/durations.json at the end of the run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        unit = unit_of(report.nodeid)
        self.seconds[unit] = self.seconds.get(unit, 0.0) + report.duration

    def pytest_sessionfinish(self) -> None:
        table = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
        table.update({unit: round(s, 1) for unit, s in self.seconds.items()})
        ordered = dict(sorted(table.items(), key=lambda item: (-item[1], item[0])))
        DURATIONS.write_text(json.dumps(ordered, indent=0) + "\n")
