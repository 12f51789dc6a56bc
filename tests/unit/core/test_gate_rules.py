"""The request gate finds a request's special route (public, or its own body limit) among the
routes of the request's path head only, with the same answer as trying every one in order."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from emsync.auth.deps import public
from emsync.core.errors import Unauthorized
from emsync.core.gate import RequestGate, body_limit, flat_routes
from emsync.core.settings import Settings


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/api/auth/token")
    @public
    async def token() -> dict[str, str]:
        return {"ok": "token"}

    @app.post("/api/files/{item}/upload")
    @body_limit(10)
    async def upload(item: str) -> dict[str, str]:
        return {"ok": item}

    @app.post("/api/files/{item}")
    async def plain(item: str) -> dict[str, str]:
        return {"ok": item}

    # A GET can never be the special route of a request with a body, though its path matches.
    @app.get("/api/open/{item}")
    @public
    async def open_get(item: str) -> dict[str, str]:
        return {"ok": item}

    @app.post("/api/open/{item}")
    async def open_post(item: str) -> dict[str, str]:
        return {"ok": item}

    # A head that is a parameter: tried for every path, in its place in the order.
    @app.post("/{tenant}/api/ping")
    @body_limit(5)
    async def tenant_ping(tenant: str) -> dict[str, str]:
        return {"ok": tenant}

    return app


async def _refuse(_scope: Scope) -> Any:
    raise Unauthorized("no credentials")


async def _respond(
    scope: Scope, receive: Receive, send: Send, status: int, title: str, detail: str
) -> None:
    await JSONResponse({"title": title}, status_code=status)(scope, receive, send)


def _gated(app: FastAPI) -> RequestGate:
    return RequestGate(
        app,
        routes=lambda: flat_routes(app.routes),
        default_limit=1_000,
        authenticate=_refuse,
        respond=_respond,
        settings=Settings.model_validate({"env": "test"}),
    )


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/auth/token", b"{}", 200),  # public: no credentials needed
        ("/api/files/a/upload", b"x" * 11, 413),  # its own limit
        ("/api/files/a/upload", b"x" * 10, 401),  # within it: then authenticated
        ("/api/files/a", b"x" * 11, 401),  # the default limit, and authenticated
        ("/api/open/a", b"{}", 401),  # the public GET is not this POST's route
        ("/acme/api/ping", b"x" * 6, 413),  # the parameter head's limit
        ("/api/ping/x", b"x" * 6, 401),
    ],
)
async def test_the_gate_applies_the_special_route_of_the_path(
    path: str, body: bytes, status: int
) -> None:
    transport = httpx.ASGITransport(app=_gated(_app()))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post(path, content=body)
    assert response.status_code == status, response.text


async def test_only_the_rules_of_the_head_are_tried() -> None:
    gate = _gated(_app())
    rules = gate._special()
    heads = {h: [getattr(r.route, "path", "") for r in rs] for h, rs in rules.by_head.items()}
    # The GET is not kept; the parameter head's route is kept apart (tried for every path).
    assert heads == {"/api/auth": ["/api/auth/token"], "/api/files": ["/api/files/{item}/upload"]}
    assert [getattr(r.route, "path", "") for h, r in rules.ordered if h is None] == [
        "/{tenant}/api/ping"
    ]
