"""A double click on a form's submit button acts once: the dispatcher's "Create incident" creates
one incident, and two submits of "Add patient" in the same instant (before any re-render could
disable the button) add one patient. The dashboard runs each submission through one in-flight
guard (web/src/app/useSubmit.ts) and keys its writes (Idempotency-Key)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import ADMIN, Server, login, ok, shot

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
COMPLAINT = "Fall from ladder, double-clicked"


def test_a_double_click_creates_one_incident_and_one_patient(
    server: Server, browser: Browser, api: httpx.Client, shots: Path
) -> None:
    west, south, east, north = ok(api.get("/api/map"))["bbox"]
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    login(page, server.base, "/dispatch", ADMIN)

    page.get_by_role("button", name="New incident").click()
    page.get_by_label("Chief complaint").fill(COMPLAINT)
    page.get_by_label("Latitude").fill(f"{(south + north) / 2:.6f}")
    page.get_by_label("Longitude").fill(f"{(west + east) / 2:.6f}")
    page.get_by_role("button", name="Create incident").dblclick()
    expect(page.get_by_test_id("incident-queue")).to_contain_text(COMPLAINT, timeout=TIMEOUT_MS)
    expect(page.get_by_role("form", name="New incident")).to_have_count(0)
    # Every request the clicks started has answered before the count is read.
    page.wait_for_load_state("networkidle")
    incidents = ok(api.get("/api/incidents", params={"limit": 200}))["items"]
    created = [i for i in incidents if i["chief_complaint"] == COMPLAINT]
    assert len(created) == 1, created
    expect(page).to_have_url(re.compile(f"/dispatch/{created[0]['id']}$"))

    # Two submits in one task: no re-render (no disabled button) between them, only the guard.
    page.get_by_role("button", name="Add patient").click()
    page.get_by_label("Age (years)").fill("67")
    form = page.get_by_role("form", name="Add patient")
    form.evaluate("f => { f.requestSubmit(); f.requestSubmit(); }")
    expect(form).to_have_count(0, timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("patients")).to_contain_text("67 y")
    page.wait_for_load_state("networkidle")
    patients = ok(api.get(f"/api/incidents/{created[0]['id']}"))["patients"]
    assert len(patients) == 1, patients
    expect(page.get_by_test_id("patients").get_by_role("listitem")).to_have_count(1)
    shot(page, shots, "01-one-incident-one-patient")
    context.close()
