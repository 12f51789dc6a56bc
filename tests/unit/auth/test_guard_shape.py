"""The permission guard is one dependency node, documented in OpenAPI as FastAPI documents the
`Security(scheme, scopes=...)` sub-dependencies it used to have."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Security
from fastapi.routing import APIRoute

from emsync.auth.deps import PermissionGuard, api_key_scheme, oauth2_scheme, requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.framework import document_guard_security


def _route(app: FastAPI, path: str) -> APIRoute:
    return next(r for r in app.routes if isinstance(r, APIRoute) and r.path == path)


def test_the_guard_solves_as_one_node_without_sub_dependencies() -> None:
    app = FastAPI()

    @app.get("/things")
    async def things(_: Annotated[Principal, requires(Perm.INCIDENTS_READ)]) -> None:
        return None

    (guard,) = _route(app, "/things").dependant.dependencies
    assert isinstance(guard.call, PermissionGuard)
    # Each sub-dependency is a solve of its own on every request (auth/deps.py).
    assert guard.dependencies == []


def _with_sub_dependencies(perms: list[Perm]) -> dict[str, Any]:
    """What FastAPI writes for the guard's former shape: both schemes as sub-dependencies."""
    app = FastAPI()

    async def former(
        _bearer: Annotated[str | None, Security(oauth2_scheme)],
        _key: Annotated[str | None, Security(api_key_scheme)],
    ) -> None:
        return None

    dependencies = [Security(former, scopes=[p.value]) for p in perms]

    @app.get("/things/{thing}", dependencies=dependencies)
    async def thing(thing: str) -> None:
        return None

    return app.openapi()


def _declared(perms: list[Perm]) -> dict[str, Any]:
    app = FastAPI()
    dependencies = [requires(p) for p in perms]

    @app.get("/things/{thing}", dependencies=dependencies)
    async def thing(thing: str) -> None:
        return None

    schema = app.openapi()
    document_guard_security(app, schema)
    return schema


def test_openapi_shows_the_guards_schemes_and_scopes_as_sub_dependencies_showed_them() -> None:
    for perms in ([Perm.INCIDENTS_READ], [Perm.INCIDENTS_READ, Perm.HANDOFFS_WRITE]):
        assert _declared(perms) == _with_sub_dependencies(perms)
