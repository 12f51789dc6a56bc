"""Liveness, readiness and Prometheus metrics: public, for probes and scrapers."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from emsync.core.errors import DomainError
from emsync.core.runtime import RuntimeDep


class NotReady(DomainError):
    status = 503
    title = "Not ready"
    type_slug = "not-ready"


def ops_router(public: object) -> APIRouter:
    router = APIRouter(tags=["operations"])
    mark = public  # the auth package's `public` marker, passed in to keep core free of auth

    @router.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the process is up."""
        return {"status": "ok"}

    @router.get("/health/ready")
    async def ready(runtime: RuntimeDep) -> dict[str, str]:
        """Readiness: the database answers."""
        try:
            async with runtime.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            raise NotReady(f"database unreachable: {type(exc).__name__}") from exc
        return {"status": "ready"}

    @router.get("/metrics", response_class=Response)
    async def metrics(runtime: RuntimeDep) -> Response:
        """Prometheus text exposition."""
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    for endpoint in (health, ready, metrics):
        assert callable(mark)
        mark(endpoint)
    return router
