"""`emsync serve` over HTTPS for the single-machine case (EMSYNC_TLS_CERT / EMSYNC_TLS_KEY), and
`emsync health`, the containers' health check, following it."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.live_server import live_server
from tests.mosquitto import make_pki


def _health(data_dir: Path, port: str, env: dict[str, str]) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "emsync", "health"],
        env={
            **os.environ,
            "EMSYNC_ENV": "development",
            "EMSYNC_DATA_DIR": str(data_dir),
            "EMSYNC_PORT": port,
            **env,
        },
        capture_output=True,
        check=False,
    )
    return done.returncode


def test_serve_speaks_only_https_with_its_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    data = tmp_path / "data"
    data.mkdir()
    tls = {"EMSYNC_TLS_CERT": str(pki.server_cert), "EMSYNC_TLS_KEY": str(pki.server_key)}
    with live_server(data, extra_env=tls, tls_ca=pki.ca) as base:
        trusted = ssl.create_default_context(cafile=str(pki.ca))
        assert httpx.get(f"{base}/health", verify=trusted).json() == {"status": "ok"}
        with pytest.raises(httpx.ConnectError):  # not signed by a CA the client trusts
            httpx.get(f"{base}/health")
        with pytest.raises(httpx.HTTPError):  # no plain HTTP on the same port
            httpx.get(base.replace("https://", "http://") + "/health")
        port = base.rsplit(":", 1)[1]
        assert _health(data, port, tls) == 0
    assert _health(data, port, tls) == 1  # stopped: the check says so
