"""Where the shared development data lives (../shared/data beside the checkout)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """The shared data folder; under CI=true its absence fails the test instead of skipping it."""
    root = Path(os.environ.get("EMSYNC_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
    if not root.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"shared data folder {root} is missing")
        pytest.skip(f"shared data folder {root} is missing")
    return root
