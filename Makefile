# EMsync: two commands on a fresh machine.
#   make run   install, migrate, create the first admin, serve on 127.0.0.1:8000 (EMSYNC_PORT)
#   make test  install with test tools, then format check, lint, types, import rules, all tests
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9

.PHONY: run test install install-dev lint types test-only lock web bench clean

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.run-installed: $(BIN)/uv requirements/run.lock pyproject.toml setup.py
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements/run.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.run-installed requirements/dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements/dev.lock
	touch $@

install: $(VENV)/.run-installed
install-dev: $(VENV)/.dev-installed

run: install
	$(BIN)/emsync serve

lint: install-dev
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

types: install-dev
	$(BIN)/mypy

test-only: install-dev
	$(BIN)/pytest

test: lint types test-only

# Regenerate the pinned lock files after changing dependencies in pyproject.toml.
lock: $(BIN)/uv
	$(BIN)/uv pip compile --quiet --python-version 3.11 pyproject.toml -o requirements/run.lock
	$(BIN)/uv pip compile --quiet --python-version 3.11 pyproject.toml --extra dev -o requirements/dev.lock

clean:
	rm -rf $(VENV) build src/*.egg-info
