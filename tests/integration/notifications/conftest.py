"""Local providers speaking the real protocols (one of each per module) and an app wired to
them: SMTP with STARTTLS and AUTH, a Twilio-compatible SMS API, a Web Push service that
decrypts, a Standard Webhooks receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from emsync.bootstrap import create_app
from emsync.core.settings import Settings
from emsync.notifications.sandbox import HttpSandbox, SmtpSandbox
from emsync.notifications.webpush import generate_vapid_private_key
from tests.conftest import make_settings
from tests.ports import free_port

SMTP_USER, SMTP_PASSWORD = "emsync", "smtp-sandbox-password"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[HttpSandbox]:
    box = HttpSandbox(free_port(), callbacks=False).start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpSandbox]:
    server = SmtpSandbox(
        free_port(), tmp_path_factory.mktemp("smtp"), username=SMTP_USER, password=SMTP_PASSWORD
    ).start()
    yield server
    server.stop()


def notify_settings(sandbox: HttpSandbox, smtp: SmtpSandbox, **extra: Any) -> dict[str, Any]:
    return {
        "poll_seconds": 3600,
        "wake_on_page": False,
        "public_url": "http://testserver",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_ca_file": str(smtp.cert),
        "smtp_username": SMTP_USER,
        "smtp_password": SMTP_PASSWORD,
        "sms_base_url": sandbox.base,
        "sms_account_sid": sandbox.state.account_sid,
        "sms_auth_token": sandbox.state.auth_token,
        "sms_from": "+15005550006",
        "vapid_private_key": generate_vapid_private_key(),
        "send_timeout_seconds": 2,
        "retry_base_seconds": 0,
        **extra,
    }


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, sandbox: HttpSandbox, smtp: SmtpSandbox
) -> Settings:
    return make_settings(
        database_url,
        tmp_path,
        notifications=notify_settings(sandbox, smtp),
        # The tests move the clock; a monitor silent meanwhile would raise alerts of its own.
        telemetry={"stale_after_seconds": 86400},
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
