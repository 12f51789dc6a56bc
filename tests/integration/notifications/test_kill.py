"""Crash safety with real processes: a worker (`emsync serve --role worker`) is killed with
SIGKILL in the middle of delivering to the local SMTP and SMS servers, then started again.
Every notification arrives, and none is repeated: the SMS provider sees the repeated request's
idempotency key and creates nothing new; a repeated e-mail carries the same Message-ID."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from emsync.bootstrap import build_runtime
from emsync.core.runtime import Runtime
from emsync.core.uow import UnitOfWork
from emsync.notifications import ChannelKind, Recipient, enqueue
from emsync.notifications.models import Attempt, Notification
from emsync.notifications.sandbox import HttpSandbox, SmtpSandbox
from emsync.notifications.smtp import message_id
from tests.conftest import TEST_MASTER_KEYS, TEST_SECRET, make_settings
from tests.integration.notifications.conftest import SMTP_PASSWORD, SMTP_USER
from tests.ports import free_port

pytestmark = pytest.mark.slow
COUNT = 60  # per channel


def _env(
    database_url: str, data_dir: Path, sandbox: HttpSandbox, smtp: SmtpSandbox
) -> dict[str, str]:
    return {
        **os.environ,
        "EMSYNC_ENV": "test",
        "EMSYNC_DATA_DIR": str(data_dir),
        "EMSYNC_DATABASE__URL": database_url,
        "EMSYNC_AUTH__SECRET_KEY": TEST_SECRET,
        "EMSYNC_SECURITY__MASTER_KEYS": TEST_MASTER_KEYS,
        "EMSYNC_LOG_LEVEL": "WARNING",
        "EMSYNC_NOTIFICATIONS__POLL_SECONDS": "0.2",
        "EMSYNC_NOTIFICATIONS__BATCH_SIZE": "5",
        "EMSYNC_NOTIFICATIONS__CONCURRENCY": "2",
        "EMSYNC_NOTIFICATIONS__LEASE_SECONDS": "3",
        "EMSYNC_NOTIFICATIONS__SMTP_HOST": "127.0.0.1",
        "EMSYNC_NOTIFICATIONS__SMTP_PORT": str(smtp.port),
        "EMSYNC_NOTIFICATIONS__SMTP_CA_FILE": str(smtp.cert),
        "EMSYNC_NOTIFICATIONS__SMTP_USERNAME": SMTP_USER,
        "EMSYNC_NOTIFICATIONS__SMTP_PASSWORD": SMTP_PASSWORD,
        "EMSYNC_NOTIFICATIONS__SMS_BASE_URL": sandbox.base,
        "EMSYNC_NOTIFICATIONS__SMS_ACCOUNT_SID": sandbox.state.account_sid,
        "EMSYNC_NOTIFICATIONS__SMS_AUTH_TOKEN": sandbox.state.auth_token,
        "EMSYNC_NOTIFICATIONS__SMS_FROM": "+15005550006",
    }


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "emsync",
                "serve",
                "--role",
                "worker",
                "--no-migrate",
                "--port",
                str(free_port()),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


async def _wait(
    condition: Callable[[], Awaitable[bool]], what: str, proc: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + 90
    while not await condition():
        if proc.poll() is not None:
            pytest.fail(f"worker exited: {_tail(log)}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}: {_tail(log)}")
        await asyncio.sleep(0.1)


async def _seed(runtime: Runtime, tag: str) -> list[str]:
    async with runtime.sessions() as session:
        uow = UnitOfWork(session, runtime.bus)
        recipients = [Recipient.at(ChannelKind.SMS, f"+3584055{i:05d}") for i in range(COUNT)]
        recipients += [
            Recipient.at(ChannelKind.EMAIL, f"ward{i}@example.org") for i in range(COUNT)
        ]
        ids = await enqueue(
            uow=uow,
            keyring=runtime.keyring,
            template="notice",
            recipients=recipients,
            data={"title": "Bed ready", "body": "Your bed is ready"},
            idempotency_key=f"kill:{tag}",
            now=runtime.clock(),
        )
        await uow.commit()
    return ids


async def _state(runtime: Runtime) -> tuple[Counter[str], int, list[str]]:
    async with runtime.read_sessions() as session:
        rows = await session.execute(
            select(Notification.status, func.count()).group_by(Notification.status)
        )
        statuses = Counter({str(s): int(n) for s, n in rows.all()})
        interrupted = await session.scalar(
            select(func.count()).select_from(Attempt).where(Attempt.outcome == "interrupted")
        )
        keys = list(
            await session.scalars(
                select(Notification.idempotency_key).where(Notification.channel == "email")
            )
        )
    return statuses, int(interrupted or 0), keys


async def test_sigkill_mid_delivery_loses_nothing_and_repeats_nothing(
    database_url: str, tmp_path: Path, sandbox: HttpSandbox, smtp: SmtpSandbox
) -> None:
    runtime = build_runtime(make_settings(database_url, tmp_path))
    try:
        await _kill_and_restart(runtime, database_url, tmp_path, sandbox, smtp)
    finally:
        await runtime.engine.dispose()


async def _kill_and_restart(
    runtime: Runtime, database_url: str, tmp_path: Path, sandbox: HttpSandbox, smtp: SmtpSandbox
) -> None:
    ids = await _seed(runtime, tmp_path.name)
    assert len(ids) == 2 * COUNT
    env = _env(database_url, tmp_path, sandbox, smtp)
    log = tmp_path / "worker.log"
    sms_before, mail_before = len(sandbox.state.sms), len(smtp.box.messages)

    def arrived() -> int:
        return len(sandbox.state.sms) - sms_before + len(smtp.box.messages) - mail_before

    async def some() -> bool:
        return arrived() >= 25

    first = _worker(env, log)
    await _wait(some, "first deliveries", first, log)
    first.kill()  # SIGKILL: no shutdown; claimed rows stay "sending" under their lease
    first.wait(timeout=10)
    assert arrived() < 2 * COUNT, "the kill came after everything was sent"

    async def all_sent() -> bool:
        statuses, _, _ = await _state(runtime)
        return statuses["sent"] + statuses["delivered"] == 2 * COUNT

    second = _worker(env, log)
    try:
        await _wait(all_sent, "every notification to be sent", second, log)
    finally:
        second.terminate()
        second.wait(timeout=15)

    statuses, interrupted, email_keys = await _state(runtime)
    assert set(statuses) <= {"sent", "delivered"}, statuses
    sms = sandbox.state.sms[sms_before:]
    assert len(sms) == COUNT  # the provider created each message exactly once
    assert len({m.to for m in sms}) == COUNT
    expected_ids = {message_id(k) for k in email_keys}
    received = Counter(str(m["Message-ID"]) for m in smtp.box.messages[mail_before:])
    assert set(received) == expected_ids  # none lost
    # An e-mail in flight at the kill may arrive twice, always with its one Message-ID, which
    # mail systems deduplicate; never more copies than sends the kill interrupted.
    assert sum(received.values()) - len(expected_ids) <= interrupted
