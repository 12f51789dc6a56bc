"""Configurable CORS: only the listed origins may call the API from a browser; none by default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from emsync.bootstrap import create_app
from tests.conftest import make_settings

ALLOWED = "https://dispatch.example.org"


async def _client(
    database_url: str, tmp_path: Path, **overrides: object
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(database_url, tmp_path, **overrides))
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def _preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }


async def test_listed_origin_may_call_the_api_and_others_may_not(
    database_url: str, tmp_path: Path
) -> None:
    async for client in _client(database_url, tmp_path, cors_origins=[ALLOWED]):
        ok = await client.options("/api/incidents", headers=_preflight(ALLOWED))
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == ALLOWED
        assert "authorization" in ok.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in ok.headers  # bearer tokens, no cookies
        other = await client.options("/api/incidents", headers=_preflight("https://evil.example"))
        assert "access-control-allow-origin" not in other.headers
        simple = await client.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in simple.headers


async def test_no_origin_is_allowed_by_default(database_url: str, tmp_path: Path) -> None:
    async for client in _client(database_url, tmp_path):
        response = await client.options("/api/incidents", headers=_preflight(ALLOWED))
        assert "access-control-allow-origin" not in response.headers
