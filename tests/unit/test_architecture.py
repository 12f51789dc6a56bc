"""DESIGN §2's dependency rule, checked on every module as domains grow: a domain never imports
another domain's models, service or api; it reacts to events or calls what the other exports."""

from __future__ import annotations

import ast
from pathlib import Path

import emsync

PACKAGE = Path(emsync.__file__).parent
DOMAINS = sorted(
    p.name
    for p in PACKAGE.iterdir()
    if p.is_dir() and (p / "__init__.py").exists() and p.name not in {"core", "migrations", "web"}
)
# A domain's use cases live in service.py, or in modules named for what they do once it is split.
INTERNAL = {"models", "service", "api"} | {
    "drafting",
    "export",
    "feed",
    "keys",
    "outbox",
    "reads",
    "transitions",
    "updates",
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_domains_do_not_reach_into_each_other() -> None:
    violations = []
    for domain in DOMAINS:
        for path in (PACKAGE / domain).rglob("*.py"):
            for module in imported_modules(path):
                parts = module.split(".")
                crosses = len(parts) >= 3 and parts[0] == "emsync" and parts[1] in DOMAINS
                if crosses and parts[1] != domain and parts[2] in INTERNAL:
                    violations.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert violations == []


def test_the_check_sees_every_domain() -> None:
    assert {"auth", "incidents", "telemetry", "triage", "routing"} <= set(DOMAINS)


def test_the_ingest_pipeline_imports_no_service_module() -> None:
    # The hot path depends on what it needs (the at-rest format, the alert lifecycle), not on
    # the module of use cases the API calls.
    imported = imported_modules(PACKAGE / "telemetry" / "pipeline.py")
    assert [m for m in imported if m.endswith(".service")] == []
    assert "emsync.telemetry.store" in imported
