"""An admin imports a new road map from the dashboard: a background job with progress, confined
to the configured map directory, admin-only, refused with problem+json, and audited."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.bootstrap import create_app
from emsync.maps import RoadMapService
from emsync.routing import RoadMap, default_map_path
from tests.builders import auth_headers
from tests.conftest import make_settings


@pytest.fixture
def map_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "maps"
    (directory / "extracts").mkdir(parents=True)
    shutil.copyfile(default_map_path(), directory / "extracts" / "helsinki.osm.pbf")
    (directory / "notes.txt").write_text("not a map")
    (directory / "broken.osm.pbf").write_bytes(b"\x00\x00\x00\x0dnot a pbf at all")
    outside = tmp_path / "secret.osm.pbf"
    outside.write_bytes(b"not for admins to read")
    (directory / "escape.osm.pbf").symlink_to(outside)
    return directory


async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def import_client(
    database_url: str, tmp_path: Path, map_dir: Path, monaco: RoadMap
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app serving Monaco, with Helsinki in its map directory."""
    settings = make_settings(database_url, tmp_path / "data", map_import_dir=map_dir)
    application = create_app(settings)
    application.state.runtime.get(RoadMapService).use(monaco)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        async for client in _client(application):
            yield application, client


async def _finished(client: httpx.AsyncClient, job_id: str, headers: dict[str, str]) -> Any:
    """The job once it has left `running` (waits on that condition, bounded)."""
    for _ in range(6000):
        job = (await client.get(f"/api/map/imports/{job_id}", headers=headers)).json()
        if job["state"] != "running":
            return job
        assert 0 <= job["step"] <= job["steps"]
        await asyncio.sleep(0.02)
    raise AssertionError(f"map import {job_id} did not finish")


async def test_admin_imports_a_map_with_progress_and_the_process_switches_to_it(
    import_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = import_client
    admin = await auth_headers(app, client, Role.ADMIN)
    before = (await client.get("/api/map", headers=admin)).json()
    assert before["region"] == "monaco"
    helsinki = {"lat": 60.1699, "lon": 24.9384, "minutes": 2}
    off_map = await client.get("/api/map/isochrone", params=helsinki, headers=admin)
    assert off_map.status_code == 404
    files = (await client.get("/api/map/import-files", headers=admin)).json()
    # The symlink that leads out of the directory is not offered.
    assert files == {"enabled": True, "files": ["broken.osm.pbf", "extracts/helsinki.osm.pbf"]}

    started = await client.post(
        "/api/map/imports", json={"file": "extracts/helsinki.osm.pbf"}, headers=admin
    )
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["state"] == "running"
    assert job["steps"] == 8  # five road-graph stages, address index, basemap, switch
    # One at a time: a second import while the first runs is a conflict.
    again = await client.post(
        "/api/map/imports", json={"file": "extracts/helsinki.osm.pbf"}, headers=admin
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"

    done = await _finished(client, job["id"], admin)
    assert done["state"] == "done", done
    assert done["step"] == done["steps"]
    assert done["summary"]["nodes"] > 1000
    after = (await client.get("/api/map", headers=admin)).json()
    assert (after["region"], after["source_file"]) == ("helsinki", "helsinki.osm.pbf")
    listed = (await client.get("/api/map/imports", headers=admin)).json()
    assert [j["id"] for j in listed] == [job["id"]]
    # Routing follows: a Helsinki street is on the map now (it was off the Monaco map).
    iso = await client.get("/api/map/isochrone", params=helsinki, headers=admin)
    assert iso.status_code == 200, iso.text

    entries = (await client.get("/api/audit?limit=1000", headers=admin)).json()
    request = next(e for e in entries if e["action"] == "POST /api/map/imports")
    finished = next(e for e in entries if e["action"] == "map import finished")
    assert finished["outcome"] == "success"
    assert finished["actor"] == request["actor"]
    assert finished["actor_name"].startswith("admin")
    assert "extracts/helsinki.osm.pbf" in finished["target"]


async def test_a_failed_import_keeps_the_loaded_map_and_is_audited(
    import_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = import_client
    admin = await auth_headers(app, client, Role.ADMIN)
    started = await client.post("/api/map/imports", json={"file": "broken.osm.pbf"}, headers=admin)
    assert started.status_code == 202
    failed = await _finished(client, started.json()["id"], admin)
    assert failed["state"] == "failed"
    assert failed["error"]
    assert (await client.get("/api/map", headers=admin)).json()["region"] == "monaco"
    entries = (await client.get("/api/audit?action=map+import", headers=admin)).json()
    assert [e["outcome"] for e in entries] == ["failure:import"]


@pytest.mark.parametrize(
    ("file", "status", "says"),
    [
        ("../secret.osm.pbf", 422, "outside the map directory"),
        ("/etc/passwd.osm.pbf", 422, "outside the map directory"),
        ("escape.osm.pbf", 422, "outside the map directory"),  # a symlink out of it
        ("notes.txt", 422, ".osm.pbf"),
        ("missing.osm.pbf", 404, "no map file"),
    ],
)
async def test_map_import_is_confined_to_the_map_directory(
    import_client: tuple[FastAPI, httpx.AsyncClient], file: str, status: int, says: str
) -> None:
    app, client = import_client
    admin = await auth_headers(app, client, Role.ADMIN)
    refused = await client.post("/api/map/imports", json={"file": file}, headers=admin)
    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert says in refused.json()["detail"]
    assert (await client.get("/api/map/imports", headers=admin)).json() == []
    assert (await client.get("/api/map", headers=admin)).json()["region"] == "monaco"


async def test_only_admins_import_maps(import_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = import_client
    # The emergency manager may edit map layers (map:write) but not replace the road map.
    for role in (Role.EMERGENCY_MANAGER, Role.DISPATCHER, Role.AUDITOR):
        headers = await auth_headers(app, client, role)
        refused = await client.post(
            "/api/map/imports", json={"file": "extracts/helsinki.osm.pbf"}, headers=headers
        )
        assert refused.status_code == 403, role
        assert (await client.get("/api/map/import-files", headers=headers)).status_code == 403


async def test_without_a_map_directory_dashboard_imports_are_off(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    assert (await client.get("/api/map/import-files", headers=admin)).json() == {
        "enabled": False,
        "files": [],
    }
    refused = await client.post(
        "/api/map/imports", json={"file": "helsinki.osm.pbf"}, headers=admin
    )
    assert refused.status_code == 422
    assert "EMSYNC_MAP_IMPORT_DIR" in refused.json()["detail"]
