"""HTTP edge: RFC 9457 problem responses, request ids, access logs, metrics and the audit hook."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emsync.core.errors import DomainError
from emsync.core.framework import document_guard_security
from emsync.core.headers import add_security_headers
from emsync.core.metrics import Metrics

log = structlog.get_logger("emsync.http")

PROBLEM_JSON = "application/problem+json"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
_ID_BYTES = 16
_IDS_PER_DRAW = 256


class RequestIds:
    """Random request ids (32 hex digits, as `uuid4().hex` gave), drawn from the system in bulk.

    `uuid4` makes an `os.urandom` call per request, and os.urandom releases the GIL: each
    request handed it to the MQTT network thread or a database thread and waited to get it
    back (about 5 % of the API's share of the event loop in bench/ingest.py --api-load). One
    draw per 256 ids; each id is still 128 random bits, used once. The event loop's only.
    """

    __slots__ = ("_at", "_pool")

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def next(self) -> str:
        at = self._at
        if at >= len(self._pool):
            self._pool = os.urandom(_ID_BYTES * _IDS_PER_DRAW)
            at = 0
        self._at = at + _ID_BYTES
        return self._pool[at : at + _ID_BYTES].hex()


class TrustedJSONResponse(Response):
    """JSON of values our own code built in the shape of the route's `response_model`, encoded
    as it is, without pydantic validating them again and then serialising them.

    For hot reads whose rows come straight from our own tables: FastAPI validates a returned
    value against the response model and dumps it, after the route had validated its rows into
    that model already; for a page of 50 incident summaries that was about a sixth of the
    request's CPU (bench/api.py). The route keeps `response_model`, so the OpenAPI schema (and
    schemathesis, which checks answers against it) still says what the body is; a test pins
    that each such body is byte for byte what pydantic would have written.
    """

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        # OPT_UTC_Z: a UTC datetime ends in "Z", as pydantic writes it.
        return orjson.dumps(content, option=orjson.OPT_UTC_Z)


def problem(
    status: int, title: str, detail: str, slug: str, instance: str | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://emsync.dev/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def respond_problem(
    scope: Scope, receive: Receive, send: Send, status: int, title: str, detail: str
) -> None:
    """Answer with a problem response from ASGI middleware, before any route runs."""
    slug = {401: "unauthorized", 403: "forbidden", 413: "payload-too-large"}.get(status, "error")
    response = problem(status, title, detail, slug, scope.get("path"))
    await response(scope, receive, send)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        out.append(
            {"field": ".".join(loc), "message": err.get("msg", "invalid"), "type": err.get("type")}
        )
    return out


def install_error_handlers(app: FastAPI) -> None:
    async def domain_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return problem(
            exc.status, exc.title, exc.detail, exc.type_slug, request.url.path, **exc.extra
        )

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = _field_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem(
            422, "Validation failed", detail, "validation-failed", request.url.path, errors=errors
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return problem(exc.status_code, title, detail, f"http-{exc.status_code}", request.url.path)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", route=_route_of(request.scope), error=type(exc).__name__)
        return problem(
            500,
            "Internal server error",
            "an unexpected error occurred; it has been logged with the request id",
            "internal",
            request.url.path,
        )

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", "unmatched")


@dataclass(frozen=True, slots=True)
class StateChange:
    """What the audit log records of one state-changing request."""

    actor: str
    action: str
    target: str
    request_id: str
    outcome: str


AuditSink = Callable[[StateChange], Awaitable[None]]


class RequestContextMiddleware:
    """Pure ASGI middleware: request id, structured access log, metrics, audit of changes."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, audit: AuditSink | None) -> None:
        self.app = app
        self.metrics = metrics
        self.audit = audit
        # Bound once, as logging is configured when the app is built: the module's lazy proxy
        # builds a new logger on every call (cache_logger_on_first_use is off so that a later
        # configure_logging applies), one per request here.
        self._log = log.bind()
        self._ids = RequestIds()
        # Each (method, route, status)'s counter and (method, route)'s histogram, looked up
        # once: `labels()` checks and joins the label values and takes the metric's lock on
        # every call (~15 Python calls of a one-row GET's ~1,000 for the two).
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":  # the last one, as the dict of the headers kept
                incoming = value.decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else self._ids.next()
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()
        path, scheme = scope["path"], scope.get("scheme", "http")

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.setdefault("headers", [])
                headers.append((b"x-request-id", request_id.encode()))
                add_security_headers(headers, path=path, scheme=scheme)
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_of(scope)
            method = scope["method"]
            series = self._series.get((method, route, status))
            if series is None:
                series = self._series[method, route, status] = (
                    self.metrics.requests.labels(method, route, str(status)),
                    self.metrics.latency.labels(method, route),
                )
            series[0].inc()
            series[1].observe(elapsed)
            state = scope.get("state", {})
            principal = state.get("principal")
            actor = state.get("audit_actor") or (
                principal.audit_name if principal is not None else "anonymous"
            )
            self._log.info(
                "request",
                method=method,
                route=route,
                status=status,
                ms=round(elapsed * 1000, 2),
                actor=actor,
            )
            if self.audit is not None and method in _STATE_CHANGING and route != "unmatched":
                target = json.dumps(scope.get("path_params", {}), sort_keys=True)
                outcome = "success" if status < 400 else f"failure:{status}"
                await self.audit(
                    StateChange(
                        actor=actor,
                        action=f"{method} {route}",
                        target=target,
                        request_id=request_id,
                        outcome=outcome,
                    )
                )
            structlog.contextvars.unbind_contextvars("request_id")


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every 4xx and 5xx response."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


# Documented on every API route, so clients (and schemathesis) see the real error shape.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _problem_response("Not authenticated"),
    403: _problem_response("Not allowed for this role"),
    404: _problem_response("Not found"),
    409: _problem_response("Conflicts with the current state"),
    422: _problem_response("Invalid input; `errors` names each field"),
}


def document_problems(app: FastAPI) -> None:
    """Register the Problem schema that PROBLEM_RESPONSES refers to, and the security of the
    permission guards (core.framework.document_guard_security)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            document_guard_security(app, schema)
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
                Problem.model_json_schema()
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
