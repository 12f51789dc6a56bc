"""The README's settings table is generated from the Settings model; this keeps it current."""

from __future__ import annotations

from emsync.core.settings_doc import settings_table
from tests.shared_data import REPO_ROOT


def test_readme_lists_every_setting_as_the_code_defines_it() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    start = readme.index("<!-- settings:start -->") + len("<!-- settings:start -->")
    end = readme.index("<!-- settings:end -->")
    assert readme[start:end].strip() == settings_table(), (
        "README settings table is stale; regenerate it with "
        "`.venv/bin/python -c 'from emsync.core.settings_doc import settings_table; "
        "print(settings_table())'`"
    )
