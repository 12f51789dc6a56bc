"""axe-core in the e2e walks: every view is checked for serious and critical WCAG violations.

The engine is axe-core itself (web/node_modules, a devDependency of the dashboard: the one that
`@axe-core/playwright` wraps for Node). It is evaluated through the DevTools protocol, which the
dashboard's Content-Security-Policy does not govern, so the page runs under its real policy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_JS = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = frozenset({"serious", "critical"})
# WCAG 2.1 A and AA, and axe's best practices that are not advisory only.
RUN_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def _inject(page: Page) -> None:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;undefined")


def blocking_violations(page: Page) -> list[dict[str, Any]]:
    """The serious and critical violations on the page as it is now, each with its nodes."""
    _inject(page)
    result: dict[str, Any] = page.evaluate(
        "async (options) => await window.axe.run(document, options)", RUN_OPTIONS
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v.get("impact") in BLOCKING
    ]


def assert_accessible(page: Page, view: str) -> None:
    found = blocking_violations(page)
    assert not found, f"{view}: serious/critical axe violations:\n{json.dumps(found, indent=1)}"
