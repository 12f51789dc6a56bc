"""#23 item 6: every view of the dashboard passes axe-core with no serious or critical WCAG 2.1
A/AA violation, and the dispatcher takes a call and assigns a unit with the keyboard only."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.axe import blocking_violations
from tests.e2e.conftest import ADMIN, Server

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000


def _ok(response: httpx.Response) -> Any:
    assert response.is_success, f"{response.request.url}: {response.status_code} {response.text}"
    return response.json()


@pytest.fixture(scope="module")
def seeded(api: httpx.Client) -> dict[str, Any]:
    """A small picture so that every view has something to draw: units, a hospital, a call
    with a patient, a person in the registry."""
    west, south, east, north = _ok(api.get("/api/map"))["bbox"]
    lat, lon = (south + north) / 2, (west + east) / 2
    for i, (fx, fy) in enumerate([(0.2, 0.3), (0.7, 0.25)], start=1):
        _ok(
            api.post(
                "/api/units",
                json={
                    "call_sign": f"A11Y-{i}",
                    "unit_type": "ALS",
                    "station_lat": south + (north - south) * fy,
                    "station_lon": west + (east - west) * fx,
                },
            )
        )
    _ok(api.post("/api/hospitals", json={"name": "A11Y General", "lat": lat, "lon": lon + 0.002}))
    incident = _ok(
        api.post(
            "/api/incidents",
            json={"chief_complaint": "Fall at home", "priority": 3, "lat": lat, "lon": lon},
        )
    )
    patient = _ok(
        api.post(f"/api/incidents/{incident['id']}/patients", json={"label": "P1", "name": "Ada"})
    )
    person = _ok(
        api.post(
            "/api/persons",
            json={"given_name": "Ada", "family_name": "Lind", "birth_date": "1950-02-01"},
        )
    )["person"]
    return {"incident": incident, "patient": patient, "person": person, "at": (lat, lon)}


def _views(seeded: dict[str, Any]) -> list[str]:
    """Every route of web/src/App.tsx but the detail pages of an intake session and a legal case
    (the admin tabs are walked in test_admin.py too)."""
    incident, patient, person = seeded["incident"]["id"], seeded["patient"]["id"], seeded["person"]
    return [
        "/dispatch",
        f"/dispatch/{incident}",
        "/triage",
        f"/triage/{incident}",
        "/monitor",
        f"/monitor/{patient}?incident={incident}",
        "/hospital",
        "/crew",
        "/intake",
        "/intake/health",
        "/beds",
        "/legal-cases",
        "/clinics",
        "/account/password",
        "/paging",
        "/oncall",
        "/me/notifications",
        *(
            f"/emergency/{tab}"
            for tab in (
                "resources",
                "roster",
                "shelters",
                "inventory",
                "alerts",
                "map",
                "search",
                "activity",
            )
        ),
        "/persons",
        "/persons/reviews",
        f"/persons/{person['id']}",
        *(
            f"/admin/{tab}"
            for tab in ("places", "people", "keys", "devices", "hospitals", "units", "map", "audit")
        ),
    ]


def _settled(page: Page) -> None:
    """The view has drawn: the live link is up and the main region has a heading or a form."""
    expect(page.get_by_test_id("connection")).to_have_text(re.compile("Live"), timeout=TIMEOUT_MS)
    expect(page.locator("main#main :is(h1, h2, h3, form)").first).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text("Loading…", exact=True)).to_have_count(0, timeout=TIMEOUT_MS)


def test_every_view_has_no_serious_or_critical_axe_violation(
    server: Server, browser: Browser, seeded: dict[str, Any], shots: Path
) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(f"{server.base}/dispatch")
    expect(page.get_by_label("Username")).to_be_visible(timeout=TIMEOUT_MS)
    found: dict[str, list[dict[str, Any]]] = {}
    login = blocking_violations(page)
    if login:
        found["/ (login)"] = login
    page.get_by_label("Username").fill(ADMIN[0])
    page.get_by_label("Password").fill(ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    _settled(page)
    views = _views(seeded)
    for path in views:
        page.goto(f"{server.base}{path}")
        _settled(page)
        violations = blocking_violations(page)
        if violations:
            found[path] = violations
            page.screenshot(path=str(shots / f"violation{path.replace('/', '_')}.png"))
    print(json.dumps({"e2e_axe": {"views": len(views) + 1, "with_violations": len(found)}}))
    assert not found, json.dumps(found, indent=1)
    context.close()


def _tab_to(page: Page, target: Locator, limit: int = 80) -> int:
    """Press Tab until `target` has the focus; the number of presses."""
    for presses in range(limit + 1):
        if target.evaluate("el => el === document.activeElement"):
            return presses
        page.keyboard.press("Tab")
    raise AssertionError(f"{limit} Tabs did not reach {target}")


def test_the_dispatcher_takes_a_call_and_assigns_a_unit_with_the_keyboard_only(
    server: Server, browser: Browser, seeded: dict[str, Any], shots: Path
) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    keys = page.keyboard
    page.goto(f"{server.base}/dispatch")
    expect(page.get_by_label("Username")).to_be_focused(timeout=TIMEOUT_MS)
    keys.type(ADMIN[0])
    keys.press("Tab")
    keys.type(ADMIN[1])
    keys.press("Enter")
    expect(page.get_by_test_id("connection")).to_have_text(re.compile("Live"), timeout=TIMEOUT_MS)

    presses = {"to_new_incident": _tab_to(page, page.get_by_role("button", name="New incident"))}
    keys.press("Enter")
    form = page.get_by_role("form", name="New incident")
    expect(form.get_by_label("Chief complaint")).to_be_focused()  # the form opens on it
    keys.type("Short of breath, wheezing")
    keys.press("Tab")
    expect(form.get_by_label("Priority (1 most urgent)")).to_be_focused()
    keys.press("ArrowUp")  # priority 3 -> 2 without a mouse
    lat, lon = seeded["at"]
    presses["to_latitude"] = _tab_to(page, form.get_by_label("Latitude"))
    keys.type(f"{lat:.6f}")
    keys.press("Tab")
    keys.type(f"{lon:.6f}")
    keys.press("Enter")  # submits the form
    queue = page.get_by_test_id("incident-queue")
    expect(queue).to_contain_text("Short of breath, wheezing", timeout=TIMEOUT_MS)
    expect(page).to_have_url(re.compile(r"/dispatch/[0-9a-f-]{36}$"))
    # The map keeps Leaflet's classes when the form closes (its panes stay clipped to it).
    expect(page.get_by_test_id("map")).to_have_class(re.compile(r"\bleaflet-container\b"))

    # The ranked units are radio buttons: Tab reaches the group, the arrows choose, Tab and
    # Enter assign.
    recs = page.get_by_test_id("unit-recs")
    expect(recs).to_contain_text("A11Y-", timeout=TIMEOUT_MS)
    first = recs.get_by_role("radio").first
    presses["to_units"] = _tab_to(page, first)
    expect(first).to_be_checked()  # the top-ranked unit is preselected
    assign = page.get_by_role("button", name=re.compile(r"^Assign A11Y-"))
    presses["to_assign"] = _tab_to(page, assign)
    keys.press("Enter")
    expect(page.get_by_test_id("assign-message")).to_contain_text("assigned", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("incident-panel")).to_contain_text("dispatched", timeout=TIMEOUT_MS)
    page.screenshot(path=str(shots / "keyboard-assigned.png"))
    print(json.dumps({"e2e_keyboard_call_to_assign": presses}))
    context.close()
