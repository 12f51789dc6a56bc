"""Security headers on every HTTP response (issue #14, items 1 and 9).

The dashboard is built by Vite into files only (no inline script or style), so its policy is
strict: scripts, styles and connections from this origin only, no framing. Leaflet and React set
styles through the CSSOM (`element.style.x = ...`), which `style-src` does not govern; the
end-to-end test listens for `securitypolicyviolation` events in every view and fails on any.

A route that needs another policy (the Swagger UI page has an inline bootstrap script) sets its
own `Content-Security-Policy`; headers a response already carries are never replaced.

API responses carry personal and clinical data: `Cache-Control: no-store` on all of `/api/`, so
neither the browser nor a shared proxy keeps a copy after logout.
"""

from __future__ import annotations

from collections.abc import Sequence

DASHBOARD_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Leaflet's CSS refers to its small images as data: URLs once bundled; attachments
        # (photos, ECGs) are fetched with the bearer token and shown from blob: URLs.
        "img-src 'self' data: blob:",
        "font-src 'self'",
        # 'self' covers ws:/wss: of this origin (CSP Level 3).
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

_ALWAYS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
)
_CSP = (b"content-security-policy", DASHBOARD_CSP.encode())
_NO_STORE = (b"cache-control", b"no-store")
_PRAGMA = (b"pragma", b"no-cache")
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
# Responses that may hold personal or clinical data, or tokens.
_PRIVATE_PREFIXES = ("/api/", "/metrics", "/openapi.json")


# The headers wanted, by (private path, HTTPS): made once, not per response.
_WANTED: dict[tuple[bool, bool], tuple[tuple[bytes, bytes], ...]] = {
    (private, https): (
        *_ALWAYS,
        _CSP,
        *((_NO_STORE, _PRAGMA) if private else ()),
        *((_HSTS,) if https else ()),
    )
    for private in (False, True)
    for https in (False, True)
}
_NAMES = frozenset(name for wanted in _WANTED.values() for name, _ in wanted)


def add_security_headers(headers: list[tuple[bytes, bytes]], *, path: str, scheme: str) -> None:
    """Append the security headers a response lacks (in place; ASGI raw header list)."""
    wanted = _WANTED[path.startswith(_PRIVATE_PREFIXES), scheme == "https"]
    present = {name.lower() for name, _ in headers}
    if present.isdisjoint(_NAMES):  # most responses set none of them themselves
        headers.extend(wanted)
    else:
        headers.extend(h for h in wanted if h[0] not in present)


def csp_with_script_hashes(hashes: Sequence[str], *, inline_styles: bool) -> str:
    """A page policy allowing exactly the inline scripts of these sha256 hashes (base64)."""
    scripts = " ".join(f"'sha256-{h}'" for h in hashes)
    styles = "'self' 'unsafe-inline'" if inline_styles else "'self'"
    return DASHBOARD_CSP.replace("script-src 'self'", f"script-src 'self' {scripts}").replace(
        "style-src 'self'", f"style-src {styles}"
    )
