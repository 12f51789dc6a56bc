"""The intake records walk: after the agents handled a stab-wound arrival, the charge nurse sees
the patient in a resus bed and turns a cleaned bed round; the coordinator works the legal case
(consent, police told with a reference, the clothing handed to the police in the custody chain);
the desk sees the surgical follow-up, downloads its .ics and books another slot."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ADMIN, HTTP_TIMEOUT_S, Server

pytestmark = pytest.mark.e2e

COORDINATOR = ("coord.intake", "coordinator-password-intake-1")
TIMEOUT_MS = 30_000


def _ok(response: httpx.Response) -> Any:
    assert response.is_success, f"{response.request.url}: {response.status_code} {response.text}"
    return response.json()


def _seed(server: Server) -> dict[str, Any]:
    token = httpx.post(
        f"{server.base}/api/auth/token",
        data={"username": ADMIN[0], "password": ADMIN[1]},
        timeout=HTTP_TIMEOUT_S,
    ).json()["access_token"]
    with httpx.Client(
        base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as api:
        hospital = _ok(
            api.post("/api/hospitals", json={"name": "E2E Meilahti", "lat": 60.19, "lon": 24.9})
        )
        hid = hospital["id"]
        _ok(
            api.post(
                "/api/users",
                json={
                    "username": COORDINATOR[0],
                    "password": COORDINATOR[1],
                    "role": "hospital_coordinator",
                    "hospital_id": hid,
                },
            )
        )
        for label, zone, monitored in (
            ("R1", "resus", True),
            ("R2", "resus", True),
            ("M1", "majors", False),
        ):
            _ok(
                api.post(
                    "/api/intake/beds",
                    json={"hospital_id": hid, "zone": zone, "label": label, "monitored": monitored},
                )
            )
        surgeon = _ok(
            api.post(
                "/api/intake/clinicians", json={"name": "Dr Ada Surgeon", "specialty": "surgery"}
            )
        )
        start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
        _ok(
            api.post(
                f"/api/intake/clinicians/{surgeon['id']}/availability",
                json={
                    "starts_at": start.isoformat(),
                    "ends_at": (start + timedelta(hours=1)).isoformat(),
                    "slot_minutes": 20,
                    "location": "Surgical clinic 3",
                },
            )
        )
        # R2 was vacated and awaits cleaning.
        board = _ok(api.get(f"/api/intake/beds?hospital_id={hid}"))
        r2 = next(b for b in board["beds"] if b["label"] == "R2")
        _ok(api.post(f"/api/intake/beds/{r2['id']}/assign", json={"acuity": 3}))
        _ok(api.post(f"/api/intake/beds/{r2['id']}/release"))
    payload = {
        "hospital_id": hid, "jurisdiction": "FI", "age": 34, "sex": "male",
        "chief_complaint": "stab wound to the abdomen", "mechanism": "stabbed outside a bar",
        "injury": True, "person": {"sex": "male", "estimated_age_years": 34},
        "vitals": {"hr": 128, "rr": 26, "spo2": 93, "sbp": 88, "dbp": 50, "temp": 36.4},
    }  # fmt: skip
    ran = subprocess.run(
        [sys.executable, "-m", "tests.intake_seed", json.dumps(payload),
         "triage", "admission", "legal", "scheduling"],
        env=server.env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    out: dict[str, Any] = json.loads(ran.stdout.strip().splitlines()[-1])
    return out


def _login(page: Page, base: str, path: str, user: tuple[str, str]) -> None:
    page.goto(f"{base}{path}")
    page.get_by_label("Username").fill(user[0])
    page.get_by_label("Password").fill(user[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("connection")).to_have_text(re.compile("Live"), timeout=TIMEOUT_MS)


def _shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_the_intake_records_walk(server: Server, browser: Browser, shots: Path) -> None:
    seeded = _seed(server)
    assert seeded["admission"]["bed"]["label"] == "R1"
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    _login(page, server.base, "/beds", COORDINATOR)

    # The bed board: the arrival in resus, a bed to turn round.
    r1 = page.get_by_test_id("bed-R1")
    expect(r1).to_contain_text("occupied", timeout=TIMEOUT_MS)
    expect(r1).to_contain_text(f"KTAS {seeded['triage']['level']}")
    r2 = page.get_by_test_id("bed-R2")
    expect(r2).to_contain_text("cleaning")
    r2.get_by_role("button", name="Cleaned").click()
    expect(page.get_by_test_id("intake-message")).to_contain_text("R2: cleaned", timeout=TIMEOUT_MS)
    expect(r2).to_contain_text("available")
    expect(page.get_by_test_id("beds-free")).to_contain_text("2 free")
    _shot(page, shots, "01-bed-board")

    # The legal case the stab wound opened (Finland: the police are told with consent).
    page.get_by_role("link", name="Legal cases").click()
    cases = page.get_by_test_id("legal-cases")
    expect(cases).to_contain_text("stab wound", timeout=TIMEOUT_MS)
    expect(cases).to_contain_text("Waiting for consent")
    cases.get_by_role("link").first.click()
    expect(page.get_by_test_id("obligations")).to_contain_text("FI-stab-wound", timeout=TIMEOUT_MS)
    form = page.get_by_role("form", name="Update the case")
    form.get_by_label("Consent").select_option("given")
    form.get_by_label("Police task").select_option("done")
    form.get_by_label("Police reference").fill("HEL-2026-4411")
    form.get_by_label("Reason").fill("Patient consented; duty officer phoned")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("police-task")).to_contain_text(
        "Police told (ref HEL-2026-4411)", timeout=TIMEOUT_MS
    )
    expect(page.get_by_test_id("consent")).to_have_text("given")
    chain = page.get_by_role("form", name="Add a custody link")
    chain.get_by_label("Item").fill("Blood-stained shirt, bag 1")
    chain.get_by_label("From").fill("Nurse Laine")
    chain.get_by_label("To").fill("Constable Koski")
    chain.get_by_role("button", name="Record hand-over").click()
    expect(page.get_by_test_id("custody")).to_contain_text(
        "Blood-stained shirt, bag 1", timeout=TIMEOUT_MS
    )
    expect(page.get_by_test_id("history")).to_contain_text("duty officer phoned")
    _shot(page, shots, "02-legal-case")

    # The surgical follow-up the scheduling agent booked, its .ics, and one more booking.
    page.get_by_role("link", name="Clinics").click()
    bookings = page.get_by_test_id("bookings")
    expect(bookings).to_contain_text("Dr Ada Surgeon", timeout=TIMEOUT_MS)
    expect(bookings).to_contain_text("surgery")
    with page.expect_download() as download:
        bookings.get_by_role("button", name=".ics").first.click()
    saved = Path(download.value.path())
    assert b"BEGIN:VEVENT" in saved.read_bytes()
    slots = page.get_by_test_id("slots")
    expect(slots.get_by_role("row")).to_have_count(3)  # header + two free slots
    slots.get_by_role("button", name="Book").first.click()
    expect(page.get_by_test_id("intake-message")).to_have_text("Booked.", timeout=TIMEOUT_MS)
    expect(bookings.get_by_role("row")).to_have_count(3)
    _shot(page, shots, "03-clinics")
    page.close()
