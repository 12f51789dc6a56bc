"""On-call paging in the dashboard, end to end: a clinician verifies SMS and push contact
points by code, an admin builds the ED schedule and escalation policy in the editor, a
deteriorating simulated patient (`emsync simulate`) pages the clinician by push, then by SMS
(the local Twilio-compatible provider receives it), and the SMS link stops the escalation.

Push goes to a local push service that decrypts with the subscription's keys: headless
Chromium's own PushManager.subscribe needs Google's push service, which is not reachable here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from emsync.notifications.sandbox import HttpSandbox
from tests.e2e.conftest import ADMIN, HTTP_TIMEOUT_S, Server, start_server
from tests.ports import free_port

pytestmark = pytest.mark.e2e
CLINICIAN = ("clin.e2e", "clinician-password-123")
PHONE = "+358401239999"
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def sandbox() -> Iterator[HttpSandbox]:
    box = HttpSandbox(free_port()).start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sandbox: HttpSandbox) -> Iterator[Server]:
    port = free_port()
    env = {
        "EMSYNC_PORT": str(port),
        "EMSYNC_NOTIFICATIONS__PUBLIC_URL": f"http://127.0.0.1:{port}",
        "EMSYNC_NOTIFICATIONS__SMS_BASE_URL": sandbox.base,
        "EMSYNC_NOTIFICATIONS__SMS_ACCOUNT_SID": sandbox.state.account_sid,
        "EMSYNC_NOTIFICATIONS__SMS_AUTH_TOKEN": sandbox.state.auth_token,
        "EMSYNC_NOTIFICATIONS__SMS_FROM": "+15005550006",
        "EMSYNC_NOTIFICATIONS__POLL_SECONDS": "0.5",
        # One alert at the high band: a rising level would (rightly) need a fresh acknowledgement.
        "EMSYNC_TELEMETRY__NEWS2_ALERT_MIN_BAND": "high",
    }
    with start_server(tmp_path_factory.mktemp("emsync-e2e-notify"), env) as running:
        yield running


def _until(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def _login(page: Page, base: str, path: str, user: tuple[str, str]) -> None:
    page.goto(f"{base}{path}")
    page.get_by_label("Username").fill(user[0])
    page.get_by_label("Password").fill(user[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("connection")).to_have_text(re.compile("Live"), timeout=TIMEOUT_MS)


def _token(base: str, user: tuple[str, str]) -> dict[str, str]:
    response = httpx.post(
        f"{base}/api/auth/token",
        data={"username": user[0], "password": user[1]},
        timeout=HTTP_TIMEOUT_S,
    )
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _shot(page: Page, folder: Path, name: str) -> None:
    page.wait_for_timeout(300)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_a_deteriorating_patient_pages_the_on_call_clinician_until_the_sms_link(
    server: Server, browser: Browser, sandbox: HttpSandbox, shots: Path
) -> None:
    base = server.base
    admin = _token(base, ADMIN)
    created = httpx.post(
        f"{base}/api/users",
        json={"username": CLINICIAN[0], "password": CLINICIAN[1], "role": "clinician"},
        headers=admin,
        timeout=HTTP_TIMEOUT_S,
    )
    assert created.status_code == 201, created.text

    # 1. The clinician adds a phone number and verifies it with the code the SMS brought.
    clinician = browser.new_page()
    _login(clinician, base, "/me/notifications", CLINICIAN)
    clinician.get_by_label("Channel").select_option("sms")
    clinician.get_by_label("Address").fill("040 123")  # not E.164: refused, field named
    clinician.get_by_role("button", name="Add and send code").click()
    expect(clinician.locator(".error").first).to_contain_text("E.164", timeout=TIMEOUT_MS)
    clinician.get_by_label("Address").fill(PHONE)
    clinician.get_by_role("button", name="Add and send code").click()
    sms = _until(lambda: [m for m in sandbox.state.sms if m.to == PHONE], "the code by SMS")
    code = re.search(r"[0-9]{6}", sms[-1].body)
    assert code
    points = clinician.get_by_test_id("contact-points")
    points.get_by_label("Code").fill(code.group(0))
    points.get_by_role("button", name="Verify").click()
    expect(points).to_contain_text("sms · verified", timeout=TIMEOUT_MS)
    # Push: this browser cannot reach a push service, so the subscription is the local one's.
    subscription = sandbox.subscribe()
    sub_id = subscription["endpoint"].rsplit("/", 1)[1]
    me = _token(base, CLINICIAN)
    pushed = httpx.post(
        f"{base}/api/notifications/contact-points",
        json={"kind": "push", "address": json.dumps(subscription), "label": "Ward tablet"},
        headers=me,
        timeout=HTTP_TIMEOUT_S,
    )
    assert pushed.status_code == 201, pushed.text
    received = _until(lambda: sandbox.state.push[sub_id].received, "the code by push")
    clinician.reload()
    card = clinician.get_by_test_id("contact-points").locator(".point", has_text="Ward tablet")
    card.get_by_label("Code").fill(re.findall(r"[0-9]{6}", received[-1]["body"])[0])
    card.get_by_role("button", name="Verify").click()
    expect(card).to_contain_text("push · verified", timeout=TIMEOUT_MS)
    _shot(clinician, shots, "01-my-notifications")

    # 2. The admin builds the ED on-call schedule and the escalation policy in the editor.
    editor = browser.new_page()
    _login(editor, base, "/oncall", ADMIN)
    editor.get_by_label("Team name").fill("ED Meilahti")
    editor.get_by_role("button", name="Create team").click()
    expect(editor.locator(".note")).to_contain_text("Team created", timeout=TIMEOUT_MS)
    form = editor.get_by_role("form", name="New schedule")
    form.get_by_label("Team").select_option(label="ED Meilahti")
    form.get_by_label("Name").fill("ED consultant")
    form.get_by_label("Rotation").select_option(label=f"{CLINICIAN[0]} (clinician)")
    form.get_by_role("button", name="Create schedule").click()
    expect(editor.get_by_test_id("schedules")).to_contain_text(
        f"On call now: {CLINICIAN[0]}", timeout=TIMEOUT_MS
    )
    policy = editor.get_by_role("form", name="New escalation policy")
    policy.get_by_label("Name").fill("Clinical deterioration")
    policy.get_by_label("NEWS2 deterioration").check()
    policy.get_by_role("button", name="Add a step").click()
    policy.get_by_role("button", name="Add a step").click()
    steps = policy.locator("fieldset.step")
    for i in range(3):
        steps.nth(i).get_by_label("Notify").select_option(
            label="on call: ED consultant" if i < 2 else "everyone with role hospital coordinator"
        )
    steps.nth(1).locator("input[type=number]").fill("3")
    steps.nth(2).locator("input[type=number]").fill("600")  # would page the coordinators
    policy.get_by_role("button", name="Save policy").click()
    expect(editor.get_by_test_id("policies")).to_contain_text(
        "Clinical deterioration", timeout=TIMEOUT_MS
    )
    editor.get_by_label("Language").select_option("fi")
    expect(editor.get_by_test_id("preview")).to_contain_text("Vastaa ACK", timeout=TIMEOUT_MS)
    _shot(editor, shots, "02-oncall-schedule-and-policy")

    # 3. A deteriorating patient on a simulated monitor (sepsis, ten minutes of onset in ten s).
    devices = shots / "sim-devices.json"
    devices.unlink(missing_ok=True)
    with (shots / "simulate.log").open("w") as sim_log:
        sim = subprocess.Popen(
            [
                sys.executable, "-m", "emsync", "simulate", "--provision", "--patients", "1",
                "--rate", "2", "--duration", "90", "--scenario", "sepsis", "--scenario-speed", "60",
                "--api", base, "--username", ADMIN[0], "--password", ADMIN[1],
                "--devices", str(devices), "--port", str(server.mqtt_port), "--host", "127.0.0.1",
            ],
            env=server.env, stdout=sim_log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            page_push = _until(
                lambda: [
                    m
                    for m in sandbox.state.push[sub_id].received
                    if m.get("type") == "clinical_alert"
                ],
                "the page by push",
            )[-1]
            assert "ack_url" in page_push
            page_sms = _until(
                lambda: [m for m in sandbox.state.sms if m.to == PHONE and "/ack/" in m.body],
                "the SMS step",
            )[-1]
        finally:
            sim.terminate()
            sim.wait(timeout=15)
    editor.goto(f"{base}/paging")
    expect(editor.get_by_test_id("pages")).to_contain_text(
        "NEWS2 deterioration", timeout=TIMEOUT_MS
    )
    editor.get_by_test_id("pages").locator("summary").first.click()
    _shot(editor, shots, "03-paging-escalating")

    # 4. The link in the SMS, opened on the phone (no login), acknowledges.
    link = re.search(r"https?://\S+/ack/\S+", page_sms.body)
    assert link
    phone = browser.new_page()
    phone.goto(link.group(0))
    _shot(phone, shots, "04-ack-link")
    phone.get_by_role("button", name="Acknowledge").click()
    expect(phone.get_by_test_id("ack-done")).to_be_visible(timeout=TIMEOUT_MS)
    _shot(phone, shots, "05-ack-done")

    # 5. Escalation stopped: the third step never fires; the alert shows who took it.
    def rounds() -> float:
        text = httpx.get(f"{base}/metrics", timeout=HTTP_TIMEOUT_S).text
        found = re.search(r"^emsync_notification_escalation_rounds_total (\S+)$", text, re.M)
        return float(found.group(1)) if found else 0.0

    after_ack = rounds()
    _until(lambda: rounds() >= after_ack + 8, "escalation rounds after the acknowledgement")  # 4 s
    pages = httpx.get(
        f"{base}/api/notifications/pages", headers=admin, timeout=HTTP_TIMEOUT_S
    ).json()
    clinical = [p for p in pages if p["trigger"] == "telemetry.alert.news2"]
    assert [p["next_step_at"] for p in clinical] == [None]  # nothing more is scheduled
    assert [(p["status"], p["steps_done"], p["acknowledged_via"]) for p in clinical] == [
        ("acknowledged", 2, "link")
    ]
    alerts = httpx.get(
        f"{base}/api/telemetry/alerts", headers=admin, timeout=HTTP_TIMEOUT_S
    ).json()["items"]
    assert alerts[0]["status"] == "acknowledged"
    editor.reload()
    expect(editor.get_by_test_id("pages")).to_contain_text("acknowledged", timeout=TIMEOUT_MS)
    editor.get_by_test_id("pages").locator("summary").first.click()
    _shot(editor, shots, "06-paging-acknowledged")
