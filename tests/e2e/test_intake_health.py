"""The intake health view walked as a hospital coordinator would when sessions stop moving: from
the ED intake board to the workers and agents; this server's own worker is alive; a worker that
stopped beating (its row written as the app writes it, its heartbeat ten minutes old) shows as
silent, and then as taken over by the live one; each agent's circuit is named. A dispatcher,
without intake:read, neither sees the view in the menu nor its data."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, expect
from sqlalchemy.orm import Session

from emsync.intake.models import IntakeWorker
from tests.e2e.conftest import Server, login, ok, shot

pytestmark = pytest.mark.e2e

COORDINATOR = ("ed.coordinator", "coordinator-password-health-1")
DISPATCHER = ("health.dispatcher", "dispatcher-password-health-1")
SILENT = "ed-gone:8009"
TIMEOUT_MS = 60_000


def _silent_worker(server: Server) -> None:
    """A worker that died ten minutes ago, in the server's own database (its SQLite file), as
    the app's model writes it: the server's worker finds it there on its next round."""
    database = Path(server.env["EMSYNC_DATA_DIR"]) / "emsync.db"
    engine = sa.create_engine(f"sqlite:///{database}", connect_args={"timeout": 30})
    gone = datetime.now(UTC) - timedelta(minutes=10)
    try:
        with Session(engine) as session, session.begin():
            session.add(
                IntakeWorker(
                    executor_id=SILENT,
                    host="ed-gone",
                    pid=4711,
                    started_at=gone - timedelta(hours=1),
                    heartbeat_at=gone,
                    runs_taken_over=0,
                    runs_in_flight=0,
                )
            )
    finally:
        engine.dispose()


def test_a_coordinator_sees_the_workers_and_a_silent_one_taken_over(
    server: Server, browser: Browser, api: httpx.Client, shots: Path
) -> None:
    for username, password, role in (
        (*COORDINATOR, "hospital_coordinator"),
        (
            *DISPATCHER,
            "dispatcher",
        ),
    ):
        ok(api.post("/api/users", json={"username": username, "password": password, "role": role}))
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    login(page, server.base, "/intake", COORDINATOR)

    # 1. From the board to the workers: this server's own worker beats.
    page.get_by_role("link", name="See the intake workers and agents").click()
    expect(page).to_have_url(re.compile(r"/intake/health$"))
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Intake health")
    workers = page.get_by_role("region", name="Intake workers")
    alive = workers.locator("tr[data-state='alive']")
    expect(alive).to_have_count(1)
    expect(alive.get_by_test_id("worker-state")).to_have_text("alive")
    expect(alive.get_by_test_id("worker-silent-for")).to_have_text(re.compile(r"^\d+ s ago$"))
    expect(page.get_by_test_id("workers-summary")).to_have_text("1 alive, 0 silent.")
    agents = page.get_by_role("region", name="Intake agents")
    expect(agents.locator("tr[data-agent='triage']")).to_contain_text("closed: calls go through")
    shot(page, shots, "01-workers-alive")

    # 2. A worker stops beating: the next poll shows it silent, with how long.
    _silent_worker(server)
    silent = workers.locator(f"tr[data-worker='{SILENT}']")
    expect(silent.get_by_test_id("worker-state")).to_have_text("silent", timeout=TIMEOUT_MS)
    expect(silent).to_have_attribute("data-state", "silent")
    expect(silent.get_by_test_id("worker-silent-for")).to_have_text(re.compile(r"^1\d min ago$"))
    expect(silent).to_contain_text("ed-gone · pid 4711")
    shot(page, shots, "02-worker-silent")

    # 3. The live worker takes over its runs (it had none left) on its next round, often before
    # the poll that first shows the silent row, and the view says by whom and when.
    own = ok(api.get("/api/intake/health/workers"))
    live_id = next(w["executor_id"] for w in own if w["alive"])
    expect(silent.get_by_test_id("worker-takeover")).to_contain_text(
        re.compile(rf"^taken over by {re.escape(live_id)} at .+ \(0 runs moved\)$"),
        timeout=TIMEOUT_MS,
    )
    expect(page.get_by_test_id("workers-summary")).to_have_text("1 alive, 1 silent.")
    shot(page, shots, "03-worker-taken-over")

    # 4. A dispatcher has no intake:read: no menu entry, and the address shows no data.
    other = browser.new_context(viewport={"width": 1280, "height": 700}).new_page()
    login(other, server.base, "/intake/health", DISPATCHER)
    expect(other.get_by_text("Your role cannot see the intake workers.")).to_be_visible()
    expect(other.get_by_role("navigation", name="Main")).not_to_contain_text("Intake health")
    expect(other.get_by_role("region", name="Intake workers")).to_have_count(0)
    shot(other, shots, "04-dispatcher-no-access")
