"""A real EMsync (`emsync serve` subprocess, temp SQLite DB, embedded MQTT broker) and a real
headless Chromium (Debian's, driven by Playwright) for the dashboard's end-to-end tests."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pluggy
import pytest
from playwright.sync_api import Page, expect

from tests.live_server import HTTP_TIMEOUT_S as HTTP_TIMEOUT_S  # the e2e modules take it here
from tests.ports import free_port

# How long an `expect` waits for the page by default (a wait, not a timing check): Playwright's
# 5 s is too short when two test workers each drive a browser and a server on two cores.
expect.set_options(timeout=15_000)

CHROMIUM = Path(os.environ.get("EMSYNC_CHROMIUM", "/usr/bin/chromium"))
DIST = Path(__file__).resolve().parents[2] / "src" / "emsync" / "web" / "dist" / "index.html"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "e2e-screenshots"
FAILURES = Path(__file__).resolve().parents[2] / "var" / "e2e-failures"
ADMIN = ("admin", "e2e-admin-password-123")


@dataclass(frozen=True)
class Server:
    base: str
    mqtt_port: int
    env: dict[str, str]


def _require(path: Path, what: str) -> None:
    if not path.exists():
        # `make test` builds the dashboard and installs Chromium first; under CI nothing skips.
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} missing: {path}")
        pytest.skip(f"{what} missing ({path}); run `make test`")


@contextmanager
def start_server(data_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    """`emsync serve` (all roles, SQLite, embedded MQTT) on a free port; `extra_env` may name
    the port (EMSYNC_PORT) when the caller needs the address before the start."""
    _require(DIST, "built dashboard")
    extra = dict(extra_env or {})
    port = int(extra.pop("EMSYNC_PORT", 0)) or free_port()
    mqtt_port = free_port()
    env = {
        **os.environ,
        "EMSYNC_ENV": "development",
        "EMSYNC_DATA_DIR": str(data_dir),
        "EMSYNC_PORT": str(port),
        "EMSYNC_ADMIN_USERNAME": ADMIN[0],
        "EMSYNC_ADMIN_PASSWORD": ADMIN[1],
        "EMSYNC_MQTT__PORT": str(mqtt_port),
        "EMSYNC_LOG_LEVEL": "WARNING",
        **extra,
    }
    env.pop("EMSYNC_DATABASE__URL", None)
    env.pop("EMSYNC_MQTT__HOST", None)
    log_path = data_dir / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "emsync", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        base = f"http://127.0.0.1:{port}"
        try:
            # A wait, not a timing check: importing the app alone takes ~12 s of CPU, and with
            # two workers on two cores beside other load a start has been seen to need well over
            # 120 s of wall time (every test of the module then errored at set-up).
            deadline = time.monotonic() + 300
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"emsync serve exited:\n{log_path.read_text()[-4000:]}")
                try:
                    if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"emsync serve not ready:\n{log_path.read_text()[-4000:]}")
                time.sleep(0.25)
            yield Server(base=base, mqtt_port=mqtt_port, env=env)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    """A failed walk leaves what each open page showed: its address, its text and a screenshot
    (var/e2e-failures/), and the page's console errors, so an intermittent failure can be read
    afterwards instead of rerun."""
    outcome = yield
    report = outcome.get_result()
    browser = getattr(item, "funcargs", {}).get("browser")
    if report.when != "call" or not report.failed or browser is None:
        return
    FAILURES.mkdir(parents=True, exist_ok=True)
    lines = []
    for c, context in enumerate(browser.contexts):
        for n, page in enumerate(context.pages):
            shot = FAILURES / f"{item.name}-{c}-{n}.png"
            try:
                page.screenshot(path=str(shot), full_page=True)
                text = page.evaluate("() => document.body.innerText.slice(0, 1500)")
            except Exception as exc:  # noqa: BLE001 - a report, never a second failure
                text = f"(page unreadable: {exc})"
            errors = getattr(page, "_emsync_console", [])
            lines.append(f"page {c}.{n} {page.url} -> {shot}\n{text}\nconsole: {errors[-20:]}")
    report.sections.append(("open pages", "\n\n".join(lines)))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with start_server(tmp_path_factory.mktemp("emsync-e2e")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    _require(CHROMIUM, "Chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # Playwright's 30 s launch wait is short on a loaded machine (a wait, not a check).
            timeout=120_000,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        # Every page keeps its console errors and uncaught exceptions for the failure report.
        new_context = b.new_context

        def recording_context(*args: Any, **kwargs: Any) -> Any:
            context = new_context(*args, **kwargs)

            def watch(page: Any) -> None:
                page._emsync_console = []
                page.on("pageerror", lambda exc: page._emsync_console.append(f"error: {exc}"))
                page.on(
                    "console",
                    lambda m: (
                        m.type in ("error", "warning")
                        and page._emsync_console.append(f"{m.type}: {m.text}")
                    ),
                )

            context.on("page", watch)
            return context

        b.new_context = recording_context  # type: ignore[method-assign]
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client signed in as the admin (set-up and read-back; the walks use the UI)."""
    token = httpx.post(
        f"{server.base}/api/auth/token",
        data={"username": ADMIN[0], "password": ADMIN[1]},
        timeout=HTTP_TIMEOUT_S,
    ).json()["access_token"]
    with httpx.Client(
        base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as c:
        yield c


def ok(response: httpx.Response) -> Any:
    """A set-up call's JSON; a failed one stops the test with the server's answer."""
    assert response.is_success, f"{response.request.url}: {response.status_code} {response.text}"
    return response.json()


def login(page: Page, base: str, path: str, user: tuple[str, str]) -> None:
    """Open `path` (a deep link: the SPA shows the login first), sign in, wait for the live link."""
    page.goto(f"{base}{path}")
    page.get_by_label("Username").fill(user[0])
    page.get_by_label("Password").fill(user[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("connection")).to_have_text(re.compile("Live"), timeout=60_000)


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def shots(request: pytest.FixtureRequest) -> Path:
    """The module's own screenshot folder, emptied: var/e2e-screenshots/<module name without
    `test_`, with hyphens>/ (test_call_to_bed -> call-to-bed). Only this module writes there,
    so emptying it cannot lose the pictures another test worker is taking."""
    module: str = request.module.__name__
    name = module.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    folder = SCREENSHOTS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="module")
def screenshots() -> Path:
    # Only the files at the top: every other module keeps its own sub-folder, which the other
    # test worker may be filling at this moment (a whole-folder wipe lost the crew's shots).
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    return SCREENSHOTS
