"""Each intake worker's DBOS executor id: the same after a restart (DBOS recovers at launch the
workflows of its own id) and different for two workers on one host (their HTTP ports differ)."""

from __future__ import annotations

from pathlib import Path

from emsync.intake.workers import executor_id
from tests.conftest import make_settings

URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/scale"


def test_workers_on_one_host_get_distinct_stable_ids(tmp_path: Path) -> None:
    first = executor_id(make_settings(URL, tmp_path, port=8001))
    second = executor_id(make_settings(URL, tmp_path, port=8002))
    assert first != second
    assert executor_id(make_settings(URL, tmp_path, port=8001)) == first  # restarted


def test_a_configured_id_wins(tmp_path: Path) -> None:
    settings = make_settings(URL, tmp_path, port=8001, intake_engine={"executor_id": "ed-worker-a"})
    assert executor_id(settings) == "ed-worker-a"
