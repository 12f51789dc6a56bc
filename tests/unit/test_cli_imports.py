"""`emsync` start-up imports only what the invoked command needs.

Importing every domain's CLI up front made `emsync --help`, `emsync users ...` and
`emsync simulate` (run next to `make run`) load xgboost, scikit-learn, scipy and the road graph
first: about 20 s on a loaded machine. The domains' commands are stand-ins until invoked; these
tests check the modules a fresh interpreter has loaded after a command's `--help`, that the
stand-ins show their command's help, and that deferred commands run through the root app.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.core import TyperGroup
from typer.testing import CliRunner

from emsync import cli
from emsync.triage import cli as triage_cli
from emsync.triage import registry

# Top-level modules no `--help` below may import: the models, maps, server and database stacks.
HEAVY = (
    "xgboost",
    "sklearn",
    "scipy",
    "pandas",
    "matplotlib",
    "pyrosm",
    "routingkit_cch",
    "uvicorn",
    "fastapi",
    "sqlalchemy",
    "alembic",
    "amqtt",
    "paho",
    "httpx",
    "numpy",
)

# Runs `emsync ARGS...` in a fresh interpreter, then prints its exit code, output and the HEAVY
# modules it loaded as JSON.
PROBE = """
import contextlib, io, json, sys
from emsync.cli import app
heavy = sys.argv[1].split(",")
out = io.StringIO()
code = 0
with contextlib.redirect_stdout(out):
    try:
        app(sys.argv[2:], prog_name="emsync")
    except SystemExit as exit:
        code = exit.code
loaded = sorted(h for h in heavy if any(m == h or m.startswith(h + ".") for m in sys.modules))
print(json.dumps({"code": code, "output": out.getvalue(), "loaded": loaded}))
"""


def test_the_heavy_modules_are_installed() -> None:
    """Else the import checks below would pass for a module that cannot be imported at all."""
    assert [name for name in HEAVY if importlib.util.find_spec(name) is None] == []


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        ([], ()),
        (["simulate"], ()),
        (["keys"], ()),
        (["keys", "rewrap"], ()),
        (["users"], ()),
        (["users", "create"], ()),
        (["db"], ()),
        (["audit"], ()),
        (["serve"], ()),
        (["triage"], ("numpy",)),  # --mode's enum lives in triage.features, which uses numpy
        (["triage", "evaluate"], ("numpy",)),
        (["risk", "train"], ("numpy",)),
        (["registry"], ()),
        (["registry", "match-eval"], ()),
        (["events", "dead-letters", "list"], ()),
    ],
    ids=lambda value: " ".join(value) or "-",
)
def test_help_imports_no_heavy_module(args: list[str], allowed: tuple[str, ...]) -> None:
    heavy = [name for name in HEAVY if name not in allowed]
    run = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(heavy), *args, "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.splitlines()[-1])
    assert result["code"] == 0
    assert f"Usage: emsync {' '.join(args)}".rstrip() in " ".join(result["output"].split())
    assert result["loaded"] == []


def test_stand_ins_show_their_commands_help() -> None:
    root = typer.main.get_group(cli.app)
    assert set(cli._DEFERRED) == {
        "artefacts",
        "demo",
        "dispatch",
        "keys",
        "map",
        "triage",
        "risk",
        "simulate",
        "notify",
        "registry",
        "backup",
        "events",
    }
    for name in cli._DEFERRED:
        stand_in, real = root.commands[name], cli.deferred_command(name)
        assert real is not stand_in
        for attribute in ("name", "help", "short_help", "epilog", "hidden", "deprecated"):
            assert getattr(stand_in, attribute) == getattr(real, attribute), (name, attribute)
        assert getattr(stand_in, "rich_help_panel", None) == getattr(real, "rich_help_panel", None)
        # the real thing: a group with its sub-commands, or a command with its options
        assert real.commands if isinstance(real, TyperGroup) else real.params, name


def test_deferred_commands_run_through_the_root_app(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(cli.app, ["map", "info", "--cache-dir", str(tmp_path)])
    assert listed.exit_code == 1
    assert "no compiled maps in" in listed.output

    key_file = tmp_path / "master.key"
    created = runner.invoke(cli.app, ["keys", "create", "--file", str(key_file)])
    assert created.exit_code == 0, created.output
    assert key_file.stat().st_mode & 0o777 == 0o600

    again = runner.invoke(cli.app, ["keys", "create", "--file", str(key_file)])
    assert again.exit_code == 1

    help_text = runner.invoke(cli.app, ["triage", "evaluate", "--help"])
    assert help_text.exit_code == 0
    assert "--models" in help_text.output


def test_a_mistyped_command_is_still_suggested() -> None:
    result = CliRunner().invoke(cli.app, ["mapp"])
    assert result.exit_code == 2
    assert "Did you mean 'map'?" in result.output


def test_triage_cli_default_folder_is_the_registry_s() -> None:
    assert triage_cli.ARTIFACTS == registry.ARTIFACTS
