"""`emsync simulate --provision` finds the API on EMSYNC_PORT and, when nothing answers there,
says so in one line instead of a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import typer
from typer.testing import CliRunner

from emsync.telemetry.cli import simulate

_app = typer.Typer()
_app.command()(simulate)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens


def test_provision_uses_emsync_port_and_fails_in_one_line(tmp_path: Path) -> None:
    port = _closed_port()
    result = CliRunner().invoke(
        _app,
        ["--provision", "--password", "x", "--devices", str(tmp_path / "d.json")],
        env={"EMSYNC_ENV": "development", "EMSYNC_PORT": str(port)},
    )
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert f"http://127.0.0.1:{port}" in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "d.json").exists()
