"""The dashboard's client-side routes get index.html; every other unknown path, and every
method but GET, is a 404 problem (not the dashboard's page, not a 405)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from fastapi import FastAPI

from emsync.core.http import install_error_handlers
from emsync.web import SPA_ROUTES, SpaStaticFiles

APP_TSX = Path(__file__).resolve().parents[2] / "web" / "src" / "App.tsx"


def test_the_server_knows_every_top_level_route_of_the_dashboard() -> None:
    # Child routes (inside a <Route ...>...</Route> block) live under their parent's path: only
    # the routes at the outermost level that has paths are top-level (the layout route around
    # them has none); a <Route line not closed by "/>" opens a block.
    found_at: list[tuple[int, str]] = []
    depth = 0
    for line in APP_TSX.read_text(encoding="utf-8").splitlines():
        found = re.search(r'<Route\s+path="([^"*]+)"', line)
        if found:
            found_at.append((depth, found.group(1)))
        if line.strip().startswith("<Route") and not line.rstrip().endswith("/>"):
            depth += 1
        elif line.strip() == "</Route>":
            depth -= 1
    outer = min(d for d, _ in found_at)
    paths = [path for d, path in found_at if d == outer]
    firsts = {p.split("/", 1)[0] for p in paths}
    # /ack/<token> is matched before the router (App.tsx), so it is listed by hand.
    assert firsts | {"ack"} == SPA_ROUTES


def _app(tmp_path: Path) -> FastAPI:
    (tmp_path / "index.html").write_text("<!doctype html><title>EMsync</title>")
    (tmp_path / "app.js").write_text("console.log(1)")
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/api/known")
    async def known() -> dict[str, bool]:
        return {"ok": True}

    app.mount("/", SpaStaticFiles(directory=tmp_path, html=True), name="web")
    return app


async def test_unknown_paths_and_methods_are_404_problems(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=_app(tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for path in ("/dispatch/abc", "/hospital", "/emergency/shelters", "/", "/app.js"):
            page = await client.get(path)
            assert page.status_code == 200, path
        assert "EMsync" in (await client.get("/monitor/p1")).text
        for method, path in (
            ("GET", "/workflow/1"),
            ("GET", "/api/patients/1/vitals/history"),
            ("POST", "/emergency/triage"),
            ("POST", "/api/nothing"),
            ("DELETE", "/dispatch"),
            ("GET", "/missing.js"),
        ):
            response = await client.request(method, path)
            assert response.status_code == 404, (method, path, response.status_code)
            assert response.headers["content-type"] == "application/problem+json"
            assert path in response.json()["detail"]
        assert (await client.get("/api/known")).json() == {"ok": True}
