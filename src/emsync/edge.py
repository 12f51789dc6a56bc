"""The HTTP edge every request passes: idempotency, the gate (authentication, body limits),
admission (a few API requests at a time), the request context (logging, audit) and CORS, in that
order from the inside out."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from emsync.auth.audit import AuditLog, AuditRecord
from emsync.auth.deps import principal_from_headers
from emsync.auth.principal import Principal
from emsync.core.admission import Admission, Precedence
from emsync.core.background import ProcessRole
from emsync.core.gate import RequestGate, flat_routes
from emsync.core.http import RequestContextMiddleware, StateChange, respond_problem
from emsync.core.idempotency import IdempotencyMiddleware
from emsync.core.runtime import Runtime
from emsync.core.settings import Settings


def busy_admission_slots(settings: Settings, roles: Collection[ProcessRole]) -> int | None:
    """API requests at a time while the process's own MQTT ingest takes readings; None when it
    runs none (an API-only process keeps `http.concurrent_requests` throughout).

    Each request in flight is CPU on the event loop the readings' turns wait behind
    (bench/ingest.py --latency-only --api-load, SQLite, 2,000 readings/s, 50 dashboards:
    publish → WebSocket p99 74 ms with 4 at a time, 50 ms with 1, the same API requests/s, as
    the process's CPU is the limit either way; a quiet machine, issue #16). On PostgreSQL at
    load 8-11, p99 278-960 ms with 1 against 901-3,355 with 4, paired (README). With no
    readings coming in, the configured number, so that requests waiting on the database
    (PostgreSQL) overlap.
    """
    if ProcessRole.INGEST in roles and settings.mqtt.host is not None:
        return settings.http.concurrent_requests_with_ingest
    return None


def install_middleware(
    app: FastAPI, runtime: Runtime, roles: Collection[ProcessRole] = tuple(ProcessRole)
) -> None:
    settings = runtime.settings
    audit = runtime.get(AuditLog)

    async def audit_sink(change: StateChange) -> None:
        await audit.append(
            AuditRecord(
                actor=change.actor,
                action=change.action,
                target=change.target,
                request_id=change.request_id,
                outcome=change.outcome,
            )
        )

    async def authenticate_request(scope: Any) -> Principal:
        return await principal_from_headers(runtime, scope.get("headers", ()))

    # Innermost, inside the gate: the caller is authenticated and the body bounded before the
    # key is looked up (and a repeat answered without running the route).
    app.add_middleware(
        IdempotencyMiddleware,
        sessions=lambda: runtime.sessions,
        keyring=lambda: runtime.keyring,
        clock=runtime.clock,
        pending_seconds=settings.http.idempotency_pending_seconds,
        retention=timedelta(hours=settings.http.idempotency_retention_hours),
    )
    # Inside the request context (so its refusals are logged and carry the security headers).
    app.add_middleware(
        RequestGate,
        routes=lambda: flat_routes(app.routes),
        default_limit=settings.http.max_body_bytes,
        authenticate=authenticate_request,
        respond=respond_problem,
        settings=settings,
    )
    # Outside the gate (its authentication is CPU too), inside the request context (its wait
    # is in the logged and measured latency).
    app.add_middleware(
        Admission,
        slots=settings.http.concurrent_requests,
        lease=settings.http.admission_lease_ms / 1000,
        precedence=runtime.get(Precedence),
        busy_slots=busy_admission_slots(settings, roles),
    )
    app.add_middleware(RequestContextMiddleware, metrics=runtime.metrics, audit=audit_sink)
    if settings.cors_origins:
        # Bearer tokens, not cookies: no credentials mode; only the listed origins.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-API-Key"],
            max_age=600,
        )
