"""A real EMsync (`emsync serve` subprocess, temp SQLite DB, embedded MQTT broker) and a real
headless Chromium (Debian's, driven by Playwright) for the dashboard's end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

# How long an `expect` waits for the page by default (a wait, not a timing check): Playwright's
# 5 s is too short when two test workers each drive a browser and a server on two cores.
expect.set_options(timeout=15_000)

CHROMIUM = Path(os.environ.get("EMSYNC_CHROMIUM", "/usr/bin/chromium"))
DIST = Path(__file__).resolve().parents[2] / "src" / "emsync" / "web" / "dist" / "index.html"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "e2e-screenshots"
ADMIN = ("admin", "e2e-admin-password-123")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
            deadline = time.monotonic() + 120
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
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client signed in as the admin (set-up and read-back; the walks use the UI)."""
    token = httpx.post(
        f"{server.base}/api/auth/token", data={"username": ADMIN[0], "password": ADMIN[1]}
    ).json()["access_token"]
    with httpx.Client(
        base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as c:
        yield c


@pytest.fixture(scope="module")
def screenshots() -> Path:
    # Only the files at the top: every other module keeps its own sub-folder, which the other
    # test worker may be filling at this moment (a whole-folder wipe lost the crew's shots).
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    return SCREENSHOTS
