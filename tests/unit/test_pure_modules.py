"""The pure core stays pure: every module in the import contract "pure modules import no I/O"
(pyproject.toml) imports no database, web framework, MQTT or HTTP client, nor EMsync's database
layer, directly or through any module it imports."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

import grimp
import pytest

import emsync

ROOT = Path(emsync.__file__).parents[2]
IO = ("sqlalchemy", "fastapi", "paho", "httpx", "emsync.core.db")
CONTRACT = "pure modules import no I/O"


def listed_pure_modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c["name"] == CONTRACT]
    return list(contract["source_modules"])


@cache
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("emsync", include_external_packages=True, cache_dir=None)


def io_imports(module: str) -> list[str]:
    """The I/O modules `module` reaches, each with the chain of imports that reaches it."""
    found = []
    for target in IO:
        if target not in graph().modules:
            continue
        chain = graph().find_shortest_chain(importer=module, imported=target)
        if chain is not None:
            found.append(" -> ".join(chain))
    return found


def test_the_contract_lists_the_pure_core_of_every_computing_domain() -> None:
    listed = listed_pure_modules()
    assert len(listed) >= 36
    domains = {m.split(".")[1] for m in listed}
    expected = {"auth", "dispatch", "emergency", "handoffs", "hospitals", "incidents"}
    assert domains >= expected | {"notifications", "routing", "telemetry", "triage"}


@pytest.mark.parametrize("module", listed_pure_modules())
def test_a_pure_module_imports_no_io(module: str) -> None:
    assert module in graph().modules, f"{module} is listed as pure but does not exist"
    assert io_imports(module) == []


def test_the_check_sees_io_through_other_modules() -> None:
    # A service reaches the database; the check must say so, with the chain.
    chains = io_imports("emsync.telemetry.service")
    assert any(chain.endswith("sqlalchemy") for chain in chains)
    assert any(chain.endswith("emsync.core.db") for chain in chains)
