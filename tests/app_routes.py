"""Walking the app's routes, which FastAPI keeps nested per included router."""

from __future__ import annotations

from typing import Any


def all_routes(routes: list[Any]) -> list[Any]:
    """Routes of the app, descending into included routers (FastAPI keeps them nested)."""
    out: list[Any] = []
    for route in routes:
        nested = getattr(route, "original_router", None)
        out.extend(all_routes(list(nested.routes)) if nested is not None else [route])
    return out
