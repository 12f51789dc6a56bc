"""Deployment tests: the container stack is selected only under `make deploy-test`."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The container stack runs under `make deploy-test` only (it builds images and takes
    minutes): elsewhere its tests are deselected rather than reported as skipped."""
    if os.environ.get("EMSYNC_DEPLOY_TEST") == "1":
        return
    stack = [item for item in items if item.nodeid.startswith("tests/deploy/test_stack.py")]
    if stack:
        config.hook.pytest_deselected(items=stack)
        items[:] = [item for item in items if item not in stack]
