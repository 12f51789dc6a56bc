"""Code shape (DESIGN, STYLE): no source file over 600 lines and no function over 80, outside
migrations, so that a room stays small enough to read and a function fits on a screen."""

from __future__ import annotations

import ast
from pathlib import Path

import emsync

PACKAGE = Path(emsync.__file__).parent
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 80


def sources() -> list[Path]:
    return sorted(
        p for p in PACKAGE.rglob("*.py") if "migrations" not in p.relative_to(PACKAGE).parts
    )


def test_no_source_file_is_over_600_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in sources()
        if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES
    }
    assert long == {}


def test_no_function_is_over_80_lines() -> None:
    long = {}
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"] = lines
    assert long == {}


def test_the_check_reads_the_whole_package() -> None:
    # A walk that found nothing would pass the two checks above whatever the code looks like.
    found = {str(p.relative_to(PACKAGE)) for p in sources()}
    assert {"bootstrap.py", "core/settings.py", "handoffs/reads.py"} <= found
    assert not any(name.startswith("migrations/") for name in found)
