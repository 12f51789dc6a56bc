"""How EMsync's app uses FastAPI: the options it is made with, and its routers each behind a
check of the request path.

Route lookup. FastAPI (0.16x) keeps each included router nested and, for every request, asks
each router in turn to match the path against each of its routes, regex by regex, prefix or
not. A request for an incident tried the operations, docs and 17 auth routes first (115 us of a
one-row GET's ~1.4 ms of CPU, timing the match alone at load ~5); one for a supply, 21 routers'
routes (590 us, 120 us gated). Here each router sits behind a check of the path's first two
segments (its "head": `/api/incidents` of `/api/incidents/4f2...`) against the heads of the
router's own routes, a set look-up instead of a walk. A router with a route whose head is not
plain text (a parameter in the first two segments, a mount) is always tried, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope

from emsync.core.gate import flat_routes, path_head

# For FastAPI(...). The docs are the app's own page (core/docs.py: its CSP); no ReDoc. EMsync
# sets up no OpenTelemetry provider, yet FastAPI asked the global ones on every request whether
# one had been (about 10 us of a ~1.5 ms one-row GET at load ~7).
FASTAPI_OPTIONS: dict[str, Any] = {
    "docs_url": None,
    "redoc_url": None,
    "telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
}


def route_heads(router: APIRouter) -> frozenset[str] | None:
    """The heads of every route of the router (nested ones included), or None if some route's
    head cannot be known from its path."""
    heads = set()
    for route in flat_routes(router.routes):
        path = getattr(route, "path", None)
        if not isinstance(path, str) or not path.startswith("/"):
            return None
        head = path_head(path)
        if "{" in head:
            return None
        heads.add(head)
    return frozenset(heads)


class HeadGatedRouter(APIRouter):
    """One included router, tried only for paths whose head is one of its routes' heads."""

    def __init__(self, inner: APIRouter, **include: Any) -> None:
        super().__init__()
        self.include_router(inner, **include)
        self.heads = route_heads(inner)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        heads = self.heads
        if heads is not None and path_head(get_route_path(scope)) not in heads:
            return Match.NONE, {}
        return super().matches(scope)


# The gates of module-level routers, made once per process. Including a router walks every
# route of it with its effective context (FastAPI's check that no path is empty), and building
# a context is the route's whole dependency analysis: 0.5-0.8 s of CPU per app for EMsync's
# ~500 routes, paid by every app a process makes (the test suite makes one per storage test).
# The contexts are cached on the gate's inclusion of its router, so an app including the same
# gate finds them made. A gate holds nothing of an app, only the router (which lives as long
# as the process anyway); a router made per app (ops_router) gets a gate of its own.
_SHARED_GATES: dict[int, HeadGatedRouter] = {}
_SHARED_GATES_LOCK = threading.Lock()


def shared_gate(router: APIRouter) -> HeadGatedRouter:
    """The module-level router's HeadGatedRouter, the same one for every app of the process."""
    with _SHARED_GATES_LOCK:
        gate = _SHARED_GATES.get(id(router))
        if gate is None:
            # The gate keeps the router alive, so its id is never reused for another.
            gate = _SHARED_GATES[id(router)] = HeadGatedRouter(router)
        return gate


def include_gated(
    app: FastAPI, routers: Iterable[APIRouter], *, shared: bool = False, **include: Any
) -> None:
    """`app.include_router(router, **include)` for each, each behind its HeadGatedRouter;
    `shared` for module-level routers: their gates are made once per process."""
    if include.get("prefix"):
        # The heads are the router's own paths: under a prefix no request would match them.
        raise ValueError("include_gated takes no prefix: give the router its own")
    for router in routers:
        app.include_router(shared_gate(router) if shared else HeadGatedRouter(router), **include)


def _declared_security(dependant: Dependant) -> list[tuple[SecurityBase, list[str]]]:
    """The security schemes that dependencies of the tree declare as `security_schemes` (the
    permission guard, auth/deps.py), each with the OAuth scopes of its node, in the order
    FastAPI walks a tree (depth first, a node before its sub-dependencies)."""
    found: list[tuple[SecurityBase, list[str]]] = []
    stack = [dependant]
    while stack:
        node = stack.pop()
        schemes: tuple[SecurityBase, ...] = getattr(node.call, "security_schemes", ())
        if schemes:
            scopes = list(node.parent_oauth_scopes or [])
            scopes += [s for s in node.own_oauth_scopes or [] if s not in scopes]
            found.extend((scheme, scopes) for scheme in schemes)
        stack.extend(reversed(node.dependencies))
    return found


def document_guard_security(app: FastAPI, schema: dict[str, Any]) -> None:
    """Add to the OpenAPI `schema` the security requirements of dependencies that declare their
    schemes instead of depending on them (auth/deps.py, PermissionGuard: one dependency node
    per request instead of four): the same requirements and scheme definitions FastAPI writes
    for `Security(scheme, scopes=...)` sub-dependencies, merged per scheme as it merges them."""
    definitions = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    for route in flat_routes(app.routes):
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        declared = _declared_security(route.dependant)
        if not declared:
            continue
        operations = schema.get("paths", {}).get(route.path_format, {})
        for method in route.methods or ():
            operation = operations.get(method.lower())
            if operation is None:
                continue
            merged: dict[str, list[str]] = {}
            for requirement in operation.get("security", []):
                for name, scopes in requirement.items():
                    merged.setdefault(name, []).extend(scopes)
            for scheme, scopes in declared:
                definitions[scheme.scheme_name] = jsonable_encoder(
                    scheme.model, by_alias=True, exclude_none=True
                )
                have = merged.setdefault(scheme.scheme_name, [])
                have.extend(s for s in scopes if s not in have)
            operation["security"] = [{name: scopes} for name, scopes in merged.items()]
    if not definitions:
        del schema["components"]["securitySchemes"]
