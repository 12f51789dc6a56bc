"""The intake walk end to end ("Done when" of the hospital intake issue): a clinician records an
arriving ambulance patient on the ED intake board; the `emergency` session runs live on the
session page with the registry match, a legal case for the stab wound, the allergy conflict, a
bed from the bed board and the family notified; a device report filed from the session is shown
on it and a follow-up is booked from it; an override needs a reason and is shown with the
clinician's name."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import Server, login, ok, shot
from tests.registry_builders import national_id

pytestmark = pytest.mark.e2e

CLINICIAN = ("ed.clinician", "clinician-password-intake-1")
TIMEOUT_MS = 60_000


def _seed(api: httpx.Client) -> str:
    """An ED with beds, its clinician, and a registered patient allergic to penicillin."""
    hospital = ok(
        api.post(
            "/api/hospitals",
            json={"name": "E2E Meilahti ED", "lat": 60.19, "lon": 24.9, "ed_beds_available": 3},
        )
    )
    for label, zone, monitored in (("R1", "resus", True), ("M1", "majors", False)):
        ok(
            api.post(
                "/api/intake/beds",
                json={
                    "hospital_id": hospital["id"],
                    "zone": zone,
                    "label": label,
                    "monitored": monitored,
                },
            )
        )
    ok(
        api.post(
            "/api/users",
            json={
                "username": CLINICIAN[0],
                "password": CLINICIAN[1],
                "role": "clinician",
                "hospital_id": hospital["id"],
            },
        )
    )
    nid = national_id()
    person = ok(
        api.post(
            "/api/persons",
            json={
                "given_name": "Aino",
                "family_name": "Virtanen",
                "birth_date": "1961-03-14",
                "sex": "female",
                "language": "fi",
                "identifiers": [{"system": "national", "value": nid}],
                "emergency_contacts": [
                    {"name": "Pekka Virtanen", "relation": "son", "phone": "+358401112233"}
                ],
            },
        )
    )
    ok(
        api.post(
            f"/api/persons/{person['person']['id']}/entries",
            json={
                "kind": "allergy",
                "substance": "Penicillin",
                "severity": "severe",
                "reaction": "anaphylaxis",
            },
        )
    )
    ok(api.post("/api/intake/devices/register", json={"id": "e2e-oximeter-1", "type": "wearable"}))
    clinician = ok(
        api.post("/api/intake/clinicians", json={"name": "Dr Ada Surgeon", "specialty": "surgery"})
    )
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    ok(
        api.post(
            f"/api/intake/clinicians/{clinician['id']}/availability",
            json={
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(minutes=60)).isoformat(),
                "slot_minutes": 20,
                "location": "Surgical clinic 3",
            },
        )
    )
    return nid


def test_the_intake_walk(server: Server, browser: Browser, api: httpx.Client, shots: Path) -> None:
    nid = _seed(api)
    page = browser.new_context(viewport={"width": 1440, "height": 1100}).new_page()
    login(page, server.base, "/intake", CLINICIAN)

    # 1. The ambulance patient arrives: the clinician records what the crew says.
    form = page.get_by_role("form", name="Ambulance arrival")
    form.get_by_label("Given name").fill("Aino")
    form.get_by_label("Family name").fill("Virtanen")
    form.get_by_label("Date of birth").fill("1961-03-14")
    form.get_by_label("National id").fill(nid)
    form.get_by_label("Chief complaint").fill("stab wound to abdomen")
    form.get_by_label("Mechanism").fill("stabbed with a kitchen knife")
    form.get_by_label("Planned medication").fill("amoxicillin")
    form.get_by_label("Family contact").fill("Pekka Virtanen")
    form.get_by_label("Contact phone").fill("+358401112233")
    form.get_by_label("HR").fill("118")
    form.get_by_label("RR").fill("24")
    form.get_by_label("SpO₂").fill("95")
    form.get_by_label("Systolic BP").fill("96")
    shot(page, shots, "01-arrival-form")
    form.get_by_role("button", name="Start emergency intake").click()

    # 2. The session page fills in live as the agents finish.
    expect(page).to_have_url(re.compile(r"/intake/[0-9a-f-]{36}$"), timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("session-status")).to_have_text(
        re.compile("attention|completed"), timeout=TIMEOUT_MS
    )
    expect(page.get_by_test_id("registry-match")).to_contain_text("person", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("legal-case")).to_contain_text("stab", ignore_case=True)
    expect(page.get_by_test_id("allergy-conflicts")).to_contain_text("amoxicillin")
    expect(page.get_by_test_id("allergy-conflicts")).to_contain_text("Penicillin")
    expect(page.get_by_test_id("bed")).to_contain_text(re.compile(r"R1|M1"))
    expect(page.get_by_test_id("family")).not_to_have_text("—")
    steps = page.get_by_test_id("steps")
    for agent in ("triage", "admission", "medical_records", "legal", "communication"):
        expect(steps.locator(f"tr[data-agent='{agent}']")).to_have_attribute(
            "data-status", re.compile("done|needs_review")
        )
    shot(page, shots, "02-session")

    # 2b. A device report filed from the session is on the chart and shown; a follow-up is
    # booked in the earliest free surgery slot.
    reports = page.get_by_role("form", name="File device report")
    reports.get_by_label("Device id").fill("e2e-oximeter-1")
    reports.get_by_label("Report").fill("SpO2 88-91% overnight, 3 desaturations")
    reports.get_by_role("button", name="File report").click()
    expect(page.get_by_test_id("followups-message")).to_have_text(
        "Device report filed on the chart."
    )
    expect(page.get_by_test_id("device-reports")).to_contain_text("3 desaturations")
    follow = page.get_by_role("form", name="Schedule follow-up")
    follow.get_by_label("Specialty").fill("surgery")
    follow.get_by_label("Reason").fill("wound review")
    follow.get_by_role("button", name="Book earliest slot").click()
    expect(page.get_by_test_id("follow-up")).to_contain_text("Dr Ada Surgeon")
    shot(page, shots, "02b-device-report-follow-up")

    # 3. An override needs a reason; refused ones say why; accepted ones are shown.
    override = page.get_by_role("form", name="Override")
    override.locator("select[name=action]").select_option("skip")
    override.locator("select[name=agent]").select_option("triage")
    override.get_by_label("Reason (required)").fill("not needed")
    override.get_by_role("button", name="Apply override").click()
    expect(page.get_by_test_id("session-message")).to_contain_text("cannot skip the triage step")
    override.locator("select[name=action]").select_option("force")
    override.locator("select[name=agent]").select_option("medical_records")
    override.get_by_label("Reason (required)").fill("allergy list re-checked with the family")
    override.get_by_role("button", name="Apply override").click()
    expect(page.get_by_test_id("session-message")).to_have_text("Override recorded.")
    overrides = page.get_by_test_id("overrides")
    expect(overrides).to_contain_text("allergy list re-checked with the family")
    expect(overrides).to_contain_text("force")
    expect(overrides).to_contain_text(CLINICIAN[0])  # the person's name, not user:<id>
    expect(page.get_by_test_id("session-status")).to_have_text(
        re.compile("attention|completed"), timeout=TIMEOUT_MS
    )
    shot(page, shots, "03-override")

    # 4. The board shows the arrival and its steps; the bed board shows the bed taken.
    page.get_by_role("link", name="ED intake board").click()
    board = page.get_by_test_id("intake-board")
    expect(board.locator("tr[data-session]")).to_have_count(1)
    expect(board.locator(".step-chip")).to_have_count(8)
    expect(page.get_by_test_id("bed-board")).to_contain_text("occupied")
    shot(page, shots, "04-board")
