"""EMsync web: serves the built dashboard (source in `web/` at the repo root)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# Paths the API owns: an unknown path under these is a real 404, never the dashboard's page.
API_PREFIXES = ("api", "ws", "docs", "redoc", "openapi.json", "health", "metrics")


class SpaStaticFiles(StaticFiles):
    """The built dashboard; any other GET path is a client-side route, answered with index.html
    so a deep link (e.g. /dispatch/<id>) or a reload works."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            first = path.strip("/").split("/", 1)[0]
            if exc.status_code != 404 or first in API_PREFIXES or "." in path.rsplit("/", 1)[-1]:
                raise
            return await super().get_response("index.html", scope)
