"""Routers behind a check of the path's head answer exactly as plain included routers do."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from starlette.routing import Match

from emsync.core.framework import (
    HeadGatedRouter,
    include_gated,
    route_heads,
    shared_gate,
)
from emsync.core.gate import path_head


def _app() -> tuple[FastAPI, HeadGatedRouter, HeadGatedRouter]:
    first = APIRouter(prefix="/api")

    @first.get("/alpha")
    async def alpha() -> dict[str, str]:
        return {"from": "alpha"}

    @first.post("/beta/{item}")
    async def beta(item: str) -> dict[str, str]:
        return {"from": "beta", "item": item}

    # A parameter in the first two segments: this router's paths cannot be listed.
    wildcard = APIRouter()

    @wildcard.get("/api/{kind}/items")
    async def items(kind: str) -> dict[str, str]:
        return {"from": "items", "kind": kind}

    app = FastAPI()
    gated_first, gated_wildcard = HeadGatedRouter(first), HeadGatedRouter(wildcard)
    app.include_router(gated_first)
    app.include_router(gated_wildcard)
    return app, gated_first, gated_wildcard


@pytest.mark.parametrize(
    ("path", "head"),
    [
        ("/api/incidents/4f2/patients", "/api/incidents"),
        ("/api/incidents", "/api/incidents"),
        ("/api/incidents/", "/api/incidents"),
        ("/health", "/health"),
        ("/", "/"),
    ],
)
def test_the_head_is_the_first_two_segments(path: str, head: str) -> None:
    assert path_head(path) == head


def test_a_router_is_not_tried_for_a_path_none_of_its_routes_can_have() -> None:
    _, first, wildcard = _app()
    assert first.heads == frozenset({"/api/alpha", "/api/beta"})
    assert wildcard.heads is None  # tried for every path, as without the gate
    scope = {"type": "http", "method": "GET", "path": "/api/gamma/1", "root_path": ""}
    assert first.matches(scope) == (Match.NONE, {})
    assert route_heads(APIRouter()) == frozenset()


async def test_answers_are_those_of_plain_routers() -> None:
    app, _, _ = _app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/api/alpha")).json() == {"from": "alpha"}
        beta = await client.post("/api/beta/7")
        assert beta.json() == {"from": "beta", "item": "7"}
        # The path is the router's, the method is not: still 405, not 404.
        assert (await client.get("/api/beta/7")).status_code == 405
        # A router whose heads cannot be listed is still reached.
        assert (await client.get("/api/alpha/items")).json() == {"from": "items", "kind": "alpha"}
        assert (await client.get("/api/gamma/items")).json() == {"from": "items", "kind": "gamma"}
        assert (await client.get("/api/gamma")).status_code == 404
        # A trailing slash still redirects to the route without it.
        redirect = await client.get("/api/alpha/")
        assert (redirect.status_code, redirect.headers["location"]) == (
            307,
            "http://testserver/api/alpha",
        )


def test_a_prefix_at_inclusion_is_refused() -> None:
    """The heads are the router's own paths; under a prefix no request would reach its routes."""
    router = APIRouter()

    @router.get("/alpha")
    async def alpha() -> dict[str, str]:
        return {}

    with pytest.raises(ValueError, match="no prefix"):
        include_gated(FastAPI(), [router], prefix="/api")


async def test_apps_sharing_a_routers_gate_each_answer_as_themselves() -> None:
    """A module-level router's gate is made once per process (its routes' dependency analysis
    with it) and included by every app: each app still answers with its own state, and
    documents the options it included the router with."""
    router = APIRouter()

    @router.get("/api/whoami")
    async def whoami(request: Request) -> dict[str, str]:
        return {"app": request.app.state.name}

    apps = []
    for name in ("first", "second"):
        app = FastAPI()
        app.state.name = name
        include_gated(app, [router], shared=True, responses={418: {"description": name}})
        apps.append(app)
    assert shared_gate(router) is shared_gate(router)
    for app in apps:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await client.get("/api/whoami")).json() == {"app": app.state.name}
        responses = app.openapi()["paths"]["/api/whoami"]["get"]["responses"]
        assert responses["418"]["description"] == app.state.name
