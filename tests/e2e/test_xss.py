"""Stored XSS, end to end (issue #14 item 1): script payloads planted through the API in every
text field it accepts, then every dashboard view opened in a real browser. Nothing may run:
no payload element in the DOM, no dialog, no marker set by a payload, and no Content-Security-
Policy violation (a violation means markup from user text reached an HTML sink and only the
policy stopped it). The map's tooltips are hovered, since that is where the probe's XSS ran."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from tests.e2e.conftest import ADMIN, HTTP_TIMEOUT_S, Server

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
COORDINATOR = ("coord.xss", "coordinator-xss-password-9")
MARK = "window.__xss = (window.__xss || 0) + 1"
# Each a different HTML-parsing path: an element's handler, an SVG event, a script element,
# an attribute break-out, and a javascript: URL.
PAYLOADS = [
    f'<img src="x" data-xss="1" onerror="{MARK}">',
    f'<svg data-xss="1" onload="{MARK}"></svg>',
    f"<script data-xss='1'>{MARK}</script>",
    f'"><img src=x data-xss=1 onerror="{MARK}">',
    f"<a data-xss='1' href='javascript:{MARK}'>x</a>",
]


def _p(n: int, tag: str) -> str:
    """Payload n, tagged so a failure says which field carried it."""
    return f"{tag} {PAYLOADS[n % len(PAYLOADS)]}"


# Installed before any page script: counts CSP violations and dialogs the payloads would open.
_WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + e.sample);
});
"""


def _ok(response: httpx.Response) -> Any:
    assert response.is_success, f"{response.request.url}: {response.status_code} {response.text}"
    return response.json()


