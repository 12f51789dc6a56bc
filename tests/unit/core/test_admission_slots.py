"""How many API requests a server process admits at a time follows what else runs on its event
loop: where its own MQTT ingest runs, fewer while readings come in; in an API-only process, the
configured number throughout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from emsync.bootstrap import create_app
from emsync.core.admission import Admission
from emsync.core.background import ProcessRole
from tests.conftest import make_settings


def _admission(app: FastAPI) -> dict[str, Any]:
    found = [m.kwargs for m in app.user_middleware if m.cls == Admission]  # type: ignore[comparison-overlap]
    assert len(found) == 1
    return {"slots": found[0]["slots"], "busy_slots": found[0]["busy_slots"]}


def _app(tmp_path: Path, roles: tuple[ProcessRole, ...], mqtt_host: str | None) -> FastAPI:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'emsync.db'}",
        tmp_path,
        http={"concurrent_requests": 6, "concurrent_requests_with_ingest": 2},
        mqtt={"host": mqtt_host},
    )
    return create_app(settings, roles=roles)


def test_a_process_that_ingests_telemetry_takes_fewer_while_readings_come_in(
    tmp_path: Path,
) -> None:
    busy = {"slots": 6, "busy_slots": 2}
    assert _admission(_app(tmp_path, tuple(ProcessRole), "127.0.0.1")) == busy
    assert _admission(_app(tmp_path, (ProcessRole.INGEST,), "127.0.0.1")) == busy


def test_a_process_without_the_ingest_admits_the_configured_number(tmp_path: Path) -> None:
    api_only = {"slots": 6, "busy_slots": None}
    assert (
        _admission(_app(tmp_path, (ProcessRole.API, ProcessRole.WORKER), "127.0.0.1")) == api_only
    )
    # The ingest role with no broker to read (no MQTT host): nothing shares the loop.
    assert _admission(_app(tmp_path, tuple(ProcessRole), None)) == api_only
