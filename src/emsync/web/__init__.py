"""EMsync web: serves the built dashboard (source in `web/` at the repo root)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# The first path segments of the dashboard's client-side routes (web/src/App.tsx; the unit test
# tests/unit/test_spa_routes.py keeps the two in step). A GET of one of them is answered with
# index.html, so a deep link (/dispatch/<id>) or a reload works; any other unknown path, and any
# method but GET and HEAD, is a 404 problem, never the dashboard's page or a 405.
SPA_ROUTES = frozenset(
    {
        "dispatch",
        "triage",
        "monitor",
        "hospital",
        "crew",
        "admin",
        "account",
        "paging",
        "oncall",
        "me",
        "emergency",
        "persons",
        "intake",
        "beds",
        "legal-cases",
        "clinics",
        "ack",
    }
)


class SpaStaticFiles(StaticFiles):
    """The built dashboard and its client-side routes."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if scope["method"] not in {"GET", "HEAD"}:
            raise HTTPException(404, f"there is no {scope['method']} {scope['path']}")
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            first = path.strip("/").split("/", 1)[0]
            if exc.status_code != 404 or first not in SPA_ROUTES:
                raise HTTPException(exc.status_code, f"there is no {scope['path']}") from exc
            return await super().get_response("index.html", scope)