def _plant(server: Server) -> dict[str, str]:
    token = httpx.post(
        f"{server.base}/api/auth/token",
        data={"username": ADMIN[0], "password": ADMIN[1]},
        timeout=HTTP_TIMEOUT_S,
    ).json()["access_token"]
    api = httpx.Client(
        base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    west, south, east, north = _ok(api.get("/api/map"))["bbox"]
    lat, lon = (south + north) / 2, (west + east) / 2
    hospital = _ok(
        api.post(
            "/api/hospitals",
            json={"name": _p(0, "hospital.name"), "lat": lat + 0.002, "lon": lon + 0.002},
        )
    )
    _ok(
        api.patch(
            f"/api/hospitals/{hospital['id']}",
            json={"diversion": True, "diversion_reason": _p(1, "hospital.diversion_reason")},
        )
    )
    unit = _ok(
        api.post(
            "/api/units",
            json={
                "call_sign": "XSS-1",
                "unit_type": "ALS",
                "station_name": _p(2, "unit.station_name"),
                "crew": [_p(3, "unit.crew")],
                "station_lat": lat - 0.002,
                "station_lon": lon - 0.002,
            },
        )
    )
    incident = _ok(
        api.post(
            "/api/incidents",
            json={
                "chief_complaint": _p(0, "incident.chief_complaint"),
                "priority": 2,
                "address": _p(1, "incident.address"),
                "lat": lat,
                "lon": lon,
                "caller_name": _p(2, "incident.caller_name"),
                "notes": _p(3, "incident.notes"),
                "patients": [{"label": "X1", "name": _p(4, "patient.name")}],
            },
        )
    )
    _ok(
        api.post(
            f"/api/incidents/{incident['id']}/status",
            json={"status": "triaged", "reason": _p(0, "status.reason")},
        )
    )
    patient_id = incident["patients"][0]["id"]
    _ok(
        api.post(
            "/api/telemetry/devices",
            json={"id": "xss-monitor", "type": "monitor", "label": _p(1, "device.label")[:100]},
        )
    )
    _ok(api.post("/api/telemetry/devices/xss-monitor/bind", json={"patient_id": patient_id}))
    _ok(
        api.post(
            "/api/users",
            json={
                "username": COORDINATOR[0],
                "password": COORDINATOR[1],
                "role": "hospital_coordinator",
                "hospital_id": hospital["id"],
            },
        )
    )
    _ok(api.post(f"/api/handoffs/hospital-keys/{hospital['id']}"))
    now = datetime.now(UTC)
    handoff = _ok(
        api.post(
            "/api/handoffs",
            json={
                "incident_id": incident["id"],
                "patient_id": patient_id,
                "hospital_id": hospital["id"],
                "unit_id": unit["id"],
                "eta": (now + timedelta(minutes=9)).isoformat(),
                "acuity": 2,
                "crew": [_p(2, "handoff.crew")],
                "content": {
                    "patient": {"name": _p(3, "handoff.patient.name"), "age_years": 50,
                                "age_band": _p(4, "age_band")[:20]},
                    "time_of_onset": (now - timedelta(minutes=30)).isoformat(),
                    "mechanism": _p(0, "handoff.mechanism"),
                    "injuries": [_p(1, "handoff.injury")],
                    "signs": [{"ts": now.isoformat(), "hr": 100, "sbp": 120, "dbp": 80}],
                    "treatment": [{"kind": "procedure", "name": _p(2, "treatment.name"),
                                   "route": _p(3, "treatment.route")[:50]}],
                    "notes": _p(4, "handoff.notes"),
                },
            },
        )
    )  # fmt: skip
    _ok(api.post(f"/api/handoffs/{handoff['id']}/send"))
    for kind, body in (
        ("note", {"note": _p(0, "update.note")}),
        ("findings", {"findings": [_p(1, "update.finding")]}),
    ):
        _ok(api.post(f"/api/handoffs/{handoff['id']}/updates", json={"kind": kind, **body}))
    api.close()
    return {"incident": incident["id"], "patient": patient_id}


def _login(page: Page, base: str, path: str, user: tuple[str, str]) -> None:
    page.goto(f"{base}{path}")
    page.get_by_label("Username").fill(user[0])
    page.get_by_label("Password").fill(user[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("connection")).to_have_text(re.compile("Live"), timeout=TIMEOUT_MS)


def _recorder(dialogs: list[str]) -> Callable[[Dialog], None]:
    """A dialog handler: a payload's alert() is noted and dismissed."""

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    return record


def _marker_centres(page: Page) -> list[tuple[float, float]]:
    """Page coordinates of the red (incident) and green (hospital) circle markers, found in a
    picture of the map: they are drawn on a canvas, so there is no element to hover."""
    from io import BytesIO

    from PIL import Image

    box = page.get_by_test_id("map").bounding_box()
    assert box is not None
    image = Image.open(BytesIO(page.get_by_test_id("map").screenshot())).convert("RGB")
    scale = image.width / box["width"]
    found: dict[str, list[tuple[int, int]]] = {"red": [], "green": []}
    pixels = image.load()
    assert pixels is not None
    for x in range(0, image.width, 2):
        for y in range(0, image.height, 2):
            r, g, b = pixels[x, y]  # type: ignore[misc]
            if r > 150 and g < 90 and b < 80:
                found["red"].append((x, y))
            elif r < 90 and g > 100 and b < 90:
                found["green"].append((x, y))
    centres = []
    for points in found.values():
        assert points, f"no marker found on the map: {found.keys()}"
        cx = sum(p[0] for p in points) / len(points) / scale
        cy = sum(p[1] for p in points) / len(points) / scale
        centres.append((box["x"] + cx, box["y"] + cy))
    return centres


def _assert_inert(page: Page, where: str) -> None:
    page.wait_for_timeout(600)  # let lazy views, tooltips and live pushes render
    assert page.locator("[data-xss]").count() == 0, f"{where}: a payload became an element"
    assert page.evaluate("() => window.__xss ?? 0") == 0, f"{where}: a payload ran"
    violations = page.evaluate("() => window.__violations")
    assert violations == [], f"{where}: markup reached an HTML sink: {violations}"


def test_no_planted_payload_runs_in_any_view(
    server: Server, browser: Browser, screenshots: Path
) -> None:
    ids = _plant(server)
    dialogs: list[str] = []
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.add_init_script(_WATCH)
    page = context.new_page()
    page.on("dialog", _recorder(dialogs))

    _login(page, server.base, "/dispatch", ADMIN)
    queue = page.get_by_test_id("incident-queue")
    # The payload is on screen as text, which is the point: visible, inert.
    expect(queue).to_contain_text("incident.chief_complaint <img", timeout=TIMEOUT_MS)
    _assert_inert(page, "dispatch board")
    page.goto(f"{server.base}/dispatch/{ids['incident']}")
    panel = page.get_by_test_id("incident-panel")
    expect(panel).to_contain_text("incident.address", timeout=TIMEOUT_MS)
    # Hover the incident and hospital markers: their tooltips carry complaint and hospital name.
    page.wait_for_timeout(800)
    tooltips: list[str] = []
    for x, y in _marker_centres(page):
        page.mouse.move(x - 3, y - 3)
        page.mouse.move(x, y, steps=3)  # Leaflet's canvas hit test reacts to movement
        tooltip = page.locator(".leaflet-tooltip")
        expect(tooltip).to_have_count(1, timeout=TIMEOUT_MS)
        tooltips.append(tooltip.inner_text())
        _assert_inert(page, "map tooltip")
    page.screenshot(path=str(screenshots / "xss-01-dispatch.png"), full_page=True)
    _assert_inert(page, "incident and map")
    assert any("incident.chief_complaint <img" in t for t in tooltips), tooltips
    assert any("hospital.name <img" in t for t in tooltips), tooltips

    for path in (
        f"/triage/{ids['incident']}",
        "/monitor",
        f"/monitor/{ids['patient']}",
        "/hospital",
        "/account/password",
    ):
        page.goto(f"{server.base}{path}")
        expect(page.locator("main")).to_be_visible(timeout=TIMEOUT_MS)
        _assert_inert(page, path)

    hospital = browser.new_context(viewport={"width": 1024, "height": 768})
    hospital.add_init_script(_WATCH)
    coordinator = hospital.new_page()
    coordinator.on("dialog", _recorder(dialogs))
    _login(coordinator, server.base, "/hospital", COORDINATOR)
    expect(coordinator.get_by_test_id("handoffs")).to_contain_text(
        "handoff.mechanism", timeout=TIMEOUT_MS
    )
    _assert_inert(coordinator, "hospital view")
    coordinator.screenshot(path=str(screenshots / "xss-02-hospital.png"), full_page=True)
    assert dialogs == []
    hospital.close()
    context.close()


def test_pages_carry_a_strict_policy(server: Server) -> None:
    response = httpx.get(f"{server.base}/dispatch", timeout=HTTP_TIMEOUT_S)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    # What Vite emits has no inline script for the policy to block.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text)
