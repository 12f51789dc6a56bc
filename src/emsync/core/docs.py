"""The interactive API docs, served from a vendored Swagger UI: EMsync runs where no CDN is
reachable, and FastAPI's default docs page loads its scripts from one."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from emsync.core.framework import HeadGatedRouter
from emsync.core.headers import csp_with_script_hashes

ASSETS = "/docs/assets"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _with_own_policy(page: HTMLResponse) -> HTMLResponse:
    """The page's Content-Security-Policy allows exactly its own inline scripts (by hash).

    Swagger UI's bootstrap is an inline script; the dashboard's policy would block it. Its
    widgets set inline styles, so this page (and only it) allows them.
    """
    body = bytes(page.body)
    hashes = [
        base64.b64encode(hashlib.sha256(m.encode()).digest()).decode()
        for m in _INLINE_SCRIPT.findall(body.decode())
    ]
    page.headers["Content-Security-Policy"] = csp_with_script_hashes(hashes, inline_styles=True)
    return page


def install_docs(app: FastAPI, public: Callable[[Any], Any]) -> None:
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def docs() -> HTMLResponse:
        """Swagger UI; log in with Authorize (OAuth2 password flow)."""
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
            init_oauth={"usePkceWithAuthorizationCodeGrant": False},
        )
        return _with_own_policy(page)

    @router.get("/docs/oauth2-redirect")
    async def oauth2_redirect() -> HTMLResponse:
        return _with_own_policy(get_swagger_ui_oauth2_redirect_html())

    public(docs)
    public(oauth2_redirect)
    app.include_router(HeadGatedRouter(router))
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")
