"""Every route declares its permission; the few public ones are named here on purpose."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute

from emsync.auth.deps import PermissionGuard
from tests.app_routes import all_routes

PUBLIC_PATHS = {
    "/health",
    "/health/ready",
    "/metrics",
    "/api/auth/token",
    "/api/auth/refresh",
    "/api/auth/logout",
    # The dashboard's cookie session (issue #14) and the password rules its screens show.
    "/api/auth/session",
    "/api/auth/session/refresh",
    "/api/auth/session/logout",
    "/api/auth/password-policy",
    # Signed one-time acknowledgement links, and the SMS provider's signed callbacks.
    "/api/notifications/ack",
    "/api/notifications/sms/status",
    "/api/notifications/sms/inbound",
    "/docs",
    "/docs/oauth2-redirect",
    # Public alerts are for the public: the Atom feed of active alerts and each one's CAP XML.
    "/api/emergency/public/alerts.atom",
    "/api/emergency/public/alerts/{identifier}.xml",
}
# Served by FastAPI itself: the OpenAPI document and the interactive docs.
FRAMEWORK_PATHS = {"/openapi.json", "/docs", "/docs/oauth2-redirect"}


def _guards(dependant: Dependant) -> list[PermissionGuard]:
    found = [dependant.call] if isinstance(dependant.call, PermissionGuard) else []
    for sub in dependant.dependencies:
        found.extend(_guards(sub))
    return found


def test_every_route_has_a_permission_or_is_deliberately_public(app: FastAPI) -> None:
    unguarded = []
    routes = all_routes(list(app.routes))
    assert len(routes) > 20
    for route in routes:
        if isinstance(route, APIRoute):
            public = getattr(route.endpoint, "__emsync_public__", False)
            if public:
                assert route.path in PUBLIC_PATHS, f"{route.path} is marked public unexpectedly"
            elif not _guards(route.dependant):
                unguarded.append(f"{sorted(route.methods or ())} {route.path}")
        elif isinstance(route, APIWebSocketRoute):
            # WebSockets authenticate in their handshake and authorise per channel.
            continue
    assert unguarded == []


def test_public_list_matches_what_is_marked(app: FastAPI) -> None:
    marked = {
        r.path
        for r in all_routes(list(app.routes))
        if isinstance(r, APIRoute) and getattr(r.endpoint, "__emsync_public__", False)
    }
    assert marked == PUBLIC_PATHS


def test_openapi_shows_the_permission_as_a_security_requirement(app: FastAPI) -> None:
    schema: dict[str, Any] = app.openapi()
    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if path in PUBLIC_PATHS or path in FRAMEWORK_PATHS:
                continue
            scopes = [
                scope
                for requirement in operation.get("security", [])
                for scope in requirement.get("OAuth2PasswordBearer", [])
            ]
            if not scopes:
                missing.append(f"{method.upper()} {path}")
    assert missing == []
