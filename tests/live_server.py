"""Run `emsync serve` as a real subprocess on a free loopback port, as a user would."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.ports import free_port

ADMIN_USER = "admin"
ADMIN_PASSWORD = "live-server-admin-password"
# How long a test's own HTTP call to a real server may wait for its answer. httpx's default is
# 5 s; on a loaded two-core CI machine a fresh process's first request or a password hash has
# taken longer (a handoff update after a restart timed out in CI). A wait until answered, not a
# timing check: tests assert what comes back, never how fast.
HTTP_TIMEOUT_S = 60.0


@contextmanager
def live_server(
    data_dir: Path,
    *,
    extra_env: dict[str, str] | None = None,
    timeout: float = 180,  # start-up is imports and migrations: minutes on a loaded machine
    tls_ca: Path | None = None,
) -> Iterator[str]:
    """`emsync serve` on a free port; with `tls_ca`, over HTTPS (EMSYNC_TLS_CERT in
    `extra_env`), its certificate checked against that CA."""
    with live_process(data_dir, extra_env=extra_env, timeout=timeout, tls_ca=tls_ca) as (base, _):
        yield base


@contextmanager
def live_process(
    data_dir: Path,
    *,
    extra_env: dict[str, str] | None = None,
    timeout: float = 180,
    tls_ca: Path | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`live_server`, also yielding the server's process (benchmarks read its CPU time)."""
    verify: ssl.SSLContext | bool = (
        ssl.create_default_context(cafile=str(tls_ca)) if tls_ca else True
    )
    deadline = time.monotonic() + timeout
    # free_port's port is outside the kernel's ephemeral range, so no outgoing connection can
    # take it; a listener of another program asking for that very number still could before
    # the server binds it. Such a start is retried on a new port.
    for attempt in range(1, PORT_TRIES + 1):
        port = free_port()
        base = f"{'https' if tls_ca else 'http'}://127.0.0.1:{port}"
        env = {
            **os.environ,
            "EMSYNC_ENV": "development",
            "EMSYNC_DATA_DIR": str(data_dir),
            "EMSYNC_PORT": str(port),
            "EMSYNC_ADMIN_USERNAME": ADMIN_USER,
            "EMSYNC_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "EMSYNC_LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        log = (data_dir / "server.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "emsync", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            ready = _wait_ready(proc, base, verify, deadline, data_dir / "server.log", port)
            if not ready and attempt < PORT_TRIES:
                continue
            if not ready:
                raise RuntimeError(f"port {port} taken on every try")
            yield base, proc
            return
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


PORT_TRIES = 3


def _wait_ready(
    proc: subprocess.Popen[bytes],
    base: str,
    verify: ssl.SSLContext | bool,
    deadline: float,
    log_path: Path,
    port: int,
) -> bool:
    """True once the server answers ready; False if it exited because its port was taken."""
    while True:
        if proc.poll() is not None:
            text = log_path.read_text()
            if "address already in use" in text and f"'127.0.0.1', {port})" in text:
                return False
            raise RuntimeError(f"emsync serve exited: {text}")
        try:
            if httpx.get(f"{base}/health/ready", timeout=1, verify=verify).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("emsync serve did not become ready in time")
        time.sleep(0.2)


def admin_token(base: str) -> str:
    response = httpx.post(
        f"{base}/api/auth/token",
        data={"username": ADMIN_USER, "password": ADMIN_PASSWORD},
        timeout=120,  # password hashing takes seconds on a loaded machine
    )
    response.raise_for_status()
    return str(response.json()["access_token"])
